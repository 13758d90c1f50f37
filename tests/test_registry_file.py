import json

import pytest
from PIL import Image

from spiders.registries.files import RegistryFileError, read_registry_file

HEADER = "source,source_id,object_type,title,status,images\n"


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "photos").mkdir()
    Image.new("RGB", (20, 20), "red").save(tmp_path / "photos" / "a.jpg")
    return tmp_path


def test_csv_paths_relative_to_file_and_urls(folder):
    (folder / "r.csv").write_text(
        HEADER + "demo,A1,seal,Cylinder seal,stolen,photos/a.jpg|https://example.org/b.jpg\n"
    )
    parsed = read_registry_file(folder / "r.csv")
    assert parsed.errors == []
    (rec,) = parsed.records
    assert rec["image_urls"] == [
        (folder / "photos" / "a.jpg").resolve().as_uri(),
        "https://example.org/b.jpg",
    ]
    assert (rec["source"], rec["source_id"], rec["object_type"]) == ("demo", "A1", "seal")


def test_missing_ids_duplicates_and_bad_images_are_reported_not_fatal(folder):
    (folder / "r.csv").write_text(
        HEADER
        + "demo,,seal,No id,stolen,\n"
        + "demo,A1,seal,First,stolen,photos/missing.jpg\n"
        + "demo,A1,seal,Again,stolen,\n"
        + "demo,A2,lamp,Lamp,looted,javascript:alert(1)\n"
    )
    parsed = read_registry_file(folder / "r.csv")
    assert [r["source_id"] for r in parsed.records] == ["A1", "A2"]
    reasons = " | ".join(f"{row}: {why}" for row, why in parsed.errors)
    assert "row 2: missing source or source_id" in reasons
    assert "row 3: image 'photos/missing.jpg': no such file" in reasons
    assert "row 4: duplicate record demo:A1" in reasons
    assert "only http(s) URLs and file paths" in reasons


def test_source_from_caller(folder):
    (folder / "r.csv").write_text("source_id,title\nZ9,Relief\n")
    assert read_registry_file(folder / "r.csv", source="bulletin").records[0]["source"] == "bulletin"


def test_json_and_jsonl(folder):
    rows = [{"source": "fbi", "source_id": "1", "title": "Vase", "images": ["https://example.org/v.jpg"]}]
    (folder / "r.json").write_text(json.dumps({"records": rows}))
    (folder / "r.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    for name in ("r.json", "r.jsonl"):
        assert read_registry_file(folder / name).records[0]["image_urls"] == ["https://example.org/v.jpg"]


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("r.csv", "title,images\nX,\n", "no source_id column"),
        ("r.txt", "x", "unknown format"),
        ("r.json", "{broken", "not JSON"),
        ("r.csv", b"source_id\n\xff\xfe\n", "not UTF-8"),
    ],
)
def test_unusable_files_raise(folder, name, content, message):
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(RegistryFileError, match=message):
        read_registry_file(path)


def test_missing_file(tmp_path):
    with pytest.raises(RegistryFileError, match="no such file"):
        read_registry_file(tmp_path / "nope.csv")
