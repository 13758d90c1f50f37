"""Stream the records of a JSON or JSONL registry file.

JSON is parsed with ijson's event parser (``basic_parse``, the yajl2 C backend where it is installed),
so a file of any number of records is read in flat memory. Records are built from the events here, with a
nesting cap: ijson's own ``items`` builds a path string per level, which a file nested 100,000 deep turns
into gigabytes. Records come out as ``(label, record, error)``: ``record`` is the raw dict, or None with
``error`` saying why that record was refused. Whole-file problems raise ``JsonFileError``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .tabular import LineReader, LineTooLong, detect_encoding, open_text

__all__ = ["JsonFileError", "JsonTable", "JsonlTable", "MAX_DEPTH"]

MAX_DEPTH = 32  # no registry record nests this deep; deeper is a hostile or broken file
# yajl re-reads a token that spans reads from its start at every read, so a huge string costs
# (length / read size) passes over it: reads of 4 MB, and no stretch of more than 64 MB without a quote
# (a string or number that long refuses the file; up to there a long field refuses only its record).
READ_SIZE = 4 * 1024 * 1024
MAX_RECORD_CHARS = 16_000_000  # text kept of one record: past it the record is refused, the file read on
MAX_TOKEN_BYTES = 64 * 1024 * 1024
RECORD_KEYS = ("records", "items")

Row = tuple[str, dict[str, Any] | None, str | None]


class JsonFileError(ValueError):
    """The JSON file as a whole cannot be read; the message says why (without the path)."""


class JsonTable:
    """A ``.json`` file: a list of records, or an object holding one under ``records`` or ``items``.

    Opening runs one streaming pass over the whole file, so a syntax error, a wrong shape or excessive
    nesting anywhere raises JsonFileError before any record is handed out (a streamed document cannot
    resume after an error, and a half-imported file is worse than a refused one).
    """

    def __init__(self, path: Path, max_field: int):
        self.path, self.max_field = path, max_field
        self.encoding = detect_encoding(path)
        self.count = sum(1 for _ in self.rows())

    def rows(self) -> Iterator[Row]:
        """``("record N", dict, None)`` per record; non-objects are refused as ``(label, None, reason)``."""
        import ijson  # only for JSON files

        with open(self.path, "rb") as raw:
            stream = _QuoteGapGuard(_utf8_stream(raw, self.encoding))
            events = ijson.basic_parse(stream, use_float=True, buf_size=READ_SIZE)
            n = 0
            try:
                for value in _records(events, self.max_field):
                    n += 1
                    if isinstance(value, _Refused):
                        yield f"record {n}", None, value.why
                    elif isinstance(value, dict):
                        yield f"record {n}", value, None
                    else:
                        yield f"record {n}", None, f"not an object but {_kind(value)}"
            except ijson.JSONError as exc:
                where = f" after record {n}" if n else ""
                raise JsonFileError(f"not JSON{where} ({_first_line(exc)})") from None


class JsonlTable:
    """A ``.jsonl`` file: one JSON object a line; a malformed or over-long line is that line's error."""

    def __init__(self, path: Path):
        self.path = path
        self.encoding = detect_encoding(path)

    def rows(self) -> Iterator[Row]:
        """``("line N", dict, None)`` per non-blank line, or ``("line N", None, reason)``."""
        with open(self.path, "rb") as raw, open_text(raw, self.encoding) as text:
            lines = LineReader(text)
            n = 0
            while True:
                n += 1
                lines.new_row()
                try:
                    line = next(lines)
                except StopIteration:
                    return
                except LineTooLong as exc:
                    yield f"line {n}", None, str(exc)
                    continue
                if line.strip():
                    yield (f"line {n}", *_parse_line(line))


def _parse_line(line: str) -> tuple[dict[str, Any] | None, str | None]:
    try:
        value = json.loads(line)
    except RecursionError:
        return None, f"not JSON (nested more than {MAX_DEPTH} levels)"
    except ValueError as exc:
        return None, f"not JSON ({exc})"
    if not isinstance(value, dict):
        return None, f"not an object but {_kind(value)}"
    if _depth(value) > MAX_DEPTH:
        return None, f"nested more than {MAX_DEPTH} levels"
    return value, None


def _records(events: Iterator[tuple[str, Any]], max_field: int) -> Iterator[Any]:
    """The records of the document: the top-level list's items, or those of its "records"/"items" list."""
    event, _ = next(events, ("end", None))
    if event == "start_array":
        yield from _items(events, max_field)
        return
    if event == "start_map":
        found = False
        for event, key in events:
            if event == "end_map":
                break
            event, value = next(events)
            if key in RECORD_KEYS and event == "start_array" and not found:
                found = True
                yield from _items(events, max_field)
            else:
                _Builder(events, 0).value(event, value, 1)  # another top-level key: read past, keep nothing
        if found:
            return
    raise JsonFileError("expected a list of records (or {'records': [...]})")


def _items(events: Iterator[tuple[str, Any]], max_field: int) -> Iterator[Any]:
    for event, value in events:
        if event == "end_array":
            return
        builder = _Builder(events, max_field)
        record = builder.value(event, value, 2)
        yield record if builder.why is None else _Refused(builder.why)


class _Refused:
    def __init__(self, why: str):
        self.why = why


class _Builder:
    """Builds one record from its events: refuses the file past MAX_DEPTH levels; keeps at most
    MAX_RECORD_CHARS of text (past it, and past a string over ``max_field``, the rest of the record is
    read but no longer kept, and ``why`` says why the record is refused)."""

    def __init__(self, events: Iterator[tuple[str, Any]], max_field: int):
        self.events, self.max_field = events, max_field
        self.left = MAX_RECORD_CHARS
        self.why: str | None = None

    def value(self, event: str, value: Any, depth: int, key: str = "") -> Any:
        if event not in ("start_map", "start_array"):
            size = len(value) if isinstance(value, str) else 8
            self.left -= size
            if size > self.max_field and self.why is None:
                self.why = f"field {_quote(key)} is {size:,} characters (limit {self.max_field:,})"
            elif self.left < 0 and self.why is None:
                self.why = f"more than {MAX_RECORD_CHARS:,} characters"
            return None if self.why else value
        if depth > MAX_DEPTH:
            raise JsonFileError(f"nested more than {MAX_DEPTH} levels")
        if event == "start_array":
            items = []
            for event, value in self.events:
                if event == "end_array":
                    return items
                item = self.value(event, value, depth + 1, key)
                if self.why is None:
                    items.append(item)
        out: dict[str, Any] = {}
        for event, name in self.events:
            if event == "end_map":
                return out
            self.left -= len(name)
            event, value = next(self.events)
            item = self.value(event, value, depth + 1, name if depth == 2 else key)
            if self.why is None:
                out[name] = item
        return out


def _quote(name: str) -> str:
    return repr(name if len(name) <= 40 else name[:39] + "…")


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _kind(value: Any) -> str:
    kinds = {list: "a list", str: "a string", type(None): "null", bool: "a boolean"}
    return kinds.get(type(value), "a number")


def _first_line(exc: Exception) -> str:
    # yajl's message goes on with a picture of the text around the error: keep the first line only.
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


class _Utf8Reader:
    """A text stream re-encoded as UTF-8 bytes, for ijson (which reads bytes) on UTF-16/32 files."""

    def __init__(self, text: io.TextIOWrapper):
        self.text = text

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self.text.read(size if size and size > 0 else -1).encode("utf-8")


class _QuoteGapGuard:
    """Reads through, refusing the file at a stretch of MAX_TOKEN_BYTES without a ``"`` (see READ_SIZE)."""

    def __init__(self, stream: Any):
        self.stream = stream
        self.since_quote = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        first = data.find(b'"')
        if (self.since_quote + (len(data) if first < 0 else first)) > MAX_TOKEN_BYTES:
            raise JsonFileError(f"a JSON value longer than {MAX_TOKEN_BYTES:,} bytes")
        self.since_quote = self.since_quote + len(data) if first < 0 else len(data) - 1 - data.rfind(b'"')
        return data


def _utf8_stream(raw: io.BufferedReader, encoding: str) -> Any:
    if encoding == "utf-8":
        return raw
    if encoding == "utf-8-sig":
        raw.seek(3)  # yajl refuses a BOM
        return raw
    return _Utf8Reader(open_text(raw, encoding))
