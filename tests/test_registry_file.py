"""Registry files: the rows read, the rows refused and why, the cases from real tools under ../shared."""

import json
from pathlib import Path

import pytest
from PIL import Image

from matcher.db import connect, store
from spiders.registries.files import (
    MAX_FIELD,
    RegistryFileError,
    RegistryRow,
    open_registry_file,
    read_registry_file,
)

HEADER = "source,source_id,object_type,title,status,images\n"
CASES = Path(__file__).resolve().parents[2] / "shared" / "cases" / "registry"


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "photos").mkdir()
    Image.new("RGB", (20, 20), "red").save(tmp_path / "photos" / "a.jpg")
    return tmp_path


def rows(path, **kwargs) -> list[RegistryRow]:
    return list(open_registry_file(path, **kwargs))


def case(name: str) -> Path:
    if not (CASES / name).is_file():
        pytest.skip(f"../shared/cases/registry/{name} is absent")
    return CASES / name


# --- the cases from real tools (../shared/cases/registry/README) -----------------------------------------


def test_case_multiline_cell_keeps_its_line_break():
    read = rows(case("multiline-cell.csv"))
    assert [r.record["source_id"] for r in read] == ["XL-1", "XL-2"]
    assert read[0].record["inscriptions"] == "Line 1: dedicated to Shamash\nLine 2: servant of the king"


def test_case_multiline_cell_is_found_by_full_text_search(tmp_path):
    db = connect.open_db(tmp_path / "l.db")
    for row in rows(case("multiline-cell.csv")):
        store.upsert_registry_object(db, row.record)
    found = db.execute(
        "SELECT o.source_id FROM registry_objects_fts f JOIN registry_objects o ON o.rowid = f.rowid "
        "WHERE registry_objects_fts MATCH 'Shamash'"
    ).fetchall()
    assert found == [("XL-1",)]


def test_case_semicolon_excel_de():
    reader = open_registry_file(case("semicolon-excel-de.csv"))
    read = list(reader)
    assert (reader.delimiter, reader.encoding) == (";", "utf-8-sig")
    assert [(r.record["source_id"], r.record["status"]) for r in read] == [
        ("DE-2024-01", "stolen"),
        ("DE-2024-02", "looted"),
    ]


# --- rows -----------------------------------------------------------------------------------------------


def test_rows_are_labelled_by_spreadsheet_row(folder):
    (folder / "r.csv").write_text(HEADER + "demo,A1,seal,Seal,stolen,\n\ndemo,A2,lamp,Lamp,looted,\n")
    assert [r.label for r in rows(folder / "r.csv")] == ["row 2", "row 4"]  # the blank row 3 still counts


def test_photos_are_confined_paths_and_urls(folder):
    (folder / "r.csv").write_text(
        HEADER + "demo,A1,seal,Seal,stolen,photos/a.jpg|https://example.org/b.jpg\n"
    )
    (row,) = rows(folder / "r.csv")
    assert row.photos == [str((folder / "photos" / "a.jpg").resolve()), "https://example.org/b.jpg"]
    assert row.errors == [] and "images" not in row.record


def test_missing_photo_is_reported_and_the_row_kept(folder):
    (folder / "r.csv").write_text(HEADER + "demo,A1,seal,Seal,stolen,photos/missing.jpg\n")
    (row,) = rows(folder / "r.csv")
    assert row.record["source_id"] == "A1" and row.photos == []
    assert row.errors == ["image 'photos/missing.jpg': no such file"]


def test_missing_id_refuses_the_row(folder):
    (folder / "r.csv").write_text(HEADER + "demo,,seal,No id,stolen,\n")
    (row,) = rows(folder / "r.csv")
    assert row.record is None and row.errors == ["missing source_id"]


def test_duplicate_keeps_the_first(folder):
    (folder / "r.csv").write_text(HEADER + "demo,A1,seal,First,stolen,\ndemo,A1,seal,Again,stolen,\n")
    first, again = rows(folder / "r.csv")
    assert first.record["title"] == "First"
    assert again.record is None and again.errors == ["duplicate record demo:A1 (the first one is kept)"]


@pytest.mark.parametrize("given, stored", [("Stolen ", "stolen"), ("LOOTED", "looted"), ("", "stolen")])
def test_status_is_mapped_onto_the_documented_set(folder, given, stored):
    (folder / "r.csv").write_text(f"source,source_id,status\ndemo,A1,{given}\n")
    assert rows(folder / "r.csv")[0].record["status"] == stored


def test_unknown_status_refuses_the_row_naming_the_allowed_values(folder):
    (folder / "r.csv").write_text("source,source_id,status\ndemo,A1,confiscated\ndemo,A2,missing\n")
    bad, good = rows(folder / "r.csv")
    assert bad.record is None
    assert bad.errors == ["status 'confiscated' is not one of stolen, looted, missing, recovered"]
    assert good.record["status"] == "missing"


def test_source_from_caller(folder):
    (folder / "r.csv").write_text("source_id,title\nZ9,Relief\n")
    assert rows(folder / "r.csv", source="bulletin")[0].record["source"] == "bulletin"


def test_mapping_renames_columns(folder):
    (folder / "r.csv").write_text("Objekt-Nr,Titel\nZ9,Relief\n")
    (row,) = rows(folder / "r.csv", source="lka", mapping={"Objekt-Nr": "source_id", "titel": "title"})
    assert (row.record["source_id"], row.record["title"]) == ("Z9", "Relief")


# --- caps -----------------------------------------------------------------------------------------------


def test_a_200000_character_field_refuses_that_row_only(folder):
    big = "x" * 200_000
    (folder / "r.csv").write_text(f"source,source_id,description\ndemo,A1,ok\ndemo,A2,{big}\ndemo,A3,ok\n")
    read = rows(folder / "r.csv")
    assert [r.record and r.record["source_id"] for r in read] == ["A1", None, "A3"]
    assert read[1].errors == ["field 'description' is 200,000 characters (limit 100,000)"]


def test_a_field_at_the_cap_is_kept(folder):
    (folder / "r.csv").write_text(f"source,source_id,description\ndemo,A1,{'x' * MAX_FIELD}\n")
    assert len(rows(folder / "r.csv")[0].record["description"]) == MAX_FIELD


def test_a_field_past_the_csv_modules_limit_refuses_that_row_only(folder):
    (folder / "r.csv").write_text(f'source,source_id,description\ndemo,A1,"{"y" * 1_500_000}"\ndemo,A2,ok\n')
    bad, good = rows(folder / "r.csv")
    assert bad.record is None and "longer than 1,000,000 characters" in bad.errors[0]
    assert good.record["source_id"] == "A2"


def test_a_row_of_many_long_multiline_cells_refuses_that_row_only(folder):
    cell = '"' + "w" * 450_000 + "\n" + "w" * 450_000 + '"'
    (folder / "r.csv").write_text(
        "source,source_id,notes\n" + "demo,A1," + ",".join([cell] * 20) + "\ndemo,A2,ok\n"
    )
    read = rows(folder / "r.csv")
    assert read[0].record is None and "a row longer than 16,000,000 characters" in read[0].errors[0]
    assert read[-1].record["source_id"] == "A2"


def test_a_50_mb_json_field_is_refused(folder):
    records = [
        {"source": "b", "source_id": "1", "description": "z" * 50_000_000},
        {"source": "b", "source_id": "2"},
    ]
    (folder / "r.json").write_text(json.dumps(records))
    big, small = rows(folder / "r.json")
    assert big.record is None and big.errors == [
        "field 'description' is 50,000,000 characters (limit 100,000)"
    ]
    assert small.record["source_id"] == "2"


# --- whole-file problems and the older interface --------------------------------------------------------


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("r.csv", "title,images\nX,\n", "no source_id column"),
        ("r.pdf", "x", "unknown format"),
        ("r.json", "{broken", "not JSON"),
        ("r.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "cannot decode"),
        ("r.csv", "", "empty"),
        ("r.csv", "source_id,title\n1,x\n", "no source column"),
    ],
)
def test_unusable_files_raise_at_once(folder, name, content, message):
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(RegistryFileError, match=message) as err:
        open_registry_file(path)
    assert str(path) in str(err.value) and len(str(err.value).splitlines()) == 1


def test_missing_file(tmp_path):
    with pytest.raises(RegistryFileError, match="no such file"):
        open_registry_file(tmp_path / "nope.csv")


def test_read_registry_file_keeps_the_old_shape(folder):
    (folder / "r.csv").write_text(
        HEADER + "demo,A1,seal,Seal,stolen,photos/a.jpg|https://example.org/b.jpg\ndemo,,x,No id,stolen,\n"
    )
    parsed = read_registry_file(folder / "r.csv")
    (rec,) = parsed.records
    assert rec["image_urls"] == [
        (folder / "photos" / "a.jpg").resolve().as_uri(),
        "https://example.org/b.jpg",
    ]
    assert parsed.errors == [("row 3", "missing source_id")]


@pytest.mark.parametrize(
    "body, refused, lines, kept",
    [
        # a quote left open in the last rows: they are swallowed into one short row
        (
            'u,U-1,"Unclosed title,stolen\nu,U-2,Fine,stolen\nu,U-3,Fine too,looted\n',
            "row 2",
            "lines 2 to 4",
            [],
        ),
        # left open mid-file, closed by the next quoted cell: a cell holds whole rows
        (
            'u,U-1,Fine,stolen\nu,U-2,"Lion statue,stolen\nu,U-3,x,stolen\nu,U-4,"Quoted",looted\n'
            "u,U-5,After,stolen\n",
            "row 3",
            "lines 3 to 5",
            ["U-1", "U-5"],
        ),
    ],
)
def test_a_quote_left_open_refuses_its_row_and_names_the_lines(tmp_path, body, refused, lines, kept):
    path = tmp_path / "r.csv"
    path.write_text("source,source_id,title,status\n" + body)
    got = rows(path)
    (bad,) = [r for r in got if r.record is None]
    assert bad.label == refused and "a quote left open" in bad.errors[0] and lines in bad.errors[0]
    assert [r.record["source_id"] for r in got if r.record] == kept


def test_a_quoted_line_break_with_the_headers_cells_is_kept(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text('source,source_id,title,status\nu,U-1,"two\nlines",stolen\n')
    (row,) = rows(path)
    assert row.record["title"] == "two\nlines" and not row.errors


def test_columns_nothing_reads_and_maps_to_no_column_are_named(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("source,source_id,Titel,Material\nmm,MM-1,Schale,Ton\n")
    warnings = open_registry_file(path, mapping={"material": "materials", "nope": "title"}).warnings()
    assert any("'titel' is no Object ID field" in w for w in warnings)
    assert not any("material" in w and "no Object ID" in w for w in warnings)
    assert "--map nope:title: the file has no column 'nope'" in warnings
