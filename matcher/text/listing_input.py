"""Read listings to screen from a text, standard input, or a file (``lootwatch flags``).

An argument that names an existing file is read as that file, by its ending: ``.csv`` and ``.tsv``
(columns id, title, description, provenance; the separator of a ``.csv`` is read from its header, so
that ``;`` from a German or French Excel and tabs are understood), ``.jsonl`` (one object a line),
``.json`` (an array of objects, or one object); any other file (``.txt``) is one listing. An argument
that ends like a listing file (.txt .csv .tsv .jsonl .json) but names nothing is an error, not a text
to screen; anything else that names nothing ("Iraq/Syria") is a text. A row that cannot be read (too
many or too few fields, not JSON) is reported with its number; the other rows are still read.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "EmptyFile",
    "ListingInputError",
    "MissingFile",
    "MAX_FILE_BYTES",
    "looks_like_a_path",
    "read_listings",
]

MAX_FILE_BYTES = 64 * 1024 * 1024  # a file of listings larger than this is refused, not read into memory
_FILE_ENDINGS = (".txt", ".csv", ".tsv", ".jsonl", ".json")
_FIELDS = ("title", "description", "provenance")


class ListingInputError(ValueError):
    """The input cannot be read as listings; the message says why."""


class MissingFile(ListingInputError):
    """The argument names no file: nothing exists under a name that looks like a file's, or it is a
    directory. A usage problem (``lootwatch flags`` exits with status 2)."""


class EmptyFile(ListingInputError):
    """The file holds no listings at all (an empty CSV, TSV or JSONL): a problem of the data, not of
    the command line (``lootwatch flags`` exits with status 1)."""


class _RowError(str):
    """Why one row could not be read (said with its number)."""


def looks_like_a_path(source: str) -> bool:
    """Whether ``source`` reads as a file name rather than a listing text: one line ending in .txt,
    .csv, .tsv, .jsonl or .json. A slash alone makes no file name: "Iraq/Syria" and
    "Sumerian/Akkadian" are texts (a name of an existing file is read as the file before this is asked)."""
    if len(source) > 4096 or "\n" in source or "\x00" in source:
        return False
    return source.strip().lower().endswith(_FILE_ENDINGS)


def read_listings(source: str, stdin: str | None = None) -> Iterator[dict]:
    """Listings (``id``, ``title``, ``description``, ``provenance``) from ``source``.

    ``-`` reads standard input as one text; an existing file is read as a file (see the module);
    anything else is screened as a text itself. A row that cannot be read is yielded as
    ``{"id": ..., "error": "row 3: ..."}`` and the rows after it are still read.

    Raises ``MissingFile`` for a file name that names nothing, ``EmptyFile`` for a file of listings
    that holds none, and ``ListingInputError`` for a file that cannot be read at all (not UTF-8, not
    JSON, too large, a CSV without a title or description column).
    """
    if source == "-":
        yield {"id": "-", "title": "", "description": stdin or "", "provenance": ""}
        return
    path = _existing(source)
    if path is None:
        if looks_like_a_path(source):
            raise MissingFile(f"{source}: no such file")
        yield {"id": "text", "title": "", "description": source, "provenance": ""}
        return
    text = _read(path, source)
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv", ".jsonl") and not text.strip():
        raise EmptyFile(f"{source}: empty, no listings in it")
    if suffix in (".csv", ".tsv"):
        rows = _csv(text, source, "\t" if suffix == ".tsv" else ",")
    elif suffix == ".jsonl":
        rows = _jsonl(text)
    elif suffix == ".json":
        rows = _json(text, source)
    else:
        yield {"id": source, "title": "", "description": text, "provenance": ""}
        return
    n = 0
    for n, row in enumerate(rows, start=1):
        if isinstance(row, _RowError):
            yield {"id": str(n), "error": str(row)}
            continue
        yield {
            "id": str(row.get("id") or n),
            **{f: str(row.get(f) or "") for f in _FIELDS},
        }
    if n == 0:
        raise EmptyFile(f"{source}: no listings in it, only a header or blank lines")


def _existing(source: str) -> Path | None:
    if not source or len(source) > 4096 or "\x00" in source or "\n" in source:
        return None
    path = Path(source)
    try:
        if path.is_dir():
            raise MissingFile(f"{source}: is a directory, not a file of listings")
        return path if path.is_file() else None
    except OSError:  # a name too long for the file system, a loop of links: not a file
        return None


def _read(path: Path, source: str) -> str:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ListingInputError(f"{source}: larger than {MAX_FILE_BYTES // 1024 // 1024} MB; split it")
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ListingInputError(f"{source}: not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise ListingInputError(f"{source}: cannot be read ({exc.strerror or exc})") from exc


def _delimiter(first_line: str, default: str) -> str:
    """The separator of a CSV file read from its header: ``,``, ``;`` (German and French Excel) or a
    tab, whichever makes a header with a title or description column; else ``default``."""
    try:
        sniffed = csv.Sniffer().sniff(first_line, delimiters=",;\t").delimiter
    except csv.Error:
        return default
    for delimiter in (default, sniffed):
        header = next(csv.reader([first_line], delimiter=delimiter), [])
        if set(h.strip().lower() for h in header) & {"title", "description"}:
            return delimiter
    return default


def _csv(text: str, source: str, delimiter: str) -> Iterator[dict | _RowError]:
    """Rows as dicts; a row with more fields than the header (an unquoted comma) or fewer (a line
    broken inside a field) is an error for that row, not silently cut or padded, and so is a row the
    csv module cannot read."""
    delimiter = _delimiter(text.split("\n", 1)[0].rstrip("\r"), delimiter)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip().lower() for h in next(reader, [])]
    except csv.Error as exc:
        raise ListingInputError(f"{source}: the header cannot be read ({exc})") from exc
    if not set(header) & {"title", "description"}:
        hint = "; the file seems to use ';' as separator" if ";" in ",".join(header) else ""
        raise ListingInputError(f"{source}: the CSV needs a title or description column{hint}")
    n = 0
    while True:
        line = reader.line_num
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            n += 1
            yield _RowError(f"row {n} (line {line + 1}): cannot be read ({exc})")
            if reader.line_num == line:
                return  # the reader cannot move past it
            continue
        if not any(f.strip() for f in fields):
            continue  # a blank line is no row
        n += 1
        if len(fields) != len(header):
            why = "an unquoted comma?" if len(fields) > len(header) else "a line break inside a field?"
            if delimiter != ",":
                why = "a separator inside a field?" if len(fields) > len(header) else why
            yield _RowError(
                f"row {n} (line {line + 1}): {len(fields)} fields but the header has {len(header)} "
                f"({why}); not screened"
            )
            continue
        yield {k: v for k, v in zip(header, fields, strict=False) if k}


def _jsonl(text: str) -> Iterator[dict | _RowError]:
    n = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        n += 1
        try:
            row = json.loads(line)
        except (ValueError, RecursionError) as exc:
            yield _RowError(f"row {n} (line {number}): not JSON ({str(exc)[:80]})")
            continue
        yield row if isinstance(row, dict) else _not_an_object(f"row {n} (line {number})", row)


def _json(text: str, source: str) -> Iterator[dict | _RowError]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ListingInputError(f"{source}: not JSON ({str(exc)[:80]})") from exc
    for n, row in enumerate(data if isinstance(data, list) else [data], start=1):
        yield row if isinstance(row, dict) else _not_an_object(f"row {n}", row)


def _not_an_object(where: str, row: object) -> _RowError:
    return _RowError(f"{where}: a JSON {type(row).__name__}, not an object with a title or description")
