"""Fingerprint photos on every core: worker processes compute, the caller (the one writer) stores.

Workers run ``fingerprint.fingerprint`` only (pure: bytes in, Fingerprint out, no database). At most
``window`` photos are in flight, so memory stays bounded however many photos a registry holds.

Example::

    with HashPool(workers=2) as pool:
        for key, data in photos:
            for done in pool.submit(key, data):
                store_it(done)
        for done in pool.finish():
            store_it(done)
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from .decode import DecodeError
from .embed import ModelError
from .fingerprint import Fingerprint, fingerprint

__all__ = ["Hashed", "HashPool", "default_workers"]


@dataclass
class Hashed:
    """The outcome of one photo: its fingerprint, or why there is none."""

    key: str
    fingerprint: Fingerprint | None
    error: str | None


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def fingerprint_or_error(
    data: bytes, all_transforms: bool, embeddings: bool = True
) -> tuple[Fingerprint | None, str | None]:
    """``fingerprint(data)``, or the one-line reason it failed; never raises for bad bytes."""
    try:
        return fingerprint(data, all_transforms=all_transforms, embeddings=embeddings), None
    except DecodeError as exc:
        return None, str(exc)
    except ModelError:
        # The model failed, not the photo: it is stored with its hashes and features, and the next
        # `lootwatch match` embeds it from the kept original (matcher.db.ingest.stale lists it).
        return fingerprint_or_error(data, all_transforms, embeddings=False)
    except Exception as exc:  # noqa: BLE001 - a bug on one photo must not lose the others
        return None, f"internal error: {type(exc).__name__}: {exc}"


def _one_thread_each() -> None:
    # The workers already fill the cores; BLAS or OpenCV threads inside each would oversubscribe them
    # (PDQ limits BLAS per call in matcher/photo/pdq.py; this also covers OpenCV and any other BLAS use).
    import cv2
    from threadpoolctl import threadpool_limits

    cv2.setNumThreads(1)
    threadpool_limits(limits=1)


class HashPool:
    """Fingerprint photos in ``workers`` processes (in this process when ``workers`` is 1)."""

    def __init__(self, workers: int | None = None, all_transforms: bool = True, window: int | None = None):
        self.workers = max(1, workers or default_workers())
        self.all_transforms = all_transforms
        self.window = window or self.workers * 4
        self._executor: ProcessPoolExecutor | None = None
        self._running: dict[Future, str] = {}

    def __enter__(self) -> HashPool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def submit(self, key: str, data: bytes) -> list[Hashed]:
        """Queue one photo; returns the photos finished meanwhile (waits while the window is full)."""
        if self.workers == 1:
            return [Hashed(key, *fingerprint_or_error(data, self.all_transforms))]
        if self._executor is None:
            # spawn, not fork: the parent holds a database connection and progress-bar threads.
            self._executor = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn"), initializer=_one_thread_each
            )
        try:
            future = self._executor.submit(fingerprint_or_error, data, self.all_transforms)
        except BrokenProcessPool:  # a worker died (killed, out of memory): start afresh
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
            return [*self._collect(set(self._running)), *self.submit(key, data)]
        self._running[future] = key
        if len(self._running) < self.window:
            return self._collect(wait(self._running, timeout=0).done)
        return self._collect(wait(self._running, return_when=FIRST_COMPLETED).done)

    def finish(self) -> list[Hashed]:
        """Wait for every queued photo; returns those not returned yet."""
        return self._collect(wait(self._running).done) if self._running else []

    @property
    def in_flight(self) -> int:
        """Photos queued and not yet returned."""
        return len(self._running)

    def close(self) -> None:
        """Stop the workers (queued photos are dropped)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        self._running.clear()

    def _collect(self, done: set[Future]) -> list[Hashed]:
        out = []
        for future in done:
            key = self._running.pop(future)
            try:
                out.append(Hashed(key, *future.result()))
            except Exception as exc:  # noqa: BLE001 - a worker that died: that photo's error, not a crash
                out.append(Hashed(key, None, f"internal error: {type(exc).__name__}: {exc}"))
        return out
