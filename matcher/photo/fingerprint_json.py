"""A ``Fingerprint`` as plain JSON and back, so the signals a crawler node computed reach the review
machine without it decoding the photo again.

The conversion is generic: it walks the dataclass's fields by their type hints, so a signal added to
``Fingerprint`` (or to ``Features``) travels with the others without a change here or in the batch
ingest. Supported field types: ``str``, ``int``, ``float``, ``bool``, ``None``, ``bytes`` (base64),
``numpy.ndarray`` (dtype, shape, base64 of the raw bytes, so nothing is rounded), ``dict``, ``list``,
``tuple`` and nested dataclasses. Reading is driven by the target type, never by the data, so a hostile
batch cannot make it build anything but a ``Fingerprint``; a value of the wrong shape raises
``SignalsError`` naming the field.

Example::

    data = to_json(fingerprint(photo_bytes))      # on the crawler node
    fp = from_json(data)                          # on the review machine; fp == the node's fingerprint
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import types
import typing
from functools import cache
from typing import Any

import numpy as np

from .fingerprint import Fingerprint

__all__ = ["to_json", "from_json", "SignalsError", "MAX_ARRAY_BYTES"]

MAX_ARRAY_BYTES = 16 * 1024 * 1024  # one array or byte string in a batch row; larger is refused


class SignalsError(ValueError):
    """A serialised fingerprint that does not have the shape of a ``Fingerprint``."""


def to_json(fp: Fingerprint) -> dict[str, Any]:
    """``fp`` as a JSON-serialisable dict (one key per dataclass field)."""
    return _dump(fp)


def from_json(data: Any) -> Fingerprint:
    """The ``Fingerprint`` that ``to_json`` made ``data`` from.

    :raises SignalsError: ``data`` lacks a field, has one of the wrong type, or an array over
        ``MAX_ARRAY_BYTES``.
    """
    return _load(Fingerprint, data, "signals")


def _dump(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _dump(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, np.ndarray):
        return {
            "dtype": value.dtype.str,
            "shape": list(value.shape),
            "b64": base64.b64encode(np.ascontiguousarray(value).tobytes()).decode("ascii"),
        }
    if isinstance(value, bytes | bytearray):
        return {"b64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        return {str(k): _dump(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_dump(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _load(kind: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(kind)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in (o for o in options if o is not type(None)):
            try:
                return _load(option, value, where)
            except SignalsError as exc:
                errors.append(str(exc))
        raise SignalsError(errors[0] if errors else f"{where}: not allowed to be null")
    if dataclasses.is_dataclass(kind):
        return _load_dataclass(kind, value, where)
    if kind is np.ndarray:
        return _array(value, where)
    if kind is bytes:
        return _bytes(value, where)
    if origin is dict or kind is dict:
        if not isinstance(value, dict):
            raise SignalsError(f"{where}: expected an object")
        args = typing.get_args(kind) or (str, Any)
        return {str(k): _load(args[1], v, f"{where}.{k}") for k, v in value.items()}
    if origin in (list, tuple) or kind in (list, tuple):
        return _sequence(kind, value, where)
    return _scalar(kind, value, where)


def _sequence(kind: Any, value: Any, where: str) -> list | tuple:
    if not isinstance(value, list):
        raise SignalsError(f"{where}: expected a list")
    origin = typing.get_origin(kind) or kind
    args = typing.get_args(kind)
    if origin is tuple and args and args[-1] is not Ellipsis:
        if len(args) != len(value):
            raise SignalsError(f"{where}: expected {len(args)} values, got {len(value)}")
        return tuple(_load(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True)))
    inner = args[0] if args else Any
    out = [_load(inner, v, f"{where}[{i}]") for i, v in enumerate(value)]
    return tuple(out) if origin is tuple else out


def _load_dataclass(kind: Any, value: Any, where: str) -> Any:
    if not isinstance(value, dict):
        raise SignalsError(f"{where}: expected an object")
    hints = _hints(kind)
    args = {}
    for f in dataclasses.fields(kind):
        if f.name in value:
            args[f.name] = _load(hints[f.name], value[f.name], f"{where}.{f.name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise SignalsError(f"{where}: no {f.name}")
    return kind(**args)


def _scalar(kind: Any, value: Any, where: str) -> Any:
    if kind is Any:
        return value
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, bool):
        raise SignalsError(f"{where}: expected a whole number, got true/false")
    if kind in (str, int, bool) and isinstance(value, kind):
        return value
    raise SignalsError(f"{where}: expected {getattr(kind, '__name__', kind)}, got {type(value).__name__}")


def _b64(text: Any, where: str) -> bytes:
    if not isinstance(text, str) or len(text) > MAX_ARRAY_BYTES * 4 // 3 + 4:
        raise SignalsError(f"{where}: expected base64 of at most {MAX_ARRAY_BYTES:,} bytes")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignalsError(f"{where}: not base64 ({exc})") from exc


def _bytes(value: Any, where: str) -> bytes:
    if not isinstance(value, dict):
        raise SignalsError(f"{where}: expected {{'b64': ...}}")
    return _b64(value.get("b64"), where)


def _array(value: Any, where: str) -> np.ndarray:
    if not isinstance(value, dict):
        raise SignalsError(f"{where}: expected {{'dtype', 'shape', 'b64'}}")
    try:
        dtype = np.dtype(str(value.get("dtype")))
    except TypeError as exc:
        raise SignalsError(f"{where}: unknown dtype {value.get('dtype')!r}") from exc
    if dtype.hasobject or dtype.kind not in "biuf":
        raise SignalsError(f"{where}: dtype {dtype} is not a plain number type")
    shape = value.get("shape")
    if not isinstance(shape, list) or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise SignalsError(f"{where}: shape must be a list of whole numbers")
    raw = _b64(value.get("b64"), where)
    if len(raw) != int(np.prod(shape, dtype=np.int64)) * dtype.itemsize:
        raise SignalsError(f"{where}: {len(raw)} bytes do not make an array of shape {shape} and {dtype}")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
