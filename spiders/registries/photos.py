"""Photo references in a registry file: http(s) URLs pass through, local paths are confined to one folder.

A registry file is input from outside: its ``images`` column may name ``/etc/passwd``, ``../../x``,
``/proc/self/environ``, a symlink out of the folder or a FIFO. A local photo is accepted only if it resolves
(symlinks followed) inside the photo folder, outside /proc, /sys and /dev, and is a regular file no larger
than ``MAX_PHOTO_BYTES``. ``read_photo`` checks again when the bytes are read, walking the path one
component at a time without following symlinks, so a file swapped after the check is refused too.
No message here ever holds a byte of the file it refuses; paths are quoted as written, shortened.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

__all__ = ["MAX_PHOTO_BYTES", "PhotoRefused", "check_photo", "read_photo", "confined_root"]

MAX_PHOTO_BYTES = 50 * 1024 * 1024
SPECIAL_ROOTS = ("/proc", "/sys", "/dev")
_WINDOWS_ABSOLUTE = re.compile(r"^(?:[A-Za-z]:[\\/]|\\\\)")  # C:\x, C:/x, \\server\share


class PhotoRefused(ValueError):
    """A photo reference that is not read; the message says why and quotes only the path."""


def quote(text: str, limit: int = 80) -> str:
    """``text`` shortened to ``limit`` characters, as a Python literal (so control characters show)."""
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def confined_root(folder: str | Path) -> Path:
    """The resolved photo folder; raises PhotoRefused if it is not a directory or lies under /proc etc."""
    root = Path(folder).resolve()
    if _special(root):
        raise PhotoRefused(f"photo folder {quote(str(folder))} is under /proc, /sys or /dev")
    if not root.is_dir():
        raise PhotoRefused(f"photo folder {quote(str(folder))} is not a directory")
    return root


def check_photo(ref: str, root: Path, max_bytes: int | None = None) -> str:
    """One photo reference as written in the file -> an http(s) URL or a confined absolute local path.

    ``root`` is the resolved photo folder (``confined_root``). Raises PhotoRefused (message starts with
    ``image '...':``) for other URL schemes, ``file:`` URLs, absolute paths, escapes from ``root``,
    /proc, /sys, /dev, missing files, non-regular files (FIFOs, directories) and files over ``max_bytes``
    (default MAX_PHOTO_BYTES). The file is stat-ed, never opened.
    """
    shown = f"image {quote(ref)}"
    scheme = urlsplit(ref).scheme.lower() if ":" in ref else ""
    if _WINDOWS_ABSOLUTE.match(ref) or ref.startswith("/"):
        raise PhotoRefused(f"{shown}: absolute paths are not read (give a path relative to the photo folder)")
    if scheme in ("http", "https"):
        if not urlsplit(ref).netloc:
            raise PhotoRefused(f"{shown}: a URL without a host")
        return ref
    if scheme == "file":
        raise PhotoRefused(f"{shown}: file: URLs are not read (give a path relative to the photo folder)")
    if len(scheme) > 1:
        raise PhotoRefused(f"{shown}: only http(s) URLs and file paths are read")
    target = _resolve_inside(ref.replace("\\", "/"), root, shown)
    try:
        info = os.stat(target)
    except FileNotFoundError:
        raise PhotoRefused(f"{shown}: no such file") from None
    except OSError as exc:
        raise PhotoRefused(f"{shown}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    _check_regular(info, shown, MAX_PHOTO_BYTES if max_bytes is None else max_bytes)
    return str(target)


def read_photo(path: str | Path, root: Path, max_bytes: int = MAX_PHOTO_BYTES) -> bytes:
    """The bytes of a local registry photo, confined again at read time.

    ``path`` is a path from ``RegistryRow.photos`` (absolute, inside ``root``) or a path relative to
    ``root``. Each component below ``root`` is opened with O_NOFOLLOW, so a symlink swapped in after the
    check is refused; the opened file must be a regular file of at most ``max_bytes`` (checked on the open
    descriptor, and again while reading, in case it grows). Raises PhotoRefused with a reason that quotes
    the path only.
    """
    shown = f"image {quote(str(path))}"
    root = Path(root).resolve()
    if _special(root):
        raise PhotoRefused(f"{shown}: the photo folder is under /proc, /sys or /dev")
    target = _resolve_inside(str(path), root, shown)
    parts = target.relative_to(root).parts
    if not parts:
        raise PhotoRefused(f"{shown}: not a regular file (the photo folder itself)")
    dir_flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    fds = [os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)]
    try:
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            flags = (os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC) if last else dir_flags
            try:
                fds.append(os.open(part, flags, dir_fd=fds[-1]))
            except FileNotFoundError:
                raise PhotoRefused(f"{shown}: no such file") from None
            except OSError as exc:  # ELOOP / ENOTDIR: a symlink where the check saw a real file or folder
                raise PhotoRefused(
                    f"{shown}: changed since it was checked or cannot be opened "
                    f"({exc.strerror or type(exc).__name__})"
                ) from None
        _check_regular(os.fstat(fds[-1]), shown, max_bytes)
        data = _read_capped(fds[-1], max_bytes)
        if data is None:
            raise PhotoRefused(f"{shown}: grew past {max_bytes:,} bytes while being read")
        return data
    finally:
        for fd in reversed(fds):
            os.close(fd)


def _resolve_inside(ref: str, root: Path, shown: str) -> Path:
    """``ref`` resolved against ``root`` (symlinks followed); refused unless it stays inside ``root``."""
    if "\x00" in ref:
        raise PhotoRefused(f"{shown}: a path with a NUL character")
    try:
        target = (root / PurePosixPath(ref)).resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop, a name too long
        raise PhotoRefused(f"{shown}: cannot be resolved ({type(exc).__name__})") from None
    if _special(target):
        raise PhotoRefused(f"{shown}: points under /proc, /sys or /dev")
    if target != root and root not in target.parents:
        raise PhotoRefused(f"{shown}: outside the photo folder (a '..' escape or a symlink out)")
    return target


def _special(path: Path) -> bool:
    text = str(path)
    return any(text == r or text.startswith(r + "/") for r in SPECIAL_ROOTS)


def _check_regular(info: os.stat_result, shown: str, max_bytes: int) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise PhotoRefused(f"{shown}: a directory, not a file")
    if stat.S_ISFIFO(info.st_mode):
        raise PhotoRefused(f"{shown}: not a regular file (a FIFO)")
    if not stat.S_ISREG(info.st_mode):
        raise PhotoRefused(f"{shown}: not a regular file (a device or socket)")
    if info.st_size > max_bytes:
        raise PhotoRefused(f"{shown}: {info.st_size:,} bytes (limit {max_bytes:,})")


def _read_capped(fd: int, max_bytes: int) -> bytes | None:
    """At most ``max_bytes`` from ``fd``; None if the file holds more."""
    chunks, total = [], 0
    while chunk := os.read(fd, min(1 << 20, max_bytes + 1 - total)):
        chunks.append(chunk)
        total += len(chunk)
        if total > max_bytes:
            return None
    return b"".join(chunks)
