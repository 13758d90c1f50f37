"""Ingest the run summaries crawler nodes wrote (``runs/<site>/<day>/<node>/<job>.json``) as
``crawl_runs`` rows with their ``errors``, so crawl-health alerts and the digest see node crawls as they
see single-machine ones; its lots seen are marked seen, and after a complete run the site's lots it did
not see are marked gone, unless a run of the site that ended later is already in (summaries are read in
key order, not in the order the runs ended). Each summary is ledgered in ``batches`` in the same
transaction: read once. A summary that is not JSON, too large, of the wrong shape, or naming another
site, node or job than its key is ledgered as refused with one ``errors`` row; one of a job the review
machine did not schedule (``origins.held_back``) is held back unread, as a batch is. Neither stops the
ingest."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlite_utils import Database

from ..db import connect, store
from .objectstore import RUNS, ObjectStore, StorageError
from .origins import held_back, key_origin

__all__ = ["ingest_run_summaries", "MAX_SUMMARY_BYTES"]

MAX_SUMMARY_BYTES = 8 * 1024 * 1024
MAX_ERRORS = 1000


def ingest_run_summaries(
    db: Database, objects: ObjectStore, check_jobs: bool = False
) -> list[tuple[str, str, int, int, str]]:
    """Ingest every run summary not in the ledger; returns ``(key, status, rows, errors, reason)`` for
    each summary not seen before, status ingested, refused, waiting (the storage did not give it) or
    held (with ``check_jobs``: a job the review machine did not schedule, ``origins.held_back``).

    :raises StorageError: the summaries cannot be listed.
    """
    seen = {row[0] for row in db.execute("SELECT key FROM batches WHERE key LIKE ?", [RUNS + "%"])}
    outcomes = []
    for key, _size in objects.list(RUNS):
        if key in seen:
            continue
        origin = key_origin(key)
        if check_jobs and origin is not None and (held := held_back(db, *origin)) is not None:
            outcomes.append((key, "held", 0, 0, held))
            continue
        try:
            data = objects.get(key, MAX_SUMMARY_BYTES)
        except StorageError as exc:
            outcomes.append((key, "waiting", 0, 0, str(exc)))
            continue
        try:
            summary = _parse(data, origin)
        except ValueError as exc:
            _ledger(db, key, data, None, f"run summary refused: {exc}")
            outcomes.append((key, "refused", 0, 1, f"run summary: {exc}"))
            continue
        _ledger(db, key, data, summary, None)
        outcomes.append((key, "ingested", 1, 0, ""))
    return outcomes


def _parse(data: bytes, origin: tuple[str, str, str] | None) -> dict[str, Any]:
    if origin is None:
        raise ValueError("a run summary key is runs/<site>/<day>/<node>/<job>.json")
    summary = json.loads(data)
    if not isinstance(summary, dict) or not isinstance(summary.get("stats"), dict):
        raise ValueError("not a run summary (an object with stats)")
    for name in ("site", "node", "job", "status", "started_at", "finished_at"):
        if not isinstance(summary.get(name), str) or not summary[name]:
            raise ValueError(f"no {name}")
    # A summary speaks only for the site and node its key names (a key is what the ledger checks).
    for name, named in zip(("site", "node", "job"), origin, strict=True):
        if summary[name] != named:
            raise ValueError(f"its {name} {summary[name][:100]!r} is not its key's {named[:100]!r}")
    errors = summary.get("errors") or []
    if not isinstance(errors, list) or not all(isinstance(e, dict) for e in errors):
        raise ValueError("errors is not a list of objects")
    if not isinstance(summary.get("seen") or [], list):
        raise ValueError("seen is not a list of lot ids")
    return summary


def _ledger(db: Database, key: str, data: bytes, summary: dict[str, Any] | None, refused: str | None) -> None:
    with connect.atomic(db):
        if db.execute("SELECT 1 FROM batches WHERE key = ?", [key]).fetchone():
            return
        if summary is not None:
            stats = summary["stats"]
            run_id = (
                db.table("crawl_runs")
                .insert(
                    {
                        "spider": summary["site"],
                        "kind": str(summary.get("kind") or "market"),
                        "started_at": summary["started_at"],
                        "finished_at": summary["finished_at"],
                        "status": summary["status"],
                        "items": _count(stats.get("lootwatch/store/items")),
                        "images": _count(stats.get("lootwatch/store/images")),
                        "errors": _count(stats.get("lootwatch/errors")),
                        "stats_json": json.dumps(
                            stats | {"lootwatch/node": summary["node"], "lootwatch/job": summary["job"]},
                            sort_keys=True,
                            default=str,
                        ),
                    }
                )
                .last_pk
            )
            _seen_and_gone(db, summary)
            for error in summary.get("errors", [])[:MAX_ERRORS]:
                store.record_error(
                    db,
                    run_id,
                    str(error.get("stage") or "node")[:50],
                    _text(error.get("url")),
                    str(error.get("reason")),
                )
        else:
            store.record_error(db, None, "batch", key, refused or "refused")
        db.table("batches").insert(
            {
                "key": key,
                "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
                "rows": 1 if summary is not None else 0,
                "errors": 0 if summary is not None else 1,
                "ingested_at": connect.now(),
            }
        )


def _seen_and_gone(db: Database, summary: dict[str, Any]) -> None:
    """The run's lots are seen now (an unchanged lot sent no batch row); after a complete run, the
    site's lots it did not see have gone, as after a complete single-machine crawl."""
    seen = [str(lot) for lot in summary.get("seen") or [] if isinstance(lot, str | int)]
    site, stamp = summary["site"], connect.now()
    newer = db.execute(
        "SELECT 1 FROM crawl_runs WHERE spider = ? AND finished_at > ? LIMIT 1",
        [site, summary["finished_at"]],
    ).fetchone()
    if newer is not None:
        return  # a run that ended later has said what is on the site; an older one read late does not
    db.execute("CREATE TEMP TABLE IF NOT EXISTS run_seen (lot_id TEXT PRIMARY KEY)")
    db.execute("DELETE FROM run_seen")
    db.conn.executemany("INSERT OR IGNORE INTO run_seen VALUES (?)", [(lot,) for lot in seen])
    db.execute(
        "UPDATE listings SET last_seen = ?, gone = 0 "
        "WHERE site = ? AND lot_id IN (SELECT lot_id FROM run_seen)",
        [stamp, site],
    )
    if summary.get("complete") is True and seen:
        db.execute(
            "UPDATE listings SET gone = 1 "
            "WHERE site = ? AND gone = 0 AND lot_id NOT IN (SELECT lot_id FROM run_seen)",
            [site],
        )
    db.execute("DELETE FROM run_seen")


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _text(value: Any) -> str | None:
    return str(value)[:2000] if value is not None else None
