"""Which objects in storage ``lootwatch ingest`` may take: those of a job the review machine scheduled.

``crawl --nodes`` records every job it schedules, with its site and node, in ``node_jobs`` and as
``jobs/<job>.json`` in the storage (``remember_jobs``). A batch (``batches/<site>/<day>/<node>/<job>-<n>``)
or run summary (``runs/<site>/<day>/<node>/<job>.json``) is taken only when its key names a job so
recorded, for that site on that node. Anything else is held back, neither read nor ledgered, and named
on every ingest until someone deletes it: a node cannot write lots of a site it was not asked to crawl,
nor a run that was never scheduled, whatever lootwatch.toml pins now. A database rebuilt from the
storage reads the job records first (``read_jobs``), so it takes what the first one took.

The key names are authority only when each node's credentials may write under its own name alone and
only the review machine's may write ``jobs/`` (docs/nodes.md, "Credentials").
"""

from __future__ import annotations

import json
import re

from sqlite_utils import Database

from ..db import connect
from .objectstore import JOBS, ObjectStore, StorageError

__all__ = ["held_back", "remember_jobs", "read_jobs", "key_origin", "MAX_JOB_BYTES"]

MAX_JOB_BYTES = 4096
_KEY = re.compile(r"^(batches|runs)/([^/]+)/([^/]+)/([^/]+)/([^/]+)$")


def key_origin(key: str) -> tuple[str, str, str] | None:
    """``(site, node, job)`` named by a batch or run summary key, or None when it has neither shape."""
    found = _KEY.match(key)
    if found is None or ".." in key.split("/"):
        return None
    kind, site, _day, node, name = found.groups()
    if kind == "batches" and name.endswith(".jsonl") and "-" in name:
        job = name[: -len(".jsonl")].rpartition("-")[0]
    elif kind == "runs" and name.endswith(".json"):
        job = name[: -len(".json")]
    else:
        return None
    return (site, node, job) if job else None


def held_back(db: Database, site: str, node: str, job: str) -> str | None:
    """Why the object of ``job`` on ``node`` for ``site`` is not taken, in one line; None when it is."""
    row = db.execute("SELECT site, node FROM node_jobs WHERE job = ?", [job]).fetchone()
    if row is not None and tuple(row) == (site, node):
        return None
    named = f"job {job[:64]!r} of node {node[:100]!r} for site {site[:100]!r}"
    if row is None:
        why = f"{named} was never scheduled from this review machine"
    else:
        why = f"{named}: that job was scheduled for site {row[0]!r} on node {row[1]!r}"
    return f"{why}; if nobody here scheduled it, delete the object from the storage (docs/nodes.md)"


def remember_jobs(
    db: Database, jobs: list[tuple[str, str, str]], objects: ObjectStore | None = None
) -> list[str]:
    """Record ``(job id, site, node)`` for each job ``crawl --nodes`` scheduled, in ``node_jobs`` and,
    with ``objects``, as ``jobs/<job>.json`` in the storage; returns one line per record the storage
    did not take (the database holds it either way)."""
    stamp = connect.now()
    rows = [{"job": job, "site": site, "node": node, "scheduled_at": stamp} for job, site, node in jobs]
    with connect.atomic(db):
        db.table("node_jobs").upsert_all(rows, pk="job")
    failed = []
    for row in rows if objects is not None else []:
        try:
            objects.put_once(f"{JOBS}{row['job']}.json", json.dumps(row, sort_keys=True).encode())
        except StorageError as exc:
            failed.append(
                f"the record of job {row['job']} ({row['site']} on {row['node']}) not stored: {exc}"
            )
    return failed


def read_jobs(db: Database, objects: ObjectStore) -> int:
    """Copy into ``node_jobs`` the job records in the storage it lacks (a database rebuilt from the
    storage, or a second review machine); returns how many. A record that is not one is skipped.

    :raises StorageError: the records cannot be listed or read.
    """
    known = {job for (job,) in db.execute("SELECT job FROM node_jobs")}
    rows = []
    for key, size in objects.list(JOBS):
        job = key[len(JOBS) :].removesuffix(".json")
        if job in known or size > MAX_JOB_BYTES:
            continue
        try:
            row = json.loads(objects.get(key, MAX_JOB_BYTES))
        except ValueError:
            continue
        if (
            isinstance(row, dict)
            and row.get("job") == job
            and all(isinstance(row.get(k), str) and row[k] for k in ("site", "node", "scheduled_at"))
        ):
            rows.append({k: row[k] for k in ("job", "site", "node", "scheduled_at")})
    if rows:
        with connect.atomic(db):
            db.table("node_jobs").upsert_all(rows, pk="job")
    return len(rows)
