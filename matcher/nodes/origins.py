"""Which crawler node may speak for which site: the check every batch and run summary passes before
``lootwatch ingest`` reads it.

A node speaks for a site when lootwatch.toml pins the site to it now, when ``crawl --nodes`` on this
machine scheduled the site on it (``node_jobs``), or when the ledger already holds lots it sent for the
site: it held the site before the site was moved (a node died, its sites went to another), and what it
stored before is still the site's lots. Anything else is held back, not ledgered:
a mistyped or missing ``[nodes]`` table is fixed in the file and the next ingest takes the batches,
while a forged batch never changes a lot and stays in storage, named in every ingest's output, until
someone deletes it.
"""

from __future__ import annotations

from sqlite_utils import Database

__all__ = ["held_back", "remember_jobs"]


def held_back(db: Database, site: str, node: str, pins: dict[str, list[str]] | None) -> str | None:
    """Why node ``node`` may not speak for site ``site``, in one line; None when it may.

    ``pins``: node name -> the sites lootwatch.toml pins to it; None checks nothing (a caller that has
    no node table, such as a test of one batch).
    """
    if pins is None or site in pins.get(node, ()):
        return None
    if _scheduled_there(db, site, node) or _sent_before(db, site, node):
        return None
    owner = next((name for name, sites in pins.items() if site in sites), None)
    where = f"pinned to node {owner!r}" if owner else "pinned to no node"
    listed = "" if node in pins else ", and the [nodes] table names no such node"
    return (
        f"held back: site {site[:100]!r} is {where}{listed}, and node {node[:100]!r} was never asked to "
        f"crawl it; pin the site to {node[:100]!r} in lootwatch.toml to take its batches, or delete the "
        "object from the storage"
    )


def remember_jobs(db: Database, jobs: list[tuple[str, str, str]]) -> None:
    """Record ``(job id, site, node)`` for each job ``crawl --nodes`` scheduled."""
    from ..db import connect

    with connect.atomic(db):
        db.table("node_jobs").upsert_all(
            [
                {"job": job, "site": site, "node": node, "scheduled_at": connect.now()}
                for job, site, node in jobs
            ],
            pk="job",
        )


def _scheduled_there(db: Database, site: str, node: str) -> bool:
    row = db.execute("SELECT 1 FROM node_jobs WHERE site = ? AND node = ? LIMIT 1", [site, node])
    return row.fetchone() is not None


def _sent_before(db: Database, site: str, node: str) -> bool:
    """Does the ledger hold a batch of lots from ``node`` for ``site``?"""
    pattern = f"batches/{_like(site)}/%/{_like(node)}/%"
    row = db.execute("SELECT 1 FROM batches WHERE key LIKE ? ESCAPE '\\' AND rows > 0 LIMIT 1", [pattern])
    return row.fetchone() is not None


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
