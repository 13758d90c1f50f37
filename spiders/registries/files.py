"""Read a registry file (CSV, JSON or JSONL) whose fields are Object ID names.

A record needs ``source`` and ``source_id`` (``source`` may come from the caller instead); ``images``
holds ``|``-separated photo paths, relative to the file, or http(s) URLs. Any other Object ID field is
optional. Bad rows are reported with their row number and skipped; the rest are read.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = ["RegistryFileError", "RegistryFile", "read_registry_file", "parse_mapping"]

MAX_FIELD = 100_000
csv.field_size_limit(MAX_FIELD)


class RegistryFileError(ValueError):
    """The file as a whole cannot be read as a registry; the message says why."""


@dataclass
class RegistryFile:
    """The records of one registry file, with image references resolved, and the rows that were refused."""

    records: list[dict[str, Any]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (row, reason)


def parse_mapping(text: str | None) -> dict[str, str]:
    """``"Objekt-Nr:source_id,Titel:title"`` as {their column: Object ID field}, names lower-cased."""
    mapping = {}
    for pair in (text or "").split(","):
        if pair.strip():
            theirs, sep, ours = pair.rpartition(":")
            if not sep or not theirs.strip() or not ours.strip():
                raise RegistryFileError(f"column mapping {pair!r}: expected THEIRS:OURS")
            mapping[theirs.strip().lower()] = ours.strip().lower()
    return mapping


def read_registry_file(
    path: str | Path, source: str | None = None, mapping: dict[str, str] | None = None
) -> RegistryFile:
    """Read and check every record of a registry file. Raises RegistryFileError if the file is unusable.

    ``mapping`` renames the file's columns to Object ID fields ({"objekt-nr": "source_id", ...}).
    """
    mapping = {k.lower(): v for k, v in (mapping or {}).items()}
    path = Path(path)
    if not path.is_file():
        raise RegistryFileError(f"{path}: no such file")
    rows = _rows(path, mapping)
    out = RegistryFile()
    seen: set[tuple[str, str]] = set()
    for n, row in rows:
        record = {}
        for k, v in row.items():
            if k is not None:
                name = str(k).strip().lower()
                record[mapping.get(name, name)] = v
        record["source"] = str(record.get("source") or source or "").strip()
        record["source_id"] = str(record.get("source_id") or "").strip()
        if not record["source"] or not record["source_id"]:
            out.errors.append((n, "missing source or source_id"))
            continue
        key = (record["source"], record["source_id"])
        if key in seen:
            out.errors.append((n, f"duplicate record {key[0]}:{key[1]} (the first one is kept)"))
            continue
        seen.add(key)
        images, bad = _image_urls(record.pop("images", None), path.parent)
        out.errors += [(n, reason) for reason in bad]
        record["image_urls"] = images
        out.records.append(record)
    return out


def _rows(path: Path, mapping: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RegistryFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    if suffix == ".csv":
        reader = csv.DictReader(text.splitlines())
        names = [mapping.get(f.strip().lower(), f.strip().lower()) for f in reader.fieldnames or []]
        if "source_id" not in names:
            raise RegistryFileError(f"{path}: the CSV header has no source_id column (map one with --map)")
        return [(f"row {i}", r) for i, r in enumerate(reader, start=2)]
    if suffix == ".jsonl":
        rows = []
        for i, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    rows.append((f"line {i}", json.loads(line)))
                except (ValueError, RecursionError) as exc:
                    raise RegistryFileError(f"{path}: line {i} is not JSON ({exc})") from exc
        return [(n, r) for n, r in rows if isinstance(r, dict)]
    if suffix == ".json":
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise RegistryFileError(f"{path}: not JSON ({exc})") from exc
        data = data.get("records", data.get("items")) if isinstance(data, dict) else data
        if not isinstance(data, list):
            raise RegistryFileError(f"{path}: expected a list of records (or {{'records': [...]}})")
        return [(f"record {i}", r) for i, r in enumerate(data, start=1) if isinstance(r, dict)]
    raise RegistryFileError(f"{path}: unknown format {suffix!r} (use .csv, .json or .jsonl)")


def _image_urls(value: Any, base: Path) -> tuple[list[str], list[str]]:
    parts = value if isinstance(value, list) else str(value or "").split("|")
    urls, bad = [], []
    for p in (str(x).strip() for x in parts):
        if not p:
            continue
        scheme = urlsplit(p).scheme.lower()
        if scheme in ("http", "https"):
            urls.append(p)
        elif scheme and len(scheme) > 1:
            bad.append(f"image {p[:80]!r}: only http(s) URLs and file paths are read")
        else:
            local = (base / p).resolve()
            if local.is_file():
                urls.append(local.as_uri())
            else:
                bad.append(f"image {p[:80]!r}: no such file")
    return urls, bad
