"""The database locked by another process, and the disk full: a clear error, exit status 1, no row
half-written, and the same command succeeds once the fault is gone."""

import os
import resource
import sqlite3
import subprocess
import sys

from matcher.db import connect, store

from .conftest import LOOTWATCH, ROOT

FLAGGED = ("Palmyrene limestone funerary relief", "Syria. Acquired in the 1990s from a reliable supplier.")


def database(path, lots: int):
    db = connect.open_db(path)
    for n in range(lots):
        title, text = FLAGGED
        store.upsert_listing(
            db,
            {
                "site": "s",
                "lot_id": str(n),
                "title": f"{title} {n}",
                "description": text,
                "content_sha256": str(n),
            },
        )
    return db


def lootwatch(*args, env=None, preexec=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*LOOTWATCH, *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=preexec,
    )


def consistent(path) -> bool:
    """Every listing screened has its candidate, and none unscreened has one: no half-written lot."""
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    half = con.execute(
        "SELECT count(*) FROM listings l WHERE (l.flag_version IS NOT NULL) != "
        "EXISTS (SELECT 1 FROM candidates c WHERE c.listing_id = l.id AND c.kind = 'flags')"
    ).fetchone()[0]
    return half == 0


def test_locked_database_is_a_clear_error_and_nothing_is_half_written(tmp_path):
    path = tmp_path / "l.db"
    database(path, 5)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        proc = lootwatch("--db", str(path), "match", env={"LOOTWATCH_BUSY_TIMEOUT_MS": "300"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert proc.returncode == 1
    assert "database is locked" in proc.stderr and "run the command again" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert consistent(path)
    assert lootwatch("--db", str(path), "match").returncode == 0
    assert consistent(path)
    con = sqlite3.connect(path)
    assert con.execute("SELECT count(*) FROM candidates WHERE kind = 'flags'").fetchone()[0] == 5


def test_full_disk_is_a_clear_error_and_nothing_is_half_written(tmp_path):
    path = tmp_path / "l.db"
    database(path, 400)
    limit = 64 * 1024  # files may not grow past 64 KiB: the WAL fills up during screening

    def small_disk():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = lootwatch("--db", str(path), "match", preexec=small_disk)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "disk" in proc.stderr and "free disk space" in proc.stderr  # EFBIG reads as "disk I/O error"
    assert "Traceback" not in proc.stderr
    assert consistent(path)
    assert lootwatch("--db", str(path), "match").returncode == 0
    assert consistent(path)


def test_resource_limits_are_available():
    # The disk-full test relies on RLIMIT_FSIZE and on Python ignoring SIGXFSZ.
    import signal

    assert signal.getsignal(signal.SIGXFSZ) == signal.SIG_IGN and hasattr(resource, "RLIMIT_FSIZE")
    assert sys.platform.startswith("linux")
