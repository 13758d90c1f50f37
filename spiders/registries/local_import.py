"""Import a registry file at disk speed: records and local photos are read directly, photos hashed on
every core, and only photo URLs go through the crawler (politely). Run by ``lootwatch registry import``.

Rows stream from the reader and are written in batched transactions; a photo's bytes are kept under
``data_dir/originals`` as the crawler keeps them, hashed once per SHA-256 in worker processes
(``matcher.photo.hash_pool``), and the parent alone writes the database. Records of the file's source that
the file no longer holds are marked withdrawn, as after any complete listing.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matcher.db import connect, store
from matcher.db.ingest import keep_original, known_fields, store_fingerprint
from matcher.photo import hashes
from matcher.photo.hash_pool import Hashed, HashPool

from .files import RegistryRow, open_registry_file, read_photo

__all__ = ["ImportCounts", "Reporter", "import_registry", "fetch_photo_urls", "is_url", "RUN_NAME"]

RUN_NAME = "registry_file"  # the crawl_runs name registry file imports have always had
BATCH_ROWS = 1_000  # rows per transaction: few commits, short write locks
BATCH_PHOTOS = 64  # photos per transaction: bounds the bytes and fingerprints held at once


@dataclass
class ImportCounts:
    """What an import did, row by row and photo by photo."""

    read: int = 0  # rows read from the file
    stored: int = 0  # records stored (new or updated)
    refused: int = 0  # rows refused (each named on the console)
    hashed: int = 0  # photos hashed by this import
    known: int = 0  # photos whose hashes were already stored, or repeated in the file
    photo_errors: int = 0  # photos refused, unreadable or undecodable (each named on the console)
    withdrawn: int = 0  # records of the file's sources no longer in it
    withdrawal_skipped: bool = False  # rows were refused, so nothing was withdrawn
    url_photos: int = 0  # photo URLs handed to the crawler
    run_id: int | None = None  # this import's crawl_runs row
    read_seconds: float = 0.0  # spent reading, digesting and keeping photo bytes (the fetch step)
    by_source: dict[str, set[str]] = field(default_factory=dict, repr=False)

    def summary(self, where: str = "the errors table") -> str:
        """The import's outcome in one line; ``where`` names the place problems are kept."""
        text = (
            f"{self.stored} records stored, {self.refused} rows refused; {self.hashed} photos hashed (new), "
            f"{self.known} already known, {self.photo_errors} photo errors; "
            f"{self.withdrawn} records no longer in the file marked withdrawn"
        )
        if self.withdrawal_skipped:
            text += " (none withdrawn: with rows refused the file is no complete listing)"
        if self.refused or self.photo_errors:
            text += f". The file was usable: each problem is named above and kept in {where}"
        return text


class Reporter:
    """Receives the import's console output; the default says nothing. Subclass to show it."""

    def line(self, text: str) -> None:
        """One refused row or photo problem, in one line."""

    def progress(self, counts: ImportCounts) -> None:
        """Called after every batch and every hashed photo."""


def is_url(photo: str) -> bool:
    """True for an http(s) URL (fetched by the crawler), False for a local path (read here)."""
    return photo.startswith(("http://", "https://"))


@dataclass
class _Photo:
    url: str  # as stored in registry_images: file:// URI of a local path, or the URL
    position: int
    sha256: str | None = None
    error: str | None = None


@dataclass
class _Row:
    label: str
    record: dict[str, Any] | None
    errors: list[str]
    photos: list[_Photo]
    listed: int = 0  # photos the row lists that can be read (local paths and URLs)


def import_registry(
    db_path: str | Path,
    data_dir: str | Path,
    file: str | Path,
    source: str | None = None,
    mapping: dict[str, str] | None = None,
    photo_root: str | Path | None = None,
    workers: int | None = None,
    reporter: Reporter | None = None,
) -> ImportCounts:
    """Import ``file`` into the review database; photo URLs are left to ``fetch_photo_urls``.

    Raises ``files.RegistryFileError`` (one line) when the file as a whole is unusable.
    :param workers: hashing processes (default: one per core; 1 hashes in this process).
    """
    rows = open_registry_file(file, source=source, mapping=mapping, photo_root=photo_root)  # checks the file
    reporter = reporter or Reporter()
    for warning in rows.warnings():
        reporter.line(warning)
    db = connect.open_db(db_path)
    job = _Import(db, Path(data_dir) / "originals", Path(file), rows.photo_root, reporter)
    job.run_id = job.counts.run_id = store.start_run(db, RUN_NAME, "registry")
    status = "failed"
    try:
        with HashPool(workers) as pool:
            job.run(rows, pool)
        status = "finished"
    finally:
        store.finish_run(db, job.run_id, status, job.stats())
    return job.counts


class _Import:
    """One import: rows to records and photo rows, photos to the hash pool, results to the database."""

    def __init__(self, db: Any, originals: Path, file: Path, root: Path, reporter: Reporter):
        self.db, self.originals, self.file, self.root, self.reporter = db, originals, file, root, reporter
        self.counts = ImportCounts()
        self.run_id: int | None = None
        self.fields: dict[str, dict[str, Any]] = {}  # sha256 -> image row fields (or error), this run
        self.queued: set[str] = set()  # sha256 being hashed
        self.unkept: dict[str, bytes] = {}  # sha256 -> bytes being hashed, kept under originals once decoded
        self.fresh: set[str] = set()  # sha256 hashed by this run whose first photo row is not written yet
        self.waiting: dict[str, list[tuple[int, _Photo, str]]] = {}  # sha256 -> rows to write when hashed
        self.done: list[Hashed] = []

    def run(self, rows: Iterable[RegistryRow], pool: HashPool) -> None:
        """Read, hash and write every row, then mark what left the file withdrawn."""
        for chunk in _chunks(rows, BATCH_ROWS, BATCH_PHOTOS):
            prepared = [self._prepare(row, pool) for row in chunk]  # reading waits outside the transaction
            with connect.atomic(self.db):
                self._store_hashed()
                kept = [row for row in prepared if self._accept(row)]
                ids = store.upsert_registry_objects(self.db, [row.record for row in kept])
                for row, object_id in zip(kept, ids, strict=True):
                    self._write(row, object_id)
            self.reporter.progress(self.counts)
        self.done += pool.finish()
        with connect.atomic(self.db):
            self._store_hashed()
        # A refused row may be a record still in the file that could not be read: the file is then no
        # complete listing, and withdrawing what it lacks would drop a stored record (and its candidates).
        if self.counts.refused:
            self.counts.withdrawal_skipped = True
        else:
            for source, ids in self.counts.by_source.items():
                self.counts.withdrawn += store.withdraw_unseen(self.db, source, ids)
        self.reporter.progress(self.counts)

    def _prepare(self, row: RegistryRow, pool: HashPool) -> _Row:
        self.counts.read += 1
        photos = []
        if row.record is not None:
            for position, photo in enumerate(row.photos):
                if is_url(photo):
                    self.counts.url_photos += 1
                else:
                    photos.append(self._read(photo, position, pool))
        return _Row(row.label, row.record, list(row.errors), photos, len(row.photos))

    def _read(self, path: str, position: int, pool: HashPool) -> _Photo:
        photo = _Photo(Path(path).as_uri(), position)
        started = time.perf_counter()
        try:
            data = read_photo(path, self.root)
        except (ValueError, OSError) as exc:  # PhotoRefused is a ValueError; its text never quotes bytes
            photo.error = _reason(exc)
            return photo
        photo.sha256 = digest = hashes.sha256(data)
        self.counts.read_seconds += time.perf_counter() - started
        if digest in self.fields or digest in self.queued:
            return photo
        known = known_fields(self.db, digest, all_transforms=True)
        if known is not None:
            self._keep(data, digest)
            self.fields[digest] = known
        else:
            self.queued.add(digest)
            self.unkept[digest] = data  # kept once it decodes: a text file named .jpg is no original
            self.done += pool.submit(digest, data)
        return photo

    def _keep(self, data: bytes, digest: str) -> None:
        started = time.perf_counter()
        keep_original(self.originals, data, digest)
        self.counts.read_seconds += time.perf_counter() - started

    def _store_hashed(self) -> None:
        for result in self.done:
            self.queued.discard(result.key)
            data = self.unkept.pop(result.key, None)
            if result.fingerprint is not None:
                if data is not None:
                    self._keep(data, result.key)
                self.fields[result.key] = store_fingerprint(self.db, result.fingerprint)
                self.fresh.add(result.key)
                self.counts.hashed += 1
            else:
                self.fields[result.key] = {"error": result.error}
            for object_id, photo, label in self.waiting.pop(result.key, []):
                self._write_photo(object_id, photo, label)
        if self.done:
            self.reporter.progress(self.counts)
        self.done = []

    def _accept(self, row: _Row) -> bool:
        """False (and the row refused, by name) for a refused or repeated record."""
        if row.record is None:
            self._refuse(row.label, "; ".join(row.errors) or "refused")
            return False
        source, source_id = str(row.record["source"]), str(row.record["source_id"])
        ids = self.counts.by_source.setdefault(source, set())
        if source_id in ids:
            self._refuse(row.label, f"duplicate record {source}:{source_id} (the first one is kept)")
            return False
        ids.add(source_id)
        return True

    def _write(self, row: _Row, object_id: int) -> None:
        self.counts.stored += 1
        for reason in row.errors:  # photos the reader refused; the record itself is kept
            self._photo_error(None, row.label, reason, stage="registry")
        store.retire_registry_images(self.db, object_id, row.listed)
        for photo in row.photos:
            if photo.sha256 is not None and photo.sha256 not in self.fields:
                self.waiting.setdefault(photo.sha256, []).append((object_id, photo, row.label))
            else:
                self._write_photo(object_id, photo, row.label)

    def _write_photo(self, object_id: int, photo: _Photo, label: str) -> None:
        fields = self.fields.get(photo.sha256 or "", {"error": photo.error})
        if fields.get("error"):
            self._photo_error(photo.url, label, f"photo {_name(photo.url)}: {fields['error']}", stage="photo")
        elif photo.sha256 in self.fresh:
            self.fresh.discard(photo.sha256)  # counted as hashed; later rows with it are "already known"
        else:
            self.counts.known += 1
        store.upsert_registry_image(self.db, object_id, photo.url, photo.position, **fields)

    def _refuse(self, label: str, reason: str) -> None:
        self.counts.refused += 1
        self.reporter.line(f"{label} refused: {reason}")
        store.record_error(self.db, self.run_id, "registry", f"{self.file} {label}", reason)

    def _photo_error(self, url: str | None, label: str, reason: str, stage: str) -> None:
        self.counts.photo_errors += 1
        self.reporter.line(f"{label}: {reason}")
        store.record_error(self.db, self.run_id, stage, url or f"{self.file} {label}", reason)

    def stats(self) -> dict[str, Any]:
        """The run's counts under the crawler's stat names, for ``crawl_runs``."""
        c = self.counts
        return {
            "lootwatch/store/items": c.stored,
            "lootwatch/store/images": c.hashed,
            "lootwatch/errors": c.refused + c.photo_errors,
            "lootwatch/registry/refused": c.refused,
            "lootwatch/registry/photos_known": c.known,
            "lootwatch/registry/photo_errors": c.photo_errors,
            "lootwatch/registry/withdrawn": c.withdrawn,
            "lootwatch/registry/url_photos": c.url_photos,
        }


def fetch_photo_urls(
    counts: ImportCounts,
    db_path: str | Path,
    data_dir: str | Path,
    spider_args: dict[str, Any],
    scrapy_settings: dict[str, Any] | None = None,
    reporter: Reporter | None = None,
) -> None:
    """Fetch, keep and hash the photo URLs of an imported file with the registry_file spider, at the
    crawler's politeness, and add its counts and photo problems to ``counts``.

    :param spider_args: the spider's ``path``, ``source``, ``mapping`` (text) and ``photo_root``.
    Runs the Twisted reactor, so once per process.
    """
    from spiders.run import project_settings, run_stages

    # Each photo problem is one console line below; Scrapy's own log would say it again, with tracebacks.
    settings = project_settings(db_path, data_dir, **({"LOG_LEVEL": "ERROR"} | (scrapy_settings or {})))
    args = {k: str(v) for k, v in spider_args.items() if v} | {"only": "urls"}
    stats = run_stages(settings, [[(RUN_NAME, args)]])[0]
    counts.hashed += stats.get("lootwatch/store/images", 0)  # the pipeline counts known URL photos too
    db = connect.open_db(db_path)
    failed = db.execute(
        "SELECT e.url, e.reason FROM errors e JOIN crawl_runs r ON r.id = e.run_id "
        "WHERE r.id > ? AND r.spider = ? AND e.stage IN ('photo', 'refused', 'cap') ORDER BY e.id",
        [counts.run_id or 0, RUN_NAME],
    ).fetchall()
    counts.photo_errors += len(failed)
    for url, reason in failed:
        (reporter or Reporter()).line(f"photo {url}: {reason}")


def _chunks(rows: Iterable[RegistryRow], max_rows: int, max_photos: int) -> Iterator[list[RegistryRow]]:
    chunk: list[RegistryRow] = []
    photos = 0
    for row in rows:
        chunk.append(row)
        photos += len(row.photos)
        if len(chunk) >= max_rows or photos >= max_photos:
            yield chunk
            chunk, photos = [], 0
    if chunk:
        yield chunk


def _name(url: str) -> str:
    return url.rsplit("/", 1)[-1]


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError):  # the OS's words, never the file's bytes
        return f"cannot be read ({exc.strerror or type(exc).__name__})"
    return str(exc)
