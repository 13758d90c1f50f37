"""Read a registry file (CSV or other delimited text, XLSX, JSON, JSONL) whose fields are Object ID names.

A record needs ``source`` and ``source_id`` (``source`` may come from the caller instead); ``images``
holds ``|``-separated photo paths relative to the file (or to a photo root), or http(s) URLs (a list in
JSON). ``status`` is one of ``STATUSES`` (any case; empty means stolen). Any other field is kept.

``open_registry_file`` checks the file as a whole at once and raises RegistryFileError with one line if it
is unusable; iterating the reader streams ``RegistryRow`` objects, one per data row, with the row-level
problems as data (``errors``): a refused row has ``record = None``. Every field is capped at MAX_FIELD
characters; local photos are confined (see ``photos``). ``read_registry_file`` is the older all-at-once
interface on top.

Example::

    reader = open_registry_file("bulletin.csv", source="bulletin")
    for row in reader:
        if row.record is None:
            print(row.label, row.errors[0])
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matcher.db.schema import OBJECT_ID_FIELDS

from .jsonfile import JsonFileError, JsonlTable, JsonTable
from .photos import MAX_PHOTO_BYTES, PhotoRefused, check_photo, confined_root, quote, read_photo
from .tabular import CsvTable, TabularError, XlsxTable, delimiter_name, open_csv, open_xlsx

__all__ = [
    "MAX_FIELD",
    "MAX_PHOTO_BYTES",
    "STATUSES",
    "PhotoRefused",
    "RegistryFile",
    "RegistryFileError",
    "RegistryReader",
    "RegistryRow",
    "open_registry_file",
    "parse_mapping",
    "read_photo",
    "read_registry_file",
]

MAX_FIELD = 100_000
STATUSES = ("stolen", "looted", "missing", "recovered")  # the documented set (README, DESIGN.md)
DEFAULT_STATUS = "stolen"  # what the store has always put in for an empty status
KEY_FIELDS = ("source", "source_id", "status", "images")
FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
_LINE_BREAKS = re.compile("\r\n|[\r\x0b\u2028\u2029]")  # Excel, Mac and Unicode line breaks inside cells


class RegistryFileError(ValueError):
    """The file as a whole cannot be read as a registry; the message (one line, with the path) says why."""


@dataclass
class RegistryRow:
    """One data row of a registry file.

    ``label`` is how the user finds it: "row 5" (CSV/XLSX, the spreadsheet's row number), "line 3"
    (JSONL), "record 2" (JSON). ``record`` holds the fields (lower-case Object ID names after mapping,
    ``source``, ``source_id`` and ``status`` normalised, ``images`` taken out), or None if the row is
    refused, in which case ``errors[0]`` says why. ``photos`` are confined absolute local paths or
    http(s) URLs in file order; ``errors`` of a kept row are photos that were refused.
    """

    label: str
    record: dict[str, Any] | None
    photos: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class RegistryReader:
    """An opened registry file; iterate it for ``RegistryRow`` objects (streamed, any number of rows).

    ``format`` is "csv" (any delimited text), "xlsx", "json" or "jsonl"; ``encoding`` and ``delimiter``
    are None where they do not apply; ``photo_root`` is the folder local photos are confined to (pass it
    to ``read_photo``); ``columns`` the header's field names after mapping (tabular formats).
    Iterating can raise RegistryFileError only if the file changes or breaks under the reader (an XLSX
    part that is corrupt further on); every problem of one row is that row's ``errors``.
    """

    path: Path
    format: str
    encoding: str | None
    delimiter: str | None
    photo_root: Path
    source: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)
    _table: Any = field(default=None, repr=False)

    def warnings(self) -> list[str]:
        """Columns of a tabular file that nothing reads, and ``--map`` names the file lacks, one line
        each: a German "Titel" left unmapped would otherwise lose every title without a word."""
        known = {*OBJECT_ID_FIELDS, *KEY_FIELDS, "source_url"}
        out = [
            f"column {name!r} is no Object ID field: kept in record_json only, not searched or matched "
            f"(--map {name}:FIELD reads it as one)"
            for name in self.columns
            if name not in known and not name.startswith("column_")
        ]
        if self.format in ("csv", "xlsx"):
            header = set(self.columns)
            out += [
                f"--map {theirs}:{ours}: the file has no column {theirs!r}"
                for theirs, ours in self.mapping.items()
                if ours not in header
            ]
        return out

    def __iter__(self) -> Iterator[RegistryRow]:
        seen: set[bytes] = set()
        try:
            for label, fields, error in self._raw_rows():
                if error is not None:
                    yield RegistryRow(label, None, [], [error])
                else:
                    yield self._row(label, fields, seen)
        except (TabularError, JsonFileError, UnicodeDecodeError) as exc:
            raise RegistryFileError(f"{self.path}: {_one_line(exc)}") from None

    def _raw_rows(self) -> Iterator[tuple[str, list[tuple[str, Any]], str | None]]:
        """(label, [(name as written, value)], error) per row."""
        if self.format in ("json", "jsonl"):
            for label, record, error in self._table.rows():
                yield label, list((record or {}).items()), error
            return
        names = self._table.header
        for number, cells, error in self._table.rows():
            label = f"row {number}"
            if error is not None:
                yield label, [], error
            elif self.format == "xlsx" and len(cells) > len(names):
                # a workbook has no stray delimiters: a cell right of the header is an unnamed column
                extra = [f"column_{i}" for i in range(len(names) + 1, len(cells) + 1)]
                yield label, list(zip(self.columns + extra, cells, strict=False)), None
            elif len(cells) > len(names) and any(c.strip() for c in cells[len(names) :]):
                yield (
                    label,
                    [],
                    (
                        f"{len(cells)} cells but the header has {len(names)} "
                        f"(a stray {delimiter_name(self.delimiter)} or quote?)"
                    ),
                )
            else:
                yield label, list(zip(self.columns, cells, strict=False)), None

    def _row(self, label: str, fields: list[tuple[str, Any]], seen: set[bytes]) -> RegistryRow:
        record, images, why = self._record(fields)
        if why is None:
            why = self._check_keys(record, seen)
        if why is not None:
            return RegistryRow(label, None, [], [why])
        photos, errors = [], []
        for ref in images:
            try:
                photos.append(check_photo(ref, self.photo_root))
            except PhotoRefused as exc:
                errors.append(str(exc))
        return RegistryRow(label, record, photos, errors)

    def _record(self, fields: list[tuple[str, Any]]) -> tuple[dict[str, Any], list[str], str | None]:
        """Fields as text under their Object ID names, the photo references, or a reason to refuse."""
        record: dict[str, Any] = {}
        images: list[str] = []
        for raw_name, value in fields:
            name = raw_name if self.format in ("csv", "xlsx") else _field_name(str(raw_name), self.mapping)
            raw = value if name == "images" and isinstance(value, list) else [value]
            values = [_text(v) for v in raw]
            why = _refuse_values(str(raw_name), values)
            if why is not None:
                return {}, [], why
            values = [None if v is None else _LINE_BREAKS.sub("\n", v) for v in values]
            if name == "images":
                images += [p.strip() for v in values if v for p in v.split("|") if p.strip()]
            elif len(name) > 200:
                return {}, [], f"a field name of {len(name):,} characters"
            else:
                record[name] = values[0]
        return record, images, None

    def _check_keys(self, record: dict[str, Any], seen: set[bytes]) -> str | None:
        """Normalise source, source_id and status in place; the reason to refuse the row, if any."""
        record["source"] = (record.get("source") or self.source or "").strip()
        record["source_id"] = (record.get("source_id") or "").strip()
        if not record["source_id"]:
            return "missing source_id"
        if not record["source"]:
            return "missing source (give the file a source column or use --source)"
        status = (record.get("status") or "").strip().lower() or DEFAULT_STATUS
        if status not in STATUSES:
            return f"status {quote(record['status'], 40)} is not one of {', '.join(STATUSES)}"
        record["status"] = status
        # Keys are remembered as 16-byte digests: a set of 200,000 of them stays a few MB.
        key = hashlib.blake2b(f"{record['source']}\x00{record['source_id']}".encode(), digest_size=16)
        if key.digest() in seen:
            shown = " ".join(f"{record['source']}:{record['source_id']}".split())
            return f"duplicate record {shown[:120]} (the first one is kept)"
        seen.add(key.digest())
        return None


def open_registry_file(
    path: str | Path,
    source: str | None = None,
    mapping: dict[str, str] | None = None,
    photo_root: str | Path | None = None,
) -> RegistryReader:
    """Open a registry file for streaming; raises RegistryFileError at once for whole-file problems.

    ``source`` fills in rows without a source; ``mapping`` renames the file's columns to Object ID fields
    ({"objekt-nr": "source_id", ...}, any case); ``photo_root`` is the folder local photo paths are
    relative to and confined to (default: the file's folder). Whole-file problems: a missing file, an
    unknown format, undecodable text, malformed JSON, no source_id column (the message names the delimiter
    and the columns found), a source-less file without ``source``, an ambiguous header.
    """
    path = Path(path)
    if not path.is_file():
        raise RegistryFileError(f"{path}: {'not a regular file' if path.exists() else 'no such file'}")
    mapping = {_norm(k): v.strip().lower() for k, v in (mapping or {}).items()}
    try:
        root = confined_root(photo_root if photo_root is not None else path.parent)
    except PhotoRefused as exc:
        raise RegistryFileError(f"{path}: {exc}") from None
    reader = RegistryReader(path, _format(path), None, None, root, source, mapping)
    try:
        _open_table(reader)
    except (TabularError, JsonFileError) as exc:
        raise RegistryFileError(f"{path}: {_one_line(exc)}") from None
    return reader


def _open_table(reader: RegistryReader) -> None:
    path, mapping = reader.path, reader.mapping
    if reader.format == "json":
        reader._table = JsonTable(path, MAX_FIELD)
        reader.encoding = reader._table.encoding
        return
    if reader.format == "jsonl":
        reader._table = JsonlTable(path)
        reader.encoding = reader._table.encoding
        return
    if reader.format == "xlsx":
        table: CsvTable | XlsxTable = open_xlsx(path)
    else:
        table = open_csv(path, lambda cells: "source_id" in _columns(cells, mapping))
        reader.encoding, reader.delimiter = table.encoding, table.delimiter
    reader._table = table
    reader.columns = _columns(table.header, mapping)
    _check_header(reader)


def _check_header(reader: RegistryReader) -> None:
    found = ", ".join(quote(c, 40) for c in reader._table.header[:20]) or "none"
    how = f"{delimiter_name(reader.delimiter)} separated, " if reader.delimiter else ""
    if "source_id" not in reader.columns:
        raise TabularError(
            f"no source_id column ({how}columns found: {found}); map one with --map THEIRS:source_id"
        )
    if "source" not in reader.columns and not reader.source:
        raise TabularError(f"no source column ({how}columns found: {found}); name the source with --source")
    for name in KEY_FIELDS:
        at = [i + 1 for i, c in enumerate(reader.columns) if c == name]
        if len(at) > 1:
            raise TabularError(f"columns {at[0]} and {at[1]} are both {name!r} (after mapping); drop one")


def _columns(header: list[str], mapping: dict[str, str]) -> list[str]:
    """Header cells -> field names: mapped, lower-case, spaces as ``_``; unnamed columns are
    ``column_N``; a repeated name gets ``_2``, ``_3`` (the key fields are checked for repeats separately)."""
    names: list[str] = []
    for i, cell in enumerate(header, start=1):
        name = _field_name(cell, mapping) or f"column_{i}"
        if name in names and name not in KEY_FIELDS:
            name = next(f"{name}_{k}" for k in range(2, len(header) + 2) if f"{name}_{k}" not in names)
        names.append(name)
    return names


def _field_name(name: str, mapping: dict[str, str]) -> str:
    norm = _norm(name)
    return mapping.get(norm) or norm.replace(" ", "_")


def _norm(name: str) -> str:
    """A column name as compared: BOM, surrounding space and case ignored, inner runs of space as one."""
    return " ".join(name.replace("\ufeff", "").split()).lower()


def _refuse_values(name: str, values: list[str | None]) -> str | None:
    """Why a field's text is refused (over MAX_FIELD, or holding NUL characters), or None."""
    for text in values:
        if text is not None and len(text) > MAX_FIELD:
            return f"field {quote(name, 40)} is {len(text):,} characters (limit {MAX_FIELD:,})"
        if text is not None and "\x00" in text:
            return f"field {quote(name, 40)} holds NUL characters (binary data, or UTF-16 read as UTF-8?)"
    return None


def _text(value: Any) -> str | None:
    """A field as text: JSON numbers as written, nested values as compact JSON (then capped like any text).
    Line breaks are made ``\\n`` after the cap is checked."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _format(path: Path) -> str:
    suffix = path.suffix.lower()
    with open(path, "rb") as f:
        magic = f.read(8)
    if magic.startswith(b"\xd0\xcf\x11\xe0"):
        raise RegistryFileError(f"{path}: an old Excel .xls workbook: save it as .xlsx or CSV")
    if magic.startswith(b"PK\x03\x04") and FORMATS.get(suffix) in ("csv", "xlsx"):
        return "xlsx"  # a workbook saved under a .csv name reads as what it is
    if suffix not in FORMATS:
        known = ", ".join(FORMATS)
        raise RegistryFileError(f"{path}: unknown format {suffix!r} (use {known})")
    return FORMATS[suffix]


def _one_line(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"cannot decode the text as {exc.encoding} (it changed while being read?)"
    return " ".join(str(exc).split())


# --- the older all-at-once interface ------------------------------------------------------------------


@dataclass
class RegistryFile:
    """The records of one registry file, with image references resolved, and the rows' problems."""

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
    path: str | Path,
    source: str | None = None,
    mapping: dict[str, str] | None = None,
    photo_root: str | Path | None = None,
) -> RegistryFile:
    """Every record of a registry file at once, photos in ``image_urls`` (local ones as file:// URIs).

    Raises RegistryFileError if the file is unusable; row problems are ``errors`` as (label, reason).
    """
    out = RegistryFile()
    for row in open_registry_file(path, source, mapping, photo_root):
        out.errors += [(row.label, reason) for reason in row.errors]
        if row.record is not None:
            urls = [p if p.startswith(("http://", "https://")) else Path(p).as_uri() for p in row.photos]
            out.records.append({**row.record, "image_urls": urls})
    return out
