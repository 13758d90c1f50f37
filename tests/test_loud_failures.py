"""Failures are loud: every command exits non-zero when its work failed, one line per failure saying
what and why, and the libraries' own logs stay quiet unless --verbose."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from lootwatch.cli import main
from matcher.db import connect, store
from spiders.registries.local_import import import_registry

from .conftest import LOOTWATCH, ROOT, run_cli
from .photo_site import PhotoSite


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config(folder: Path, **scrapy: str) -> str:
    lines = ['db = "l.db"', 'data_dir = "data"', 'report_dir = "reports"', "[scrapy]"]
    lines += [f"{key} = {value}" for key, value in scrapy.items()]
    (folder / "lootwatch.toml").write_text("\n".join(lines) + "\n")
    return str(folder / "lootwatch.toml")


def stderr_lines(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.strip()]


# -- daily and crawl: each failed site named with the reason its run recorded ----------------------


def test_daily_dry_run_names_the_site_that_stored_nothing_and_exits_1(tmp_path, monkeypatch):
    """The measured case: eBay's API spider without a token stored nothing, and daily said only
    "1 errors" and exited 0, so a timer would report success every day."""
    monkeypatch.delenv("EBAY_OAUTH_TOKEN", raising=False)
    proc = run_cli("--config", config(tmp_path), "daily", "--dry-run", check=False)
    assert proc.returncode == 1
    assert stderr_lines(proc) == [
        "lootwatch: crawl: ebay_browse stored 0 lots: EBAY_OAUTH_TOKEN is not set: no eBay API calls made"
    ]
    # The other stages ran all the same: the other sites' lots are matched and reported.
    assert [line for line in proc.stdout.splitlines() if line.startswith("== ")] == [
        "== crawl",
        "== match",
        "== report",
    ]
    assert "ebay_browse: 0 lots stored, 0 unchanged, 0 gone, 0 photos, 1 error\n" in proc.stdout


def test_crawl_of_an_unreachable_site_says_why_without_scrapy_log(tmp_path):
    proc = run_cli(
        "--config",
        config(tmp_path),
        "crawl",
        "demo_aurora",
        "--demo-url",
        f"http://127.0.0.1:{closed_port()}",
        check=False,
    )
    assert proc.returncode == 1
    (line,) = stderr_lines(proc)
    assert line.startswith("lootwatch: crawl: demo_aurora stored 0 lots: ")
    assert "Connection was refused" in line
    assert "Traceback" not in proc.stderr and "[scrapy" not in proc.stderr


def test_a_spider_that_cannot_start_is_named_and_the_others_run(tmp_path, monkeypatch):
    monkeypatch.delenv("EBAY_OAUTH_TOKEN", raising=False)
    cfg = config(tmp_path, SPIDER_MODULES='["spiders.markets", "spiders.registries", "tests.broken_spider"]')
    proc = run_cli("--config", cfg, "crawl", "broken_house", "ebay_browse", check=False)
    assert proc.returncode == 1
    assert stderr_lines(proc) == [
        "lootwatch: crawl: broken_house could not start: ValueError: broken_house: no start URL configured",
        "lootwatch: crawl: ebay_browse stored 0 lots: EBAY_OAUTH_TOKEN is not set: no eBay API calls made",
    ]


def test_a_site_that_stored_lots_is_no_failure(tmp_path):
    from reports.failures import failed_runs

    db = connect.open_db(tmp_path / "l.db")
    run = store.start_run(db, "house", "market")
    store.record_error(db, run, "fetch", "https://h.example/lot/9", "HTTP 404")
    stats = {"lootwatch/store/items": 12, "lootwatch/errors": 1}
    store.finish_run(db, run, "finished", stats)
    assert failed_runs(db, 0, [("house", stats)]) == []
    run = store.start_run(db, "house", "market")
    store.finish_run(db, run, "shutdown", stats)
    (line,) = failed_runs(db, run - 1, [("house", stats)])
    assert line == "house ended early (shutdown) after 12 lots: nothing found and no error recorded: " + (
        "the site's layout may have changed, or the crawler is blocked"
    )


# -- quiet libraries ------------------------------------------------------------------------------


def test_daily_prints_no_library_log_unless_verbose(tmp_path, monkeypatch):
    """About 70 lines of Scrapy's log and faiss's ModuleNotFoundError on every daily run, before."""
    monkeypatch.delenv("EBAY_OAUTH_TOKEN", raising=False)
    cfg = config(tmp_path)
    quiet = run_cli("--config", cfg, "daily", "--dry-run", check=False)
    assert "[scrapy" not in quiet.stderr and "faiss" not in quiet.stderr
    assert "ModuleNotFoundError" not in quiet.stderr
    assert len(stderr_lines(quiet)) == 1  # the failed site, and nothing else
    assert "\n\n" not in quiet.stdout  # progress bars draw nothing (not even blank lines) in a log
    loud = run_cli("--verbose", "--config", cfg, "daily", "--dry-run", check=False)
    assert "[scrapy.core.engine] INFO: Spider opened" in loud.stderr


def test_registry_import_prints_no_scrapy_log(tmp_path):
    """A photo URL that fails is one line of lootwatch's, not Scrapy's retry errors."""
    port = closed_port()
    cfg = config(
        tmp_path,
        LOOTWATCH_ALLOW_HOSTS=f'["127.0.0.1:{port}"]',
        DOWNLOAD_DELAY="0",
        AUTOTHROTTLE_ENABLED="false",
        RETRY_TIMES="1",
    )
    (tmp_path / "r.csv").write_text(f"source,source_id,images\nb,1,http://127.0.0.1:{port}/a.jpg\n")
    proc = run_cli("--config", cfg, "registry", "import", str(tmp_path / "r.csv"), check=False)
    assert proc.returncode == 0  # the file was usable (README: refused photos do not fail an import)
    assert "[scrapy" not in proc.stderr and "Traceback" not in proc.stderr
    assert f"photo http://127.0.0.1:{port}/a.jpg: " in proc.stderr


# -- check ------------------------------------------------------------------------------------------


def photo(path: Path, seed: int) -> Path:
    arr = (np.random.default_rng(seed).random((30, 40, 3)) * 255).astype(np.uint8)
    Image.fromarray(arr).resize((400, 300)).save(path, quality=90)
    return path


@pytest.fixture(scope="module")
def one_record(tmp_path_factory) -> tuple[Path, Path]:
    """A registry of one record with one photo; the database and the photo."""
    folder = tmp_path_factory.mktemp("one-record")
    photo(folder / "r.jpg", 5)
    (folder / "r.csv").write_text("source,source_id,title,images\nbank,1,Stele,r.jpg\n")
    import_registry(folder / "l.db", folder / "data", folder / "r.csv", workers=1)
    return folder / "l.db", folder / "r.jpg"


def test_check_says_1_candidate(one_record):
    db, registry_photo = one_record
    result = CliRunner().invoke(main, ["--db", str(db), "check", str(registry_photo)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == f"{registry_photo}: 1 candidate"


@pytest.mark.parametrize("as_json", [False, True])
def test_check_names_a_url_as_typed_and_fetches_nothing(one_record, tmp_path, as_json):
    db, registry_photo = one_record
    with PhotoSite() as site:
        urls = [f"{site.url}/x.jpg", "https://example.org/x.jpg"]
        args = ["--db", str(db), "check", *urls, str(registry_photo), *(["--json"] if as_json else [])]
        result = CliRunner().invoke(main, args)
    assert site.hits == []  # never fetched, least of all at a loopback (non-public) address
    assert result.exit_code == 1
    lines = result.output.splitlines()
    if as_json:
        first, second, third = (json.loads(line) for line in lines)
        assert [first["image"], second["image"]] == urls
        assert first["error"].startswith("a URL: check reads photo files only")
        assert third["candidates"][0]["source_id"] == "1"
    else:
        assert (
            lines[0]
            == f"{urls[0]}: error: a URL: check reads photo files only; save the photo and give its path"
        )
        assert lines[1].startswith("https://example.org/x.jpg: error: a URL")
        assert "https:/example.org" not in result.output


def test_check_exits_1_when_every_photo_failed(one_record, tmp_path):
    db, _ = one_record
    (tmp_path / "not-a-photo.jpg").write_text("<html>")
    result = CliRunner().invoke(
        main, ["--db", str(db), "check", str(tmp_path / "not-a-photo.jpg"), "gone.jpg"]
    )
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"{tmp_path / 'not-a-photo.jpg'}: error: not an image format lootwatch reads (6 bytes)",
        "gone.jpg: error: cannot be read (No such file or directory)",
    ]


# -- review on a busy port --------------------------------------------------------------------------


def test_review_on_a_busy_port_says_so_before_any_link(tmp_path):
    connect.open_db(tmp_path / "l.db").conn.close()
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        env = {"PYTHONPATH": str(ROOT), "PATH": str(Path(sys.executable).parent)}
        try:
            proc = subprocess.run(
                [*LOOTWATCH, "--db", str(tmp_path / "l.db"), "review", "--port", str(port)],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
        except subprocess.TimeoutExpired as exc:  # it started a server after all
            raise AssertionError("review started on a busy port") from exc
    assert proc.returncode == 2
    assert proc.stdout == ""  # no link to the other program's server
    (line,) = stderr_lines(proc)
    assert line.startswith(f"lootwatch: port {port} on 127.0.0.1 is in use")
    assert "choose another with --port, e.g. --port " in line


# -- progress where stderr is a log -----------------------------------------------------------------


def test_progress_is_a_plain_line_now_and_then_where_stderr_is_no_terminal(capsys, monkeypatch):
    from lootwatch import progress

    clock = iter([0.0, 1.0, 11.0, 12.0, 25.0, 40.0])
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    with progress.bars({"lots crawled": 50}) as update:  # started at 0 s
        update("lots crawled", 3, None)  # 1 s: too soon
        update("lots crawled", 9, None)  # 11 s: shown
        update("lots crawled", 9, None)  # 12 s: too soon
        update("lots crawled", 9, None)  # 25 s: not moved, not shown again
        update("lots crawled", 50, None)  # 40 s: shown
    assert capsys.readouterr().err.splitlines() == ["lots crawled: 9 of 50", "lots crawled: 50 of 50"]
