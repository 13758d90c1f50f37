"""Opening the review database: WAL, a busy timeout, every migration applied, and a file that is not a
lootwatch database (empty, a folder, another program's, damaged) refused in one line before it is written;
and the write transaction every writer uses (``atomic``).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlite_utils import Database

from .schema import migrations

__all__ = ["open_db", "atomic", "now", "busy_timeout_ms", "DatabaseProblem", "damaged", "is_damage"]

BUSY_TIMEOUT_MS = 30_000


def now() -> str:
    """UTC timestamp in ISO 8601, seconds precision."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


@contextmanager
def atomic(db: Database) -> Iterator[Database]:
    """One write transaction, taking the write lock at its start (BEGIN IMMEDIATE).

    sqlite-utils' ``atomic`` begins a deferred transaction; one that reads before it writes cannot wait
    for another writer (SQLite answers "database is locked" at once rather than deadlock), and crawls,
    matches and the review UI write to the same file. Nested blocks use a savepoint.
    """
    if db.conn.in_transaction:
        with db.atomic():  # a savepoint inside the outer transaction
            yield db
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    else:
        db.conn.execute("COMMIT")


def busy_timeout_ms() -> int:
    """How long a writer waits for another one before giving up (LOOTWATCH_BUSY_TIMEOUT_MS)."""
    try:
        return int(os.environ.get("LOOTWATCH_BUSY_TIMEOUT_MS", BUSY_TIMEOUT_MS))
    except ValueError:
        return BUSY_TIMEOUT_MS


class DatabaseProblem(ValueError):
    """The review database cannot be used as it is; the message says why and what to do, in one line."""


SQLITE_MAGIC = b"SQLite format 3\x00"
DAMAGE = ("SQLITE_CORRUPT", "SQLITE_NOTADB")


def is_damage(exc: BaseException) -> bool:
    """True when SQLite says the file is damaged or no database ("database disk image is malformed",
    "file is not a database"), as opposed to busy, full or a bug."""
    return isinstance(exc, sqlite3.DatabaseError) and getattr(exc, "sqlite_errorname", None) in DAMAGE


def damaged(path: str | Path, exc: BaseException) -> DatabaseProblem:
    """The one line for a damaged database: what SQLite said, how to check it, how to restore it."""
    return DatabaseProblem(
        f'database {path} is damaged ({exc}); check it with: sqlite3 {path} "PRAGMA integrity_check" '
        'and restore your latest copy of it (`lootwatch restore` from the replica: README, "Backups")'
    )


def open_db(path: str | Path, create: bool = True) -> Database:
    """Open the review database, in WAL mode with a busy timeout, fully migrated.

    Only a path where nothing exists is created, and only with ``create`` (commands that only read
    pass False). An existing file that is empty, a folder, not SQLite, another program's database or
    damaged raises ``DatabaseProblem`` with a one-line reason; it is never written over.
    """
    path = Path(path)
    exists = path.exists() or path.is_symlink()
    if not exists and not create:
        raise DatabaseProblem(f"database {path} does not exist (run a crawl or `lootwatch demo` first)")
    if exists:
        _check_file(path)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        db = Database(path)
        db.execute(f"PRAGMA busy_timeout = {busy_timeout_ms()}")
        tables = db.table_names()  # the first read: a truncated or garbled file fails here
        if exists:
            _check_lootwatch(db, path, tables, create)
        db.enable_wal()
        db.execute("PRAGMA foreign_keys = ON")
        migrations.apply(db)
    except sqlite3.DatabaseError as exc:
        if is_damage(exc):
            raise damaged(path, exc) from exc
        raise
    return db


def _check_file(path: Path) -> None:
    """Refuse a file that cannot be a lootwatch database before SQLite touches it: SQLite would take an
    empty file for a new database and write one over it."""
    if not path.is_file():
        raise DatabaseProblem(f"database {path} is {'a folder' if path.is_dir() else 'not a file'}")
    try:
        with path.open("rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise DatabaseProblem(f"database {path} cannot be read ({exc.strerror})") from exc
    if not head:
        raise DatabaseProblem(
            f"database {path} is an empty file (0 bytes), not a lootwatch database; it is not made anew "
            "over it: restore your copy of it, or remove it to start a new database"
        )
    if head != SQLITE_MAGIC:
        raise DatabaseProblem(f"{path} is not a lootwatch database (not an SQLite file); check --db or `db`")


def _check_lootwatch(db: Database, path: Path, tables: list[str], create: bool) -> None:
    """Refuse another program's SQLite database, and an empty one where data is expected."""
    if not tables:
        if create:
            return  # an SQLite file with nothing in it yet (a first run interrupted): made a database now
        raise DatabaseProblem(
            f"database {path} holds no lootwatch data yet (run a crawl or `lootwatch demo` first)"
        )
    if not migrations.applied(db):
        shown = ", ".join(sorted(tables)[:4]) + (", ..." if len(tables) > 4 else "")
        raise DatabaseProblem(
            f"{path} is an SQLite database but not lootwatch's (its tables: {shown}); check --db or `db`"
        )
