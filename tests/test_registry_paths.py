"""Photo paths in a registry file are confined to its folder (or the photo root), and nothing of a refused
file ever reaches a message."""

import os

import pytest

from spiders.registries.files import PhotoRefused, RegistryFileError, open_registry_file, read_photo

SECRET = "SMTP_PASSWORD=hunter2-do-not-leak"


@pytest.fixture
def folder(tmp_path):
    """tmp/registry/{r.csv, photos/a.jpg}; tmp/secret.txt beside it, outside the registry folder."""
    (tmp_path / "secret.txt").write_text(SECRET)
    reg = tmp_path / "registry"
    (reg / "photos").mkdir(parents=True)
    (reg / "photos" / "a.jpg").write_bytes(b"\xff\xd8 a photo")
    return reg


def photo_row(folder, images: str, **kwargs):
    (folder / "r.csv").write_text(f"source,source_id,images\nlka,A1,{images}\n")
    (row,) = open_registry_file(folder / "r.csv", **kwargs)
    return row


def refused(folder, images: str) -> str:
    row = photo_row(folder, images)
    assert row.record is not None and row.photos == [], "the row is kept, the photo is not"
    (reason,) = row.errors
    assert "hunter2" not in reason and "root:" not in reason
    return reason


def test_a_relative_path_inside_the_folder(folder):
    row = photo_row(folder, "photos/a.jpg")
    assert row.photos == [str(folder.resolve() / "photos" / "a.jpg")] and row.errors == []


def test_windows_separators(folder):
    assert photo_row(folder, "photos\\a.jpg").photos == [str(folder.resolve() / "photos" / "a.jpg")]


def test_etc_passwd(folder):
    assert "absolute paths are not read" in refused(folder, "/etc/passwd")


def test_proc_self_environ(folder):
    assert "absolute paths are not read" in refused(folder, "/proc/self/environ")


def test_windows_absolute_path(folder):
    assert "absolute paths are not read" in refused(folder, "C:\\Users\\x.jpg")


def test_dot_dot_escape(folder):
    assert "outside the photo folder" in refused(folder, "../secret.txt")


def test_deep_dot_dot_escape(folder):
    assert "outside the photo folder" in refused(folder, "../../x")


def test_symlink_out_of_the_folder(folder):
    (folder / "photos" / "link.jpg").symlink_to(folder.parent / "secret.txt")
    assert "outside the photo folder" in refused(folder, "photos/link.jpg")


def test_symlink_to_proc(folder):
    (folder / "photos" / "env.jpg").symlink_to("/proc/self/environ")
    assert "under /proc, /sys or /dev" in refused(folder, "photos/env.jpg")


def test_symlink_inside_the_folder_is_followed(folder):
    (folder / "photos" / "b.jpg").symlink_to(folder / "photos" / "a.jpg")
    assert photo_row(folder, "photos/b.jpg").photos == [str(folder.resolve() / "photos" / "a.jpg")]


def test_fifo(folder):
    os.mkfifo(folder / "photos" / "pipe.jpg")
    assert "not a regular file (a FIFO)" in refused(folder, "photos/pipe.jpg")


def test_directory(folder):
    assert "a directory" in refused(folder, "photos")


def test_file_url(folder):
    assert "file: URLs are not read" in refused(folder, "file:///etc/passwd")


@pytest.mark.parametrize(
    "ref", ["javascript:alert(1)", "ftp://example.org/a.jpg", "data:image/png;base64;AAAA"]
)
def test_other_schemes(folder, ref):
    assert "only http(s) URLs and file paths are read" in refused(folder, ref)


def test_http_urls_pass_through(folder):
    assert photo_row(folder, "https://example.org/a.jpg").photos == ["https://example.org/a.jpg"]


def test_too_large(folder, monkeypatch):
    monkeypatch.setattr("spiders.registries.photos.MAX_PHOTO_BYTES", 4)
    assert refused(folder, "photos/a.jpg") == "image 'photos/a.jpg': 10 bytes (limit 4)"


def test_a_long_path_is_quoted_shortened(folder):
    reason = refused(folder, "../" + "x" * 500)
    assert len(reason) < 200 and "…" in reason


def test_photo_root(folder, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "c.jpg").write_bytes(b"c")
    row = photo_row(folder, "c.jpg|photos/a.jpg", photo_root=elsewhere)
    assert row.photos == [str(elsewhere.resolve() / "c.jpg")]
    assert row.errors == ["image 'photos/a.jpg': no such file"]


def test_photo_root_under_proc_refuses_the_file(folder):
    with pytest.raises(RegistryFileError, match="under /proc"):
        photo_row(folder, "self/environ", photo_root="/proc")


# --- read_photo: confined again when the bytes are read ---------------------------------------------------


def test_read_photo_reads_a_confined_photo(folder):
    assert read_photo(photo_row(folder, "photos/a.jpg").photos[0], folder) == b"\xff\xd8 a photo"


def test_read_photo_refuses_a_symlink_swapped_in_after_the_check(folder):
    (path,) = photo_row(folder, "photos/a.jpg").photos
    os.remove(path)
    os.symlink(folder.parent / "secret.txt", path)
    with pytest.raises(PhotoRefused) as err:
        read_photo(path, folder)
    assert "hunter2" not in str(err.value)


def test_read_photo_refuses_a_folder_swapped_for_a_symlink(folder, tmp_path):
    (path,) = photo_row(folder, "photos/a.jpg").photos
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "a.jpg").write_text(SECRET)
    os.rename(folder / "photos", folder / "old")
    os.symlink(outside, folder / "photos")
    with pytest.raises(PhotoRefused, match="outside the photo folder") as err:
        read_photo(path, folder)
    assert "hunter2" not in str(err.value)


@pytest.mark.parametrize("path", ["/etc/passwd", "/proc/self/environ", "../secret.txt", "/dev/zero"])
def test_read_photo_refuses_paths_outside(folder, path):
    with pytest.raises(PhotoRefused) as err:
        read_photo(path, folder)
    assert "hunter2" not in str(err.value) and "root:" not in str(err.value)


def test_read_photo_refuses_a_fifo_without_blocking(folder):
    os.mkfifo(folder / "photos" / "pipe.jpg")
    with pytest.raises(PhotoRefused, match="FIFO"):
        read_photo("photos/pipe.jpg", folder)


def test_read_photo_size_cap(folder):
    with pytest.raises(PhotoRefused, match=r"10 bytes \(limit 4\)"):
        read_photo("photos/a.jpg", folder, max_bytes=4)


def test_read_photo_refuses_a_root_under_proc():
    with pytest.raises(PhotoRefused, match="under /proc"):
        read_photo("environ", "/proc/self")
