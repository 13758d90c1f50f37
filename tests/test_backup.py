"""Backup and recovery of the review database: Litestream replicates it to S3 (moto in server mode on a
loopback port) while verdicts and a match write to it; a restore to a new path holds every row and verdict.
Restore refuses to replace a database, and says in one line when there is no backup, the storage cannot be
reached or the credentials are refused."""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import certifi
import pytest
import yaml

from lootwatch.backup import (
    INSTALL,
    BackupProblem,
    Replica,
    child_env,
    explain,
    litestream_binary,
    litestream_config,
    replica_settings,
)
from lootwatch.config import Config, ConfigError, load_config
from matcher.db import connect, store

from .conftest import LOOTWATCH, ROOT
from .review_db import hostile_db

WHY = "moto is not installed: pip install 'moto[server]' boto3 (make venv installs them)"
moto_server = pytest.importorskip("moto.server", reason=WHY)
moto_settings = pytest.importorskip("moto.settings", reason=WHY)
boto3 = pytest.importorskip("boto3", reason=WHY)

try:
    LITESTREAM: Path | None = litestream_binary()
except BackupProblem:
    LITESTREAM = None
pytestmark = pytest.mark.skipif(LITESTREAM is None, reason=f"the litestream binary is missing: {INSTALL}")

BUCKET = "lootwatch-backups"
KEY_ID = "AKIAEXAMPLE0TEST9WXYZ"
SECRET = "moto-secret-that-must-never-be-printed"
NOT_RUNNING = "Litestream is not running (no `lootwatch backup` on it): start `lootwatch backup`"
NOTE = (
    "checked the photo against the registry record; " * 330
)  # ~16 KB: 300 of them pass Litestream's checkpoint


@pytest.fixture(scope="module")
def s3():
    """moto's S3 on a free loopback port, with one bucket; its endpoint URL."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request otherwise
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )
    client.create_bucket(Bucket=BUCKET)
    yield endpoint, client
    server.stop()


def environment(endpoint: str, prefix: str) -> dict[str, str]:
    """The child's environment: the storage and credentials as an installation sets them, with
    AWS_CA_BUNDLE set as on machines behind a TLS-inspecting proxy (Litestream 0.5 does not start with it;
    lootwatch hands it over as SSL_CERT_FILE)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOOTWATCH_", "AWS_"))}
    return {
        **env,
        "AWS_CA_BUNDLE": os.environ.get("AWS_CA_BUNDLE") or certifi.where(),
        "PYTHONPATH": str(ROOT),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_REGION": "us-east-1",
        "LOOTWATCH_BACKUP_BUCKET": BUCKET,
        "LOOTWATCH_BACKUP_PATH": prefix,
    }


def lootwatch(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*LOOTWATCH, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)


def review_db(path: Path) -> None:
    """The hostile candidate of review_db.py, 20 more candidates and 10 verdicts."""
    db, _ = hostile_db(path)
    for n in range(20):
        lid, _ = store.upsert_listing(
            db, {"site": "s", "lot_id": str(n), "title": f"Relief {n}", "content_sha256": str(n)}
        )
        cid = (
            db.table("candidates")
            .insert({"listing_id": lid, "kind": "flags", "tier": "review", "score": 60.0})
            .last_pk
        )
        if n % 2:
            store.add_review(db, cid, "dismissed", "analyst", "not the registry object")
    db.close()


def rows(path: Path) -> dict[str, object]:
    """Every table's row count, and the candidates and verdicts in full."""
    conn = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True)
    try:
        tables = [
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        ]
        out: dict[str, object] = {
            t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables
        }
        out["reviews rows"] = conn.execute("SELECT * FROM reviews ORDER BY id").fetchall()
        out["candidates rows"] = conn.execute("SELECT * FROM candidates ORDER BY id").fetchall()
        return out
    finally:
        conn.close()


def objects(client, prefix: str) -> int:
    return client.list_objects_v2(Bucket=BUCKET, Prefix=prefix + "/").get("KeyCount", 0)


def wait_for(what: str, check, seconds: float, proc: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"lootwatch backup stopped ({proc.returncode}):\n{log.read_text()[-3000:]}")
        if result := check():
            return result
        time.sleep(0.3)
    raise AssertionError(f"{what}: not within {seconds} s" + (f"\n{log.read_text()[-3000:]}" if log else ""))


@contextmanager
def replicating(env: dict[str, str], db_path: Path, log: Path, client, prefix: str):
    """``lootwatch backup`` running on ``db_path`` from its first file in the bucket; on leaving, waits
    until ``backup --status`` says current, then stops it with SIGTERM and checks that it stopped cleanly."""
    with log.open("a") as out:
        proc = subprocess.Popen(
            [*LOOTWATCH, "--db", str(db_path), "backup"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for("the first file in the bucket", lambda: objects(client, prefix), 30, proc, log)
        yield proc

        def current():
            done = lootwatch(env, "--db", str(db_path), "backup", "--status")
            return done if done.returncode == 0 else None

        status = wait_for("backup --status saying current", current, 30, proc, log)
        assert status.stdout.strip().endswith(": current"), status.stdout
        assert f"s3://{BUCKET}/{prefix}" in status.stdout
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    assert code == 0, log.read_text()[-3000:]
    assert log.read_text().rstrip().endswith('msg="litestream shut down"'), log.read_text()[-3000:]


def verdicts(db_path: Path, count: int, start: int = 0) -> None:
    """``count`` verdicts of ~16 KB, each its own transaction as in the review UI."""
    db = connect.open_db(db_path, create=False)
    for n in range(start, start + count):
        store.add_review(db, 1 + n % 21, ("confirmed", "escalated", "note")[n % 3], "analyst", f"{n} {NOTE}")
    db.close()


def restored_as(env: dict[str, str], db_path: Path, target: Path, want: dict) -> None:
    """Restore to ``target`` (a new path) and compare every table's rows with ``want``."""
    done = lootwatch(env, "--db", str(db_path), "restore", "--to", str(target))
    assert done.returncode == 0, done.stderr
    assert rows(target) == want
    counts = f"{len(want['candidates rows'])} candidates, {len(want['reviews rows'])} verdicts"
    assert done.stdout.strip().endswith(counts), done.stdout
    with sqlite3.connect(target) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_replicate_while_writing_stop_and_restore_every_row(s3, tmp_path):
    endpoint, client = s3
    prefix = f"t/{uuid.uuid4().hex}"
    env = environment(endpoint, prefix)
    db_path = tmp_path / "review.db"
    review_db(db_path)
    log = tmp_path / "backup.log"
    with replicating(env, db_path, log, client, prefix):
        # The daily run's match and 300 verdicts write while Litestream replicates: ~5 MB, past the WAL
        # size (1000 pages) at which Litestream and SQLite checkpoint, so checkpoints run between them.
        match = subprocess.Popen(
            [*LOOTWATCH, "--db", str(db_path), "match"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        verdicts(db_path, 300)
        _, match_err = match.communicate(timeout=120)
        assert match.returncode == 0, match_err[-2000:]
    first = rows(db_path)
    assert len(first["reviews rows"]) == 310
    restored_as(env, db_path, tmp_path / "elsewhere" / "first.db", first)

    # 300 verdicts while Litestream is stopped (SQLite's own checkpoints fold the WAL in and start it
    # again): the status says it does not run.
    verdicts(db_path, 300, start=300)
    behind = lootwatch(env, "--db", str(db_path), "backup", "--status")
    assert behind.returncode == 1
    assert behind.stdout.strip().endswith(NOT_RUNNING), behind.stdout

    # Started again, Litestream catches up with what it missed.
    with replicating(env, db_path, log, client, prefix):
        verdicts(db_path, 10, start=600)
    final = rows(db_path)
    assert len(final["reviews rows"]) == 620
    restored = tmp_path / "elsewhere" / "restored.db"
    restored_as(env, db_path, restored, final)

    # Restore does not replace a database, unless told to, and then keeps it aside.
    before = hashlib.sha256(restored.read_bytes()).hexdigest()
    again = lootwatch(env, "--db", str(db_path), "restore", "--to", str(restored))
    assert again.returncode == 1
    assert again.stderr.count("\n") == 1 and f"{restored} exists" in again.stderr, again.stderr
    assert hashlib.sha256(restored.read_bytes()).hexdigest() == before
    forced = lootwatch(env, "--db", str(db_path), "restore", "--to", str(restored), "--force")
    assert forced.returncode == 0, forced.stderr
    aside = [p for p in restored.parent.iterdir() if p.name.startswith("restored.db.before-restore-")]
    assert len(aside) == 1 and hashlib.sha256(aside[0].read_bytes()).hexdigest() == before
    assert rows(restored) == final


def test_restore_in_place_and_the_backup_goes_on(s3, tmp_path):
    """The database lost: restored where it was (Litestream's old state beside it moved aside), then
    backed up again from where the replica stood; a later restore holds the verdicts of both runs."""
    endpoint, client = s3
    prefix = f"t/{uuid.uuid4().hex}"
    env = environment(endpoint, prefix)
    home = tmp_path / "at $HOME"  # read as a variable, Litestream would look for another file
    home.mkdir()
    db_path = home / "review.db"
    review_db(db_path)
    log = tmp_path / "backup.log"
    with replicating(env, db_path, log, client, prefix):
        verdicts(db_path, 20)
    for path in home.glob("review.db*"):
        path.unlink()
    done = lootwatch(env, "--db", str(db_path), "restore")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"moved aside: {home / '.review.db-litestream.before-restore-'}")
    assert done.stdout.strip().endswith("21 candidates, 30 verdicts"), done.stdout
    with replicating(env, db_path, log, client, prefix):
        verdicts(db_path, 20, start=20)
    want = rows(db_path)
    assert len(want["reviews rows"]) == 50
    restored_as(env, db_path, tmp_path / "check.db", want)


def test_restore_from_an_empty_path_says_so_in_one_line(s3, tmp_path):
    endpoint, _ = s3
    env = environment(endpoint, "nothing/here")
    target = tmp_path / "restored.db"
    done = lootwatch(env, "--db", str(tmp_path / "review.db"), "restore", "--to", str(target))
    assert done.returncode == 1
    assert done.stderr == (
        f"lootwatch: no backup at s3://{BUCKET}/nothing/here on {endpoint}: nothing to restore "
        "(check [backup] path or LOOTWATCH_BACKUP_PATH)\n"
    )
    assert list(tmp_path.iterdir()) == []  # no half-restored file, no temporary folder


def test_status_of_a_database_never_backed_up_turns_wal_on(s3, tmp_path):
    endpoint, _ = s3
    db_path = tmp_path / "review.db"
    review_db(db_path)
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0] == "delete"
    done = lootwatch(
        environment(endpoint, f"t/{uuid.uuid4().hex}"), "--db", str(db_path), "backup", "--status"
    )
    assert done.returncode == 1
    assert done.stdout.startswith("replica s3://") and done.stdout.count("\n") == 1
    assert done.stdout.strip().endswith("the replica is empty: start `lootwatch backup`"), done.stdout
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_unreachable_storage_is_one_line_at_once(tmp_path):
    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = environment(f"http://127.0.0.1:{port}", "t/x")
    db_path = tmp_path / "review.db"
    review_db(db_path)
    for args in (["restore", "--to", str(tmp_path / "r.db")], ["backup"]):
        started = time.monotonic()
        done = lootwatch(env, "--db", str(db_path), *args)
        assert done.returncode == 1
        assert done.stderr == (
            f"lootwatch: object storage http://127.0.0.1:{port} cannot be reached (127.0.0.1:{port}: "
            "Connection refused); check AWS_ENDPOINT_URL and the network\n"
        )
        assert time.monotonic() - started < 30  # Litestream alone retries for about 2 minutes


def test_storage_that_takes_the_connection_but_never_answers_is_one_line_in_seconds(tmp_path):
    """A listener that accepts and never replies: restore would wait for ever, backup a minute."""
    db_path = tmp_path / "review.db"
    review_db(db_path)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(32)  # the kernel completes the connections; nothing ever reads or writes
        port = listener.getsockname()[1]
        env = environment(f"http://127.0.0.1:{port}", "t/x")
        for args in (["restore", "--to", str(tmp_path / "r.db")], ["backup"], ["backup", "--status"]):
            started = time.monotonic()
            done = subprocess.run(
                [*LOOTWATCH, "--db", str(db_path), *args],
                env=env, cwd=ROOT, capture_output=True, text=True, timeout=50,
            )  # fmt: skip
            assert done.returncode == 1, args
            assert done.stderr == (
                f"lootwatch: object storage http://127.0.0.1:{port} took the connection but did not answer "
                "within 5 s; check AWS_ENDPOINT_URL (the S3 port) and that the storage is running\n"
            ), args
            assert time.monotonic() - started < 20, args
    assert not (tmp_path / "r.db").exists()


def test_a_restore_that_does_not_finish_is_stopped_with_one_line(tmp_path, monkeypatch):
    """Storage that answers the check, then stalls: restore's Litestream is given RESTORE_SECONDS."""
    from lootwatch import backup as lb

    stalled = tmp_path / "litestream"
    stalled.write_text("#!/bin/sh\nexec sleep 30\n")
    stalled.chmod(0o755)
    monkeypatch.setattr(lb, "_probe", lambda replica: None)
    monkeypatch.setattr(lb, "RESTORE_SECONDS", 1.0)
    replica = Replica(BUCKET, "t/x", endpoint="http://127.0.0.1:9")
    started = time.monotonic()
    with pytest.raises(BackupProblem, match=r"^object storage http://127.0.0.1:9 did not answer within 1 s;"):
        lb.restore(stalled, tmp_path / "review.db", replica, tmp_path / "r.db")
    assert time.monotonic() - started < 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["litestream"]  # nothing left behind


def test_one_backup_per_database_and_no_restore_over_a_database_in_use(s3, tmp_path):
    """A second `lootwatch backup` on the same database is refused; so is `restore --force` while the
    backup runs or while another process (the review UI) has the database open; and the status says
    Litestream is not running as soon as it stopped, though the review UI keeps the -wal file."""
    endpoint, client = s3
    prefix = f"t/{uuid.uuid4().hex}"
    env = environment(endpoint, prefix)
    db_path = tmp_path / "review.db"
    review_db(db_path)
    log = tmp_path / "backup.log"

    def restore_force() -> subprocess.CompletedProcess:
        return subprocess.run(
            [*LOOTWATCH, "--db", str(db_path), "restore", "--force"],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    with replicating(env, db_path, log, client, prefix) as proc:
        verdicts(db_path, 5)
        second = subprocess.run(
            [*LOOTWATCH, "--db", str(db_path), "backup"],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        held = f"lootwatch: `lootwatch backup` (pid {proc.pid}) is replicating {db_path}: stop it first"
        assert second.returncode == 1 and second.stderr.startswith(held), second.stderr
        assert second.stderr.count("\n") == 1
        forced = restore_force()
        assert forced.returncode == 1 and forced.stderr.startswith(held), forced.stderr
        assert forced.stderr.count("\n") == 1
        ui = sqlite3.connect(db_path)  # the review UI, open before Litestream stops
        ui.execute("SELECT count(*) FROM reviews").fetchone()
    try:
        assert Path(f"{db_path}-wal").exists()
        status = lootwatch(env, "--db", str(db_path), "backup", "--status")
        assert status.returncode == 1 and status.stdout.strip().endswith(NOT_RUNNING), status.stdout
        forced = restore_force()
        assert forced.returncode == 1
        assert forced.stderr == (
            f"lootwatch: {db_path} is open in another process (the review UI, the daily run or Litestream): "
            "stop them before restoring over it\n"
        )
        assert ui.execute("SELECT count(*) FROM reviews").fetchone()[0] == 15
    finally:
        ui.close()
    assert not list(tmp_path.glob("review.db.before-restore-*"))
    forced = restore_force()
    assert forced.returncode == 0, forced.stderr
    assert forced.stdout.strip().endswith("21 candidates, 15 verdicts"), forced.stdout


def test_refused_credentials_are_one_line(s3, tmp_path, monkeypatch):
    endpoint, _ = s3
    monkeypatch.setattr(moto_settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)  # moto checks keys from now on
    env = environment(endpoint, "t/x")
    db_path = tmp_path / "review.db"
    review_db(db_path)
    for args in (["restore", "--to", str(tmp_path / "r.db")], ["backup"]):
        done = lootwatch(env, "--db", str(db_path), *args)
        assert done.returncode == 1
        assert done.stderr.startswith(
            f"lootwatch: object storage {endpoint} refused the credentials (InvalidAccessKeyId): check "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        ), done.stderr
        assert done.stderr.count("\n") == 1
        assert KEY_ID not in done.stderr + done.stdout and SECRET not in done.stderr + done.stdout
    assert not (tmp_path / "r.db").exists()


def test_a_missing_bucket_is_one_line(s3, tmp_path):
    endpoint, _ = s3
    env = {**environment(endpoint, "t/x"), "LOOTWATCH_BACKUP_BUCKET": "no-such-bucket"}
    done = lootwatch(env, "--db", str(tmp_path / "review.db"), "restore", "--to", str(tmp_path / "r.db"))
    assert done.returncode == 1
    assert done.stderr == (
        f"lootwatch: bucket no-such-bucket does not exist at {endpoint}: create it, or set [backup] bucket "
        "or LOOTWATCH_BACKUP_BUCKET\n"
    )


def test_a_hostile_database_path_stays_literal_in_the_config(tmp_path):
    """Quotes, a colon, a newline and $VARIABLES in the path come back from the YAML as written; the
    config is run with -no-expand-env, so Litestream does not read $HOME as a variable."""
    folder = tmp_path / "a $HOME ${PATH}" / "x: 'y'\n- z"
    folder.mkdir(parents=True)
    config = yaml.safe_load(litestream_config(folder / "review.db", Replica("b-1", "p/review.db")))
    assert config == {
        "dbs": [
            {
                "path": str((folder / "review.db").resolve()),
                "replica": {
                    "type": "s3",
                    "bucket": "b-1",
                    "path": "p/review.db",
                    "region": "us-east-1",
                    "force-path-style": False,
                },
            }
        ]
    }


@pytest.fixture(scope="module")
def s3_tls(tmp_path_factory):
    """moto's S3 over TLS on a loopback port, with a self-signed certificate for 127.0.0.1 and one bucket;
    its endpoint URL and the certificate's file."""
    import ipaddress
    import threading
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "storage.pem", folder / "storage.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(
        "127.0.0.1",
        0,
        app,
        True,
        request_handler=MotoRequestHandler,
        ssl_context=(str(cert_file), str(key_file)),
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    endpoint = f"https://127.0.0.1:{server.server_address[1]}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        verify=str(cert_file),
    ).create_bucket(Bucket=BUCKET)
    yield endpoint, cert_file
    server.shutdown()
    thread.join()


def test_storage_over_tls_with_its_own_ca(s3_tls, tmp_path):
    """Untrusted, the certificate is one line at once (Litestream would retry for 2 minutes); named in
    AWS_CA_BUNDLE, Litestream trusts it (through SSL_CERT_FILE) and reads the bucket."""
    endpoint, cert_file = s3_tls
    env = {k: v for k, v in environment(endpoint, "nothing/here").items() if k != "SSL_CERT_FILE"}
    untrusted = {k: v for k, v in env.items() if k != "AWS_CA_BUNDLE"}
    target = tmp_path / "r.db"
    done = lootwatch(untrusted, "--db", str(tmp_path / "review.db"), "restore", "--to", str(target))
    assert done.returncode == 1
    assert done.stderr.startswith(f"lootwatch: the TLS certificate of {endpoint} is not trusted ("), (
        done.stderr
    )
    assert done.stderr.count("\n") == 1
    trusted = {**env, "AWS_CA_BUNDLE": str(cert_file)}
    done = lootwatch(trusted, "--db", str(tmp_path / "review.db"), "restore", "--to", str(target))
    assert done.returncode == 1
    assert done.stderr.startswith(f"lootwatch: no backup at s3://{BUCKET}/nothing/here on {endpoint}:"), (
        done.stderr
    )
    assert not target.exists()


def test_aws_ca_bundle_is_handed_over_as_ssl_cert_file():
    assert child_env({"AWS_CA_BUNDLE": "/etc/ssl/unit.pem", "HOME": "/h"}) == {
        "SSL_CERT_FILE": "/etc/ssl/unit.pem",
        "HOME": "/h",
    }
    both = {"AWS_CA_BUNDLE": "/storage.pem", "SSL_CERT_FILE": "/general.pem"}
    assert child_env(both) == {"SSL_CERT_FILE": "/storage.pem"}
    assert child_env({"SSL_CERT_FILE": "/general.pem"}) == {"SSL_CERT_FILE": "/general.pem"}


def test_litestream_messages_become_one_line():
    replica = Replica("b-1", "p/review.db", endpoint="http://minio:9000")
    said = {
        "Error: s3: cannot load aws config: unable to add custom RootCAs HTTPClient, has no "
        "WithTransportOptions, *http.Client": "cannot use ca_bundle of ~/.aws/config",
        "Error: no matching backup files available": "no backup at s3://b-1/p/review.db on http://minio:9000",
        "time=... level=INFO\nError: something new\n": "litestream failed: Error: something new",
        "": "litestream failed: no message",
    }
    for stderr, line in said.items():
        assert line in explain(stderr, replica)
        assert "\n" not in explain(stderr, replica)


def test_printed_config_has_no_secrets(s3, tmp_path):
    endpoint, _ = s3
    db_path = tmp_path / "review.db"
    done = lootwatch(
        environment(endpoint, "units/review.db"), "--db", str(db_path), "backup", "--print-config"
    )
    assert done.returncode == 0, done.stderr
    written = (tmp_path / "review.litestream.yml").read_text()
    assert done.stdout == written
    for part in (f"path: {db_path.resolve()}", "type: s3", f"bucket: {BUCKET}", "path: units/review.db"):
        assert part in written
    assert f"endpoint: {endpoint}" in written and "force-path-style: true" in written
    everything = done.stdout + done.stderr
    assert KEY_ID not in everything and SECRET not in everything and KEY_ID[:-4] not in everything
    assert "AWS_ACCESS_KEY_ID ****WXYZ, AWS_SECRET_ACCESS_KEY set" in done.stderr
    assert f"replicate -config {tmp_path.resolve() / 'review.litestream.yml'} -no-expand-env" in done.stderr


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({}, "no bucket for the backup"),
        ({"LOOTWATCH_BACKUP_BUCKET": "Has_Upper"}, "is not an S3 bucket name"),
        ({"LOOTWATCH_BACKUP_BUCKET": "ok-bucket", "LOOTWATCH_BACKUP_PATH": "a/../b"}, "backup path 'a/../b'"),
        ({"LOOTWATCH_BACKUP_BUCKET": "ok-bucket", "LOOTWATCH_BACKUP_PATH": "a\nb"}, "backup path"),
        ({"LOOTWATCH_BACKUP_BUCKET": "ok-bucket", "LOOTWATCH_BACKUP_PATH": "ab\n"}, "backup path"),
        ({"LOOTWATCH_BACKUP_BUCKET": "ok-bucket\n"}, "is not an S3 bucket name"),
        ({"LOOTWATCH_BACKUP_BUCKET": "ok-bucket", "AWS_ENDPOINT_URL": "http://k:s@h:9000"}, "no user, path"),
        ({"LOOTWATCH_BACKUP_BUCKET": "ok-bucket", "AWS_ENDPOINT_URL": "file:///etc"}, "http:// or https://"),
        ({"LOOTWATCH_BACKUP_BUCKET": "ok-bucket", "AWS_ENDPOINT_URL": "http://h:99999"}, "is not a URL"),
        ({"LOOTWATCH_BACKUP_BUCKET": "ok-bucket", "AWS_REGION": "eu central"}, "is not a region name"),
    ],
)
def test_hostile_settings_are_refused(env, problem):
    with pytest.raises(BackupProblem, match=problem.replace("(", r"\(").replace(".", r"\.")):
        replica_settings(Config(db=Path("/srv/review.db")), env)


def test_settings_from_the_file_and_the_environment(tmp_path):
    toml = tmp_path / "lootwatch.toml"
    toml.write_text('db = "review.db"\n[backup]\nbucket = "from-file"\nregion = "eu-central-1"\n')
    cfg = load_config(toml)
    assert replica_settings(cfg, {}) == Replica("from-file", "lootwatch/review.db", "eu-central-1", "", False)
    env = {"LOOTWATCH_BACKUP_BUCKET": "from-env", "AWS_ENDPOINT_URL": "http://minio.lan:9000/"}
    assert replica_settings(cfg, env) == Replica(
        "from-env", "lootwatch/review.db", "eu-central-1", "http://minio.lan:9000", True
    )
    toml.write_text('[backup]\nbuckets = "typo"\n')
    with pytest.raises(ConfigError, match="has no key 'buckets'"):
        load_config(toml)
