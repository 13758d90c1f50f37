"""Services for the multi-node tests and benchmark, all on 127.0.0.1 and started here: S3 (moto in
server mode), Scrapyd daemons each in its own folder, and a lootwatch.toml that joins them up."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[1]
BUCKET = "lootwatch-test"
SCRAPYD_CONF = """[scrapyd]
bind_address = 127.0.0.1
http_port = {port}
eggs_dir = eggs
logs_dir = logs
dbs_dir = dbs
items_dir =
poll_interval = 0.5
max_proc = {max_proc}

[settings]
lootwatch = tests.node_settings
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class S3:
    """moto's S3 on loopback, with the test bucket; ``env`` is what a process needs to reach it."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.port = free_port()
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        self.env = {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{self.port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        os.environ.update(self.env)  # for this process's boto3 too
        boto3.client("s3").create_bucket(Bucket=BUCKET)

    def keys(self, prefix: str) -> list[str]:
        pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        return sorted(o["Key"] for p in pages for o in p.get("Contents", []))

    def close(self) -> None:
        self.server.stop()


class Scrapyd:
    """One Scrapyd daemon in ``folder``, its own session (so killing it takes its crawls with it, as a
    machine that dies would)."""

    def __init__(self, folder: Path, env: dict[str, str], max_proc: int = 4):
        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self.port = folder, free_port()
        (folder / "scrapyd.conf").write_text(SCRAPYD_CONF.format(port=self.port, max_proc=max_proc))
        # Scrapy finds the project's settings module by SCRAPY_PROJECT in the scrapy.cfg of the folder.
        (folder / "scrapy.cfg").write_text("[settings]\nlootwatch = tests.node_settings\n")
        self.log = (folder / "scrapyd.out").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "scrapyd"],
            cwd=folder,
            env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    out = (folder / "scrapyd.out").read_text()[-2000:]
                    raise RuntimeError(f"scrapyd did not start: {out}") from None
                time.sleep(0.2)
        raise RuntimeError("scrapyd did not listen within 30 s")

    def kill(self) -> None:
        """SIGKILL the daemon and the crawls it started (its process group): the node is gone."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.log.close()


def write_config(
    path: Path,
    db: Path,
    storage: str,
    nodes: dict[str, tuple[str, list[str]]],
    houses: dict[str, str],
    batch_items: int = 5,
    node_state: str = "state",
    concurrency: int = 2,
    delay: float = 0.0,
) -> Path:
    """A lootwatch.toml for the review machine: the nodes (name -> (Scrapyd URL, sites)), the storage,
    the fake houses (site -> URL) and the loopback allow list they need."""
    hosts = [url.split("//", 1)[1] for url in houses.values()]
    lines = [
        f'db = "{db}"',
        "[scrapy]",
        'SPIDER_MODULES = ["tests.node_sites"]',
        f"LOOTWATCH_ALLOW_HOSTS = {json.dumps(hosts)}",
        f"LOOTWATCH_TEST_SITES = {json.dumps(json.dumps(houses))}",
        f"CONCURRENT_REQUESTS_PER_DOMAIN = {concurrency}",
        f"DOWNLOAD_DELAY = {delay}",
        "AUTOTHROTTLE_ENABLED = false",
        'LOG_LEVEL = "INFO"',
        "[storage]",
        f'url = "{storage}"',
        f"batch_items = {batch_items}",
    ]
    for name, (url, sites) in nodes.items():
        lines += [
            f"[nodes.{name}]",
            f'url = "{url}"',
            f"sites = {json.dumps(sites)}",
            f'data_dir = "{node_state}/data"',
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def lootwatch(
    config: Path, *args: str, env: dict[str, str], timeout: float = 240
) -> subprocess.CompletedProcess:
    """Run ``lootwatch --config CONFIG ARGS`` in a subprocess (its own reactor)."""
    return subprocess.run(
        [sys.executable, "-m", "lootwatch.cli", "--config", str(config), *args],
        cwd=ROOT,
        env={**os.environ, **env, "PYTHONPATH": str(ROOT), "COLUMNS": "120"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def lootwatch_started(config: Path, *args: str, env: dict[str, str], **pipes) -> subprocess.Popen:
    """Start ``lootwatch --config CONFIG ARGS`` in a subprocess and return it running; ``pipes`` (stdout,
    stderr, text) go to Popen."""
    return subprocess.Popen(
        [sys.executable, "-m", "lootwatch.cli", "--config", str(config), *args],
        cwd=ROOT,
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        **pipes,
    )


def registry_base(tmp: Path, source: str) -> Path:
    """A review database at ``tmp/base.db`` holding the planted registry (``node_sites``), imported by
    ``lootwatch registry import`` in a subprocess; raises RuntimeError with its stderr if that fails."""
    from tests.node_sites import registry_photos_cached

    photos = tmp / "registry"
    photos.mkdir()
    rows = ["source,source_id,title,images"]
    for source_id, data in registry_photos_cached():
        (photos / f"{source_id}.jpg").write_bytes(data)
        rows.append(f"{source},{source_id},Object {source_id},{source_id}.jpg")
    (photos / "registry.csv").write_text("\n".join(rows) + "\n")
    base = tmp / "base.db"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "lootwatch.cli",
            "--db",
            str(base),
            "registry",
            "import",
            str(photos / "registry.csv"),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    return base
