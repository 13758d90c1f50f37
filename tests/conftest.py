"""Shared test helpers: saved pages as Scrapy responses, the shared/ test data, a small demo run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from scrapy.http import HtmlResponse, Request
from scrapy.utils.test import get_crawler

ROOT = Path(__file__).resolve().parents[1]
FILES = Path(__file__).parent / "files"
SHARED = ROOT.parent / "shared"
LOOTWATCH = [sys.executable, "-m", "lootwatch.cli"]


@pytest.fixture(scope="session")
def shared() -> Path:
    """The workplace's shared test data; tests that need it skip in a clone without it."""
    if not SHARED.is_dir():
        pytest.skip("../shared/ is absent (real test images and captures live there)")
    return SHARED


def response(name: str, url: str) -> HtmlResponse:
    """A saved page from tests/files as the response Scrapy would have received from ``url``."""
    body = (FILES / name).read_bytes()
    return HtmlResponse(url=url, body=body, encoding="utf-8", request=Request(url))


def make_spider(cls, **kwargs):
    """A spider bound to a test crawler (stats, settings) but no database."""
    crawler = get_crawler(cls)
    return cls.from_crawler(crawler, **kwargs)


def run_cli(*args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``lootwatch ARGS`` in a subprocess (each needs its own Twisted reactor)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "120"}
    proc = subprocess.run(
        [*LOOTWATCH, *args], cwd=cwd or ROOT, env=env, capture_output=True, text=True, timeout=900
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"lootwatch {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory) -> dict:
    """One run of ``lootwatch demo --size small``: its output folder and summary, and its stderr as
    ``(seconds since the start, line)`` as the lines arrived."""
    out = tmp_path_factory.mktemp("demo")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "120"}
    started = time.monotonic()
    with (out.parent / f"{out.name}.stdout").open("w") as stdout:
        proc = subprocess.Popen(
            [*LOOTWATCH, "demo", "--size", "small", "--out", str(out)],
            cwd=ROOT,
            env=env,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
        )
        stderr = [(time.monotonic() - started, line.rstrip("\n")) for line in proc.stderr]
        if proc.wait(timeout=900) != 0:
            raise AssertionError("lootwatch demo failed:\n" + "\n".join(line for _, line in stderr[-40:]))
    return {
        "out": out,
        "summary": json.loads((out / "summary.json").read_text()),
        "db": out / "lootwatch.db",
        "stderr": stderr,
    }
