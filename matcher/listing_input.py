"""Read listings to screen from a text, standard input, or a CSV / JSONL file (``lootwatch flags``)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

__all__ = ["ListingInputError", "read_listings"]


class ListingInputError(ValueError):
    """The input cannot be read as listings; the message says why."""


def read_listings(source: str, stdin: str | None = None) -> Iterator[dict]:
    """Listings (``id``, ``title``, ``description``, ``provenance``) from ``source``.

    ``-`` reads standard input as one text; a path ending in .csv or .jsonl is read as a file of
    listings; anything else is screened as a text itself.
    """
    if source == "-":
        yield {"id": "-", "title": "", "description": stdin or "", "provenance": ""}
        return
    path = Path(source)
    if path.suffix.lower() in (".csv", ".jsonl") and len(source) < 4096:
        if not path.is_file():
            raise ListingInputError(f"{source}: no such file")
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ListingInputError(f"{source}: not UTF-8 ({exc.reason} at byte {exc.start})") from exc
        rows = _csv(text, source) if path.suffix.lower() == ".csv" else _jsonl(text, source)
        for n, row in enumerate(rows, start=1):
            yield {
                "id": str(row.get("id") or n),
                "title": str(row.get("title") or ""),
                "description": str(row.get("description") or ""),
                "provenance": str(row.get("provenance") or ""),
            }
        return
    yield {"id": "text", "title": "", "description": source, "provenance": ""}


def _csv(text: str, source: str) -> list[dict]:
    reader = csv.DictReader(io.StringIO(text))
    fields = {f.strip().lower() for f in reader.fieldnames or []}
    if not fields & {"title", "description"}:
        raise ListingInputError(f"{source}: the CSV needs a title or description column")
    return [{k.strip().lower(): v for k, v in row.items() if k} for row in reader]


def _jsonl(text: str, source: str) -> list[dict]:
    rows = []
    for n, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise ListingInputError(f"{source}: line {n} is not JSON ({exc})") from exc
            if isinstance(row, dict):
                rows.append(row)
    return rows
