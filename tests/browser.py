"""A real headless Chromium (Debian's chromium and chromium-driver) and a Datasette server on loopback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from reports.review import datasette_command

INSTALL = "install Debian's Chromium to run it: apt-get install chromium chromium-driver"


def chrome():
    """A headless Chromium driven by chromedriver, or skip the test saying how to get one."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not browser or not driver:
        pytest.skip(f"no chromium/chromedriver on this machine; {INSTALL}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1400"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(driver), options=options)


class Datasette:
    """``datasette serve`` of a review database on a free loopback port, for as long as the block runs."""

    def __init__(self, db: Path, env: dict[str, str] | None = None):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        # The same command `lootwatch review` runs, with the same metadata.
        command = datasette_command(db, db.with_suffix(".datasette.json"), port=self.port)
        self.proc = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **(env or {})}
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 60
        while True:
            try:
                # The sign-in page answers without signing in, with reviewers or read-only.
                urllib.request.urlopen(self.url + "/-/login", timeout=2)
                break
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    self.proc.kill()
                    raise RuntimeError(
                        f"datasette did not start: {self.proc.stderr.read()[-2000:]!r}"
                    ) from None
                time.sleep(0.2)

    def __enter__(self) -> Datasette:
        return self

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
