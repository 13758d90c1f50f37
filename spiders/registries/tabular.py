"""Decode registry files as spreadsheets write them: text encodings, CSV dialects, XLSX workbooks.

Every reader here streams: a row at a time, memory flat in the number of rows. Rows come out as
``(row_number, cells, error)``: ``row_number`` is the spreadsheet's (the header is row 1 in a usual file),
``cells`` a list of strings, ``error`` a reason when the row could not be read at all. Whole-file problems
raise ``TabularError`` with a reason (the caller adds the path).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["TabularError", "CsvTable", "XlsxTable", "detect_encoding", "open_csv", "open_xlsx", "cell_text"]

MAX_LINE = 4_000_000  # characters in one physical line; a longer line is that row's error
MAX_ROW = 16_000_000  # characters in one row of several lines (quoted line breaks)
FIELD_HARD_LIMIT = 1_000_000  # the csv module's own cap: above the caller's 100,000 so such rows can be named
DELIMITERS = ",;\t|"
DELIMITER_NAMES = {",": "comma ','", ";": "semicolon ';'", "\t": "tab", "|": "pipe '|'"}
SAMPLE_CHARS = 64 * 1024
SNIFF_CHARS = 8 * 1024
SNIFF_BYTES = 256 * 1024  # what charset-normalizer sees of a file that is not UTF-8
CHUNK = 1 << 20
MAX_XLSX_MEMBER = 512 * 1024 * 1024  # uncompressed bytes of one part of a workbook (a zip bomb stops here)

# csv.field_size_limit is process-wide; raising it to the hard limit lets a 200,000-character field reach
# the caller's per-field check (a row-level refusal) instead of aborting the file with _csv.Error.
csv.field_size_limit(max(csv.field_size_limit(), FIELD_HARD_LIMIT))

_SEP_LINE = re.compile(r'^"?sep=(.)"?[,;\t|]*\r?\n?$', re.I)  # Excel's "sep=;" first line
_BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
]
_PREFERRED = ("cp1252", "latin_1", "iso8859_15")  # ties in detection go to Western Windows: Excel's default


class TabularError(ValueError):
    """The file as a whole cannot be read; the message says why (without the path)."""


@dataclass
class CsvTable:
    """An open CSV (or tab/semicolon/pipe separated text) file: its dialect, header and rows."""

    path: Path
    encoding: str
    delimiter: str
    header: list[str]
    header_row: int
    skip_first_line: bool = False  # an Excel "sep=" line

    def rows(self) -> Iterator[tuple[int, list[str] | None, str | None]]:
        """Data rows after the header; blank rows are skipped (they still count for the row numbers)."""
        with open(self.path, "rb") as raw, open_text(raw, self.encoding) as text:
            lines = LineReader(text)
            if self.skip_first_line:
                next(lines, None)
            reader = csv.reader(lines, delimiter=self.delimiter)
            number = 0
            while True:
                number += 1
                lines.new_row()
                first = lines.count + 1
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except (csv.Error, LineTooLong) as exc:
                    if number > self.header_row:
                        yield number, None, _csv_reason(exc)
                    continue
                if number > self.header_row and any(c.strip() for c in cells):
                    yield number, cells, self._runaway_quote(first, lines.count, cells)

    def _runaway_quote(self, first: int, last: int, cells: list[str]) -> str | None:
        """Why a row that runs over several lines of the file is refused, or None.

        A quote left open swallows the rows after it into one cell, up to the next quote in the file:
        the row then has another number of cells than the header, or a cell holding a line that is a
        whole row of its own (as many delimiters as the header). A line break in a cell, kept in quotes
        as Excel and LibreOffice write it, does neither.
        """
        columns = len(self.header)
        if last <= first:
            return None
        swallowed = any(
            line.count(self.delimiter) >= columns - 1
            for cell in cells
            if "\n" in cell
            for line in cell.splitlines()[1:]
        )
        if len(cells) == columns and not swallowed:
            return None
        return (
            f"lines {first:,} to {last:,} of the file read as one row of {len(cells)} cells (the header has "
            f"{columns}): a quote left open there swallows the rows after it (close it and import again)"
        )


def delimiter_name(delimiter: str | None) -> str:
    """How a delimiter is named in messages."""
    return DELIMITER_NAMES.get(delimiter or "", repr(delimiter))


def open_csv(path: Path, accept: Callable[[list[str]], bool] = bool) -> CsvTable:
    """Detect the encoding and delimiter of a text table and read its header (the first non-blank row).

    The delimiter is Excel's ``sep=`` line if there is one; else the first, in order of likelihood
    (csv.Sniffer's choice among ``, ; tab |`` on a sample, then the candidates found most often in the
    header line outside quotes), whose header ``accept`` takes; else the most likely one (the caller then
    names it in its error). Raises TabularError for an empty or undecodable file.
    """
    encoding = detect_encoding(path)
    with open(path, "rb") as raw, open_text(raw, encoding) as text:
        sample = text.read(SAMPLE_CHARS)
    skip = False
    first, _, rest = sample.partition("\n")
    sep = _SEP_LINE.match(first + "\n")
    if sep and sep.group(1) in DELIMITERS:
        skip, sample = True, rest
    if not sample.strip():
        raise TabularError("the file is empty")
    order = [sep.group(1)] if skip else _delimiter_order(sample)
    for d in order:
        row, cells = _header(sample, d)
        if accept(cells):
            return CsvTable(path, encoding, d, cells, row, skip)
    row, cells = _header(sample, order[0])
    return CsvTable(path, encoding, order[0], cells, row, skip)


def detect_encoding(path: Path) -> str:
    """The text encoding of ``path``: a BOM (UTF-8/16/32), UTF-16 without BOM (NUL pattern), UTF-8 if the
    whole file decodes as UTF-8, else charset-normalizer's best guess that decodes the whole file (ties go
    to cp1252). Raises TabularError if nothing decodes it. Reads the file in chunks, never whole."""
    with open(path, "rb") as raw:
        head = raw.read(CHUNK)
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    utf16 = _utf16_without_bom(head)
    if utf16:
        return utf16
    bad = _first_undecodable(path, "utf-8")
    if bad is None:
        return "utf-8"
    from charset_normalizer import from_bytes  # only for files that are not UTF-8

    sample = head[:SNIFF_BYTES]
    if bad >= len(sample):  # add the text around the first non-UTF-8 byte (no overlap: repeats skew scores)
        with open(path, "rb") as raw:
            raw.seek(max(len(sample), bad - SNIFF_BYTES // 8))
            sample += b"\n" + raw.read(SNIFF_BYTES // 4)
    for name in _candidates(from_bytes(sample))[:5]:
        if _first_undecodable(path, name) is None:
            return name
    raise TabularError(f"cannot decode the text: not UTF-8 (byte {bad:,}), no BOM, no other encoding fits")


def _candidates(matches: Any) -> list[str]:
    """charset-normalizer's matches as encoding names, best first. Among equally clean decodings (its
    language guess is noise on a few lines: Latin-1 text came out as HP Roman-8) Western Windows wins,
    the usual non-UTF-8 registry file being an Excel export from a Western-European locale."""

    def name(m: Any) -> str:
        return next((c for c in _PREFERRED if c in m.could_be_from_charset), m.encoding)

    ranked = sorted(matches, key=lambda m: (round(m.chaos, 2), name(m) not in _PREFERRED, -m.coherence))
    return [name(m) for m in ranked]


def open_xlsx(path: Path) -> XlsxTable:
    """Open the first sheet of a workbook read-only; the header is its first non-empty row.

    Raises TabularError for a file that is not a readable workbook or whose parts unpack too large.
    """
    try:
        with zipfile.ZipFile(path) as z:
            big = [i.filename for i in z.infolist() if i.file_size > MAX_XLSX_MEMBER]
    except (zipfile.BadZipFile, OSError) as exc:
        raise TabularError(f"not an XLSX workbook ({exc})") from None
    if big:
        raise TabularError(f"workbook part {big[0]!r} unpacks to more than {MAX_XLSX_MEMBER:,} bytes")
    table = XlsxTable(path)
    rows = table._all_rows()
    for number, cells in rows:
        if any(cells):
            table.header, table.header_row = cells, number
            table._pending = rows  # the first iteration goes on from here: loading a sheet costs a pass
            return table
    raise TabularError("the first sheet is empty")


@dataclass
class XlsxTable:
    """The first sheet of an XLSX workbook, read with openpyxl in read-only mode."""

    path: Path
    header: list[str] = field(default_factory=list)
    header_row: int = 0
    _pending: Iterator[tuple[int, list[str]]] | None = field(default=None, repr=False)

    def rows(self) -> Iterator[tuple[int, list[str] | None, str | None]]:
        """Data rows after the header, as text; empty rows skipped."""
        rows, self._pending = self._pending or self._all_rows(), None
        for number, cells in rows:
            if number > self.header_row and any(c.strip() for c in cells):
                yield number, cells, None

    def _all_rows(self) -> Iterator[tuple[int, list[str]]]:
        """Every row of the first sheet as (row number, cell texts).

        Opening a sheet read-only costs a whole extra pass when the file has no ``<dimension>`` before its
        data (openpyxl 3.1 then looks for it to the end); Excel writes one, some other writers do not.
        """
        import openpyxl  # heavy: only for workbooks

        # A file object, not the path: openpyxl judges a path by its extension, not by its content.
        with open(self.path, "rb") as f:
            try:
                book = openpyxl.load_workbook(f, read_only=True, data_only=True)
            except Exception as exc:  # openpyxl raises many kinds (KeyError, InvalidFileException, XML)
                raise TabularError(f"not a readable XLSX workbook ({type(exc).__name__})") from None
            try:
                sheet = book.worksheets[0]
                sheet.reset_dimensions()  # some writers store a wrong size, which would cut rows short
                # read-only iteration fills in rows missing from the file, so counting gives row numbers
                for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
                    yield number, [cell_text(v) for v in cells]
            except Exception as exc:  # a sheet that is corrupt further on, or no sheet at all
                raise TabularError(f"the first sheet cannot be read ({type(exc).__name__})") from None
            finally:
                book.close()


def cell_text(value: object) -> str:
    """A spreadsheet cell as text: dates as ISO 8601, whole numbers without ``.0``, booleans lower-case."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class LineTooLong(ValueError):
    """A line, or a row of several lines, over its cap; the reader goes on after it."""


class LineReader:
    """Physical lines of a text file, each at most MAX_LINE characters, and at most MAX_ROW characters
    between two calls of ``new_row``: past either cap it raises LineTooLong once (skipping the rest of an
    over-long line) and can be asked for the next line. The csv reader passes the error on and starts
    afresh, so a runaway quote or a row of endless cells costs one row, never the memory of the file."""

    def __init__(self, text: io.TextIOBase):
        self.text = text
        self.row_chars = 0
        self.count = 0  # physical lines read

    def __iter__(self) -> LineReader:
        return self

    def new_row(self) -> None:
        """Start counting a new row."""
        self.row_chars = 0

    def __next__(self) -> str:
        line = self.text.readline(MAX_LINE)
        if not line:
            raise StopIteration
        if len(line) == MAX_LINE and not line.endswith(("\n", "\r")):
            while (more := self.text.readline(MAX_LINE)) and not more.endswith(("\n", "\r")):
                pass
            raise LineTooLong(f"a line longer than {MAX_LINE:,} characters")
        self.count += 1
        self.row_chars += len(line)
        if self.row_chars > MAX_ROW:
            self.row_chars = 0
            raise LineTooLong(f"a row longer than {MAX_ROW:,} characters (a quote left open?)")
        return line


def _csv_reason(exc: Exception) -> str:
    if isinstance(exc, LineTooLong):
        return str(exc)
    if "field larger than field limit" in str(exc):
        return f"a field longer than {FIELD_HARD_LIMIT:,} characters"
    return f"cannot be read as CSV ({exc})"


def open_text(raw: io.BufferedReader, encoding: str) -> io.TextIOWrapper:
    # newline="": the csv module sees "\r\n" inside quoted cells as written and handles line ends itself.
    return io.TextIOWrapper(raw, encoding=encoding, newline="", errors="strict")


def _delimiter_order(sample: str) -> list[str]:
    """Candidate delimiters, most likely first: the Sniffer's pick, then by count in the header line."""
    header_line = _first_line_outside_quotes(sample)
    counts = {d: header_line.count(d) for d in DELIMITERS}
    order = sorted(DELIMITERS, key=lambda d: -counts[d])
    try:
        # Whole lines, and few: the Sniffer's time grows with the square of its sample (16 KB: 0.6 s).
        lines = sample[:SNIFF_CHARS]
        cut = lines[: lines.rfind("\n") + 1] or lines
        sniffed = csv.Sniffer().sniff(cut, delimiters=DELIMITERS).delimiter
    except csv.Error:
        sniffed = None
    if sniffed and sniffed in DELIMITERS and counts[sniffed] > 0:
        order.remove(sniffed)
        order.insert(0, sniffed)
    return order


def _first_line_outside_quotes(sample: str) -> str:
    """The header line with quoted parts removed (a quoted name may hold a delimiter or a line break)."""
    out, quoted = [], False
    for ch in sample:
        if ch == '"':
            quoted = not quoted
        elif not quoted:
            if ch in "\r\n" and "".join(out).strip():
                break
            out.append(ch)
    return "".join(out)


def _header(sample: str, delimiter: str) -> tuple[int, list[str]]:
    """(row number, cells) of the first non-blank row of ``sample`` split by ``delimiter``."""
    lines = io.StringIO(sample, newline="")
    for number, cells in enumerate(csv.reader(lines, delimiter=delimiter), start=1):
        if any(c.strip() for c in cells):
            return number, cells
    return 1, []


def _utf16_without_bom(head: bytes) -> str | None:
    """UTF-16 saved without a BOM: ASCII-heavy text has a NUL in every other byte."""
    sample = head[:4096]
    if len(sample) < 8 or b"\x00" not in sample:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd):
        return "utf-16-be"
    return None


def _first_undecodable(path: Path, encoding: str) -> int | None:
    """Byte offset of the first byte ``encoding`` cannot decode, or None if the whole file decodes."""
    try:
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    except LookupError:
        return 0
    offset = 0
    with open(path, "rb") as raw:
        while True:
            chunk = raw.read(CHUNK)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                return offset + max(0, exc.start)
            if not chunk:
                return None
            offset += len(chunk)
