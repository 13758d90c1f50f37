"""Lock files that say who holds them: one ``lootwatch backup`` or ``restore`` per database, one
``lootwatch ingest`` per review database.

An advisory ``flock`` on a file beside the database, with the holder's process id and command written
in it, so a refusal can name who to wait for. The kernel lets the lock go when the holder dies (even by
SIGKILL), so a crash never leaves a database locked.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

__all__ = ["Held", "beside", "hold", "holder", "release"]


class Held(RuntimeError):
    """Another process holds the lock: ``pid`` (0 when unknown) running ``command``."""

    def __init__(self, pid: int, command: str):
        super().__init__(f"held by pid {pid} ({command})")
        self.pid, self.command = pid, command


def beside(db: str | Path, name: str) -> Path:
    """The lock file ``DB.NAME`` beside the database's real file (a symlink followed, so two paths to one
    database share one lock)."""
    real = Path(db).resolve()
    return real.with_name(f"{real.name}.{name}")


def holder(path: Path, default: str = "") -> tuple[int, str] | None:
    """``(pid, command)`` of the process that holds the lock at ``path``, or None when none does.
    ``default``: the command to name when the file does not say."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            said = os.read(fd, 200).decode("ascii", "replace").split()
            pid = int(said[0]) if said and said[0].isdigit() else 0
            return pid, said[1] if len(said) > 1 else default
        return None
    finally:
        os.close(fd)


def hold(path: Path, command: str, default: str = "") -> int:
    """Take the lock at ``path`` for ``command`` for the life of this process, exec included (the
    descriptor is inheritable); returns its file descriptor.

    :raises Held: another process holds it.
    :raises OSError: the lock file cannot be written.
    """
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise Held(*(holder(path, default) or (0, default))) from None
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                break  # not a file that a finished holder removed after this one opened it
        except FileNotFoundError:
            pass
        os.close(fd)
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()} {command}\n".encode("ascii"))
    os.set_inheritable(fd, True)
    return fd


def release(path: Path, fd: int) -> None:
    """Remove the lock file taken by ``hold`` and let the lock go."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    os.close(fd)
