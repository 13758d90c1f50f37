"""Registry files as real tools write them: encodings, delimiters, Excel's quirks, XLSX, JSON and JSONL."""

import datetime as dt
import json
import os

import pytest

from spiders.registries.files import RegistryFileError, open_registry_file

ROWS = [["source", "source_id", "title"], ["lka", "A1", "Stèle à inscription"], ["lka", "A2", "Tête"]]


def table(rows, delimiter=",") -> str:
    return "".join(delimiter.join(r) + "\r\n" for r in rows)


def read(path, **kwargs):
    reader = open_registry_file(path, **kwargs)
    return reader, list(reader)


# --- encodings ------------------------------------------------------------------------------------------


def test_utf16_tab_separated_unicode_text_from_excel(tmp_path):
    path = tmp_path / "r.txt"
    path.write_bytes(table(ROWS, "\t").encode("utf-16"))  # with its BOM, as Excel writes it
    reader, rows = read(path)
    assert (reader.encoding, reader.delimiter) == ("utf-16", "\t")
    assert [r.record["title"] for r in rows] == ["Stèle à inscription", "Tête"]


def test_utf16_without_bom(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes(table(ROWS).encode("utf-16-le"))
    reader, rows = read(path)
    assert reader.encoding == "utf-16-le" and rows[1].record["title"] == "Tête"


def test_cp1252(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes(table([*ROWS, ["lka", "A3", "Tête égyptienne – “socle”"]], ";").encode("cp1252"))
    reader, rows = read(path)
    assert reader.encoding == "cp1252"
    assert rows[2].record["title"] == "Tête égyptienne – “socle”"


def test_latin1(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes(table(ROWS).encode("latin-1"))
    _, rows = read(path)
    assert rows[0].record["title"] == "Stèle à inscription"


@pytest.mark.parametrize(
    "encoding, title",
    [
        ("latin-1", "Tête Bronze - égyptienne Kopf albâtre"),  # one short line: once read as HP Roman-8
        ("cp1252", "Mosaïque römisch – “façade”"),
        ("cp1250", "Rzeźba z brązu, skradziona z kościoła św. Łukasza"),  # not forced to Western
        ("cp1251", "Икона Святой Троицы, похищена из церкви"),
    ],
)
def test_single_byte_encodings_on_one_line(tmp_path, encoding, title):
    path = tmp_path / "r.csv"
    path.write_bytes(f"source;source_id;title\nlka;0;{title}\n".encode(encoding))
    assert read(path)[1][0].record["title"] == title


def test_a_non_utf8_byte_after_the_first_megabyte(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes(
        b"source,source_id,title\n" + b"lka,1,plain\n" * 150_000 + "lka,2,Stèle\n".encode("cp1252")
    )
    reader, rows = read(path)
    assert reader.encoding == "cp1252" and rows[-1].record["title"] == "Stèle"


def test_utf8_without_bom(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text(table(ROWS), encoding="utf-8")
    reader, rows = read(path)
    assert reader.encoding == "utf-8" and rows[0].record["title"] == "Stèle à inscription"


# --- delimiters and Excel's quirks ----------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_detected(tmp_path, delimiter):
    path = tmp_path / "r.csv"
    path.write_text(
        table([*ROWS, ["lka", "A3", "Seal, lapis; blue"]], delimiter).replace(
            "Seal, lapis; blue", '"Seal, lapis; blue"'
        )
    )
    reader, rows = read(path)
    assert reader.delimiter == delimiter
    assert [r.record["title"] for r in rows][2] == "Seal, lapis; blue"


def test_missing_source_id_names_the_delimiter_and_the_columns(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("source;objekt-nr;titel\nlka;1;Stele\n")
    with pytest.raises(
        RegistryFileError, match=r"semicolon ';' separated, columns found: 'source', 'objekt-nr'"
    ):
        open_registry_file(path)


def test_excel_sep_line(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("sep=|\r\n" + table(ROWS, "|"))
    reader, rows = read(path)
    assert reader.delimiter == "|" and [r.label for r in rows] == ["row 2", "row 3"]


@pytest.mark.parametrize("brk", ["\x0b", "\u2028", "\u2029", "\r\n", "\r"])
def test_line_breaks_inside_cells_become_newlines(tmp_path, brk):
    path = tmp_path / "r.csv"
    path.write_text(f'source,source_id,inscriptions\r\nlka,A1,"first{brk}second"\r\n', newline="")
    assert read(path)[1][0].record["inscriptions"] == "first\nsecond"


def test_header_names_with_spaces_case_and_bom(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("\ufeff Source , Source ID ,Object Type\nlka,A1,seal\n")
    reader, (row,) = read(path)
    assert reader.columns == ["source", "source_id", "object_type"] and row.record["object_type"] == "seal"


def test_trailing_empty_columns_and_repeated_names(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("source;source_id;note;note;;\nlka;A1;a;b;;\n")
    _, (row,) = read(path)
    assert (row.record["note"], row.record["note_2"], row.record["column_5"]) == ("a", "b", "")


def test_a_repeated_key_column_refuses_the_file(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("source,source_id,Source_ID\nlka,1,2\n")
    with pytest.raises(RegistryFileError, match="columns 2 and 3 are both 'source_id'"):
        open_registry_file(path)


def test_nul_in_a_row_refuses_that_row(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes(b"source,source_id,title\nlka,A1,bad\x00title\nlka,A2,ok\n")
    _, (bad, good) = read(path)
    assert bad.record is None and "NUL" in bad.errors[0] and good.record["title"] == "ok"


def test_blank_and_empty_rows_are_skipped(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("\nsource;source_id\n\n;\nlka;A1\n")
    _, rows = read(path)
    assert [r.label for r in rows] == ["row 5"]


def test_extra_cells_refuse_the_row(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("source,source_id,title\nlka,A1,Seal,stray\nlka,A2,Lamp,\n")
    _, (bad, good) = read(path)
    assert bad.errors == ["4 cells but the header has 3 (a stray comma ',' or quote?)"]
    assert good.record["title"] == "Lamp"


def test_a_fifo_as_the_registry_file_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "r.csv")
    with pytest.raises(RegistryFileError, match="not a regular file"):
        open_registry_file(tmp_path / "r.csv")


def test_an_old_xls_is_named(tmp_path):
    path = tmp_path / "r.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100))
    with pytest.raises(RegistryFileError, match="old Excel .xls"):
        open_registry_file(path)


# --- XLSX -----------------------------------------------------------------------------------------------


@pytest.fixture
def workbook(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append([])  # the header is the first non-empty row
    sheet.append(["Source", "source_id", "title", "inscriptions", "reported", "height_cm", "status"])
    sheet.append(["lka", 1042, "Seal", "Line 1\nLine 2", dt.datetime(2024, 3, 1), 4.5, "Stolen"])
    sheet.append(["lka", 1043.0, "Lamp", None, dt.date(2023, 12, 24), 12.0, "looted"])
    path = tmp_path / "r.xlsx"
    book.save(path)
    return path


def test_xlsx_rows_and_labels(workbook):
    reader, rows = read(workbook)
    assert (reader.format, reader.encoding, reader.delimiter) == ("xlsx", None, None)
    assert [(r.label, r.record["source_id"], r.record["status"]) for r in rows] == [
        ("row 3", "1042", "stolen"),
        ("row 4", "1043", "looted"),
    ]


def test_xlsx_cells_as_text(workbook):
    _, (first, second) = read(workbook)
    assert (first.record["reported"], first.record["height_cm"], first.record["inscriptions"]) == (
        "2024-03-01",
        "4.5",
        "Line 1\nLine 2",
    )
    assert (second.record["reported"], second.record["height_cm"]) == ("2023-12-24", "12")


def test_xlsx_cell_right_of_the_header_is_an_unnamed_column(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["source", "source_id"])
    book.active.append(["lka", "A1", "a note"])
    book.save(tmp_path / "r.xlsx")
    (row,) = read(tmp_path / "r.xlsx")[1]
    assert row.record["column_3"] == "a note"


def test_a_workbook_under_a_csv_name_reads_as_a_workbook(workbook):
    renamed = workbook.rename(workbook.with_suffix(".csv"))
    reader, rows = read(renamed)
    assert reader.format == "xlsx" and len(rows) == 2


def test_a_broken_workbook_refuses_the_file(tmp_path):
    path = tmp_path / "r.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(RegistryFileError, match="XLSX"):
        open_registry_file(path)


# --- JSON and JSONL -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "wrap", [lambda r: r, lambda r: {"records": r}, lambda r: {"meta": {"n": 2}, "items": r}]
)
def test_json_shapes(tmp_path, wrap):
    records = [
        {"source": "b", "source_id": 1, "images": ["https://example.org/v.jpg"]},
        {"source": "b", "source_id": "2"},
    ]
    path = tmp_path / "r.json"
    path.write_text(json.dumps(wrap(records)))
    reader, rows = read(path)
    assert reader.format == "json" and [r.label for r in rows] == ["record 1", "record 2"]
    assert rows[0].record["source_id"] == "1" and rows[0].photos == ["https://example.org/v.jpg"]


def test_json_nested_values_are_stringified(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps([{"source": "b", "source_id": "1", "measurements": {"h": 4.5}, "flag": True}]))
    (row,) = read(path)[1]
    assert (row.record["measurements"], row.record["flag"]) == ('{"h":4.5}', "true")


def test_json_record_that_is_not_an_object(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps([["b", "1"], {"source": "b", "source_id": "2"}]))
    bad, good = read(path)[1]
    assert bad.errors == ["not an object but a list"] and good.record["source_id"] == "2"


@pytest.mark.parametrize(
    "body, message",
    [
        (b'{"records": [{"source": "b", "source_id": "1"', "not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nested more than 32 levels"),
        (b'{"source": "b", "source_id": "1"}', "expected a list of records"),
    ],
)
def test_bad_json_refuses_the_file_at_once(tmp_path, body, message):
    path = tmp_path / "r.json"
    path.write_bytes(body)
    with pytest.raises(RegistryFileError, match=message) as err:
        open_registry_file(path)
    assert len(str(err.value).splitlines()) == 1


def test_a_json_record_of_many_long_fields_is_refused_the_next_kept(tmp_path):
    big = {"source": "b", "source_id": "1", **{f"f{i}": "v" * 99_000 for i in range(200)}}
    path = tmp_path / "r.json"
    path.write_text(json.dumps([big, {"source": "b", "source_id": "2"}]))
    bad, good = read(path)[1]
    assert bad.errors == ["more than 16,000,000 characters"] and good.record["source_id"] == "2"


def test_json_with_bom(tmp_path):
    path = tmp_path / "r.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps([{"source": "b", "source_id": "1"}]).encode())
    assert read(path)[1][0].record["source_id"] == "1"


def test_a_malformed_jsonl_line_is_that_lines_error(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(
        '{"source": "b", "source_id": "1"}\n'
        '{"source": "b", "source_id": \n'
        "\n"
        '{"source": "b", "source_id": "3"}\n'
    )
    rows = read(path)[1]
    assert [(r.label, r.record and r.record["source_id"]) for r in rows] == [
        ("line 1", "1"),
        ("line 2", None),
        ("line 4", "3"),
    ]
    assert rows[1].errors[0].startswith("not JSON (")


def test_an_over_long_jsonl_line_is_that_lines_error(tmp_path):
    path = tmp_path / "r.jsonl"
    big = json.dumps({"source": "b", "source_id": "1", "description": "z" * 5_000_000})
    path.write_text(big + "\n" + '{"source": "b", "source_id": "2"}\n')
    bad, good = read(path)[1]
    assert bad.errors == ["a line longer than 4,000,000 characters"] and good.record["source_id"] == "2"


# --- streaming ------------------------------------------------------------------------------------------


def write_big(path, n: int, text: str) -> None:
    with open(path, "w", newline="") as f:
        if path.suffix == ".csv":
            f.write("source,source_id,description\r\n")
            f.writelines(f'lka,A{i},"{text}"\r\n' for i in range(n))
        elif path.suffix == ".jsonl":
            f.writelines(
                json.dumps({"source": "lka", "source_id": f"A{i}", "d": text}) + "\n" for i in range(n)
            )
        else:
            f.write(
                "["
                + ",".join(json.dumps({"source": "lka", "source_id": f"A{i}", "d": text}) for i in range(n))
            )
            f.write("]")


@pytest.mark.parametrize("name", ["r.csv", "r.jsonl", "r.json"])
def test_memory_stays_far_below_the_file_size(tmp_path, name):
    import tracemalloc

    path = tmp_path / name
    write_big(path, 8_000, "lapis lazuli, line\nbreak " * 100)  # about 20 MB
    tracemalloc.start()
    try:
        count = sum(1 for row in open_registry_file(path) if row.record)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 8_000 and path.stat().st_size > 19_000_000
    assert peak < 14_000_000, f"{peak:,} bytes at peak"  # JSON reads 4 MB at a time (jsonfile.READ_SIZE)
