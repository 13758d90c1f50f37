"""Crawl health for the digest: per site, what the last run saw, and a warning when it saw nothing or
far fewer lots than usual, the sign of a changed layout or a blocked crawler."""

from __future__ import annotations

import json
from typing import Any

from sqlite_utils import Database

__all__ = ["crawl_health", "crawl_problems", "lots_seen", "FEWER_THAN", "HISTORY", "DROP"]

FEWER_THAN = 0.5  # of the recent average: a warning below this
HISTORY = 7  # runs the average is taken over
DROP = 0.5  # of the previous run's lots: an alert below this


def crawl_health(db: Database) -> list[dict[str, Any]]:
    """The latest finished run of every market site, with its counts and a warning if one is due; and
    the latest run of a registry spider that refused requests (its refusals must be seen too)."""
    runs: dict[str, list[dict[str, Any]]] = {}
    for r in db.query(
        "SELECT * FROM crawl_runs WHERE kind = 'market' AND finished_at IS NOT NULL ORDER BY id DESC"
    ):
        history = runs.setdefault(r["spider"], [])
        if len(history) <= HISTORY:
            history.append(r)
    out = []
    for r in db.query(
        "SELECT spider, max(id) AS id, stats_json FROM crawl_runs WHERE kind = 'registry' "
        "AND finished_at IS NOT NULL GROUP BY spider ORDER BY spider"
    ):
        # A registry crawl has no lots to count, but a photo URL it refused must be seen all the same.
        refused = int(json.loads(r["stats_json"] or "{}").get("lootwatch/refused", 0))
        if refused:
            runs_row = db.execute(
                "SELECT started_at, errors FROM crawl_runs WHERE id = ?", [r["id"]]
            ).fetchone()
            out.append(
                {
                    "site": f"{r['spider']} (registry)",
                    "started_at": runs_row[0],
                    "seen": 0,
                    "new": 0,
                    "gone": 0,
                    "errors": runs_row[1],
                    "refused": refused,
                    "average": None,
                    "warning": None,
                }
            )
    for site, (last, *earlier) in sorted(runs.items()):
        seen = lots_seen(last)
        stats = json.loads(last["stats_json"] or "{}")
        if stats.get("lootwatch/site_disabled"):
            continue
        new = db.execute(
            "SELECT count(*) FROM listings WHERE site = ? AND first_seen >= ?", [site, last["started_at"]]
        ).fetchone()[0]
        average = sum(map(lots_seen, earlier)) / len(earlier) if earlier else None
        warning = None
        if last["status"] != "finished":
            warning = f"the run ended early ({last['status']})"
        elif seen == 0:
            warning = "no lots at all: the site's layout may have changed, or the crawler is blocked"
        elif average and seen < FEWER_THAN * average:
            warning = f"{seen} lots against {average:.0f} on average over the last {len(earlier)} runs"
        out.append(
            {
                "site": site,
                "started_at": last["started_at"],
                "seen": seen,
                "new": new,
                "gone": stats.get("lootwatch/lots/gone", 0),
                "errors": last["errors"],
                "refused": int(stats.get("lootwatch/refused", 0)),
                "average": None if average is None else round(average, 1),
                "warning": warning,
            }
        )
    return out


def crawl_problems(db: Database, since: str) -> list[str]:
    """One line for each market site whose run started at or after ``since`` went wrong: it stored no
    lots at all (with the first error it recorded), it saw fewer than half the lots of its previous run,
    or it ended early. Sites disabled in seeds/sites.yaml are skipped: they start nothing on purpose."""
    lines = []
    latest = db.execute(
        "SELECT max(id) FROM crawl_runs WHERE kind = 'market' AND started_at >= ? GROUP BY spider "
        "ORDER BY spider",
        [since],
    ).fetchall()
    for (run_id,) in latest:
        run = next(db.query("SELECT * FROM crawl_runs WHERE id = ?", [run_id]))
        stats = json.loads(run["stats_json"] or "{}")
        if stats.get("lootwatch/site_disabled"):
            continue
        site, seen = run["spider"], lots_seen(run)
        if run["status"] != "finished":
            # "running" here is a crawl that died without closing its run (killed, out of memory).
            lines.append(f"crawl of {site} ended early ({run['status']}) after {seen} lots")
            continue
        if seen == 0:
            first = db.execute(
                "SELECT reason FROM errors WHERE run_id = ? ORDER BY id LIMIT 1", [run_id]
            ).fetchone()
            why = f"; first error: {_one_line(first[0])}" if first else ""
            errors = f"{run['errors'] or 0} error{'s' if run['errors'] != 1 else ''}"
            lines.append(f"crawl of {site} stored nothing (0 lots seen, {errors}{why})")
            continue
        previous = next(
            db.query(
                "SELECT * FROM crawl_runs WHERE spider = ? AND kind = 'market' AND id < ? "
                "AND finished_at IS NOT NULL AND status = 'finished' ORDER BY id DESC LIMIT 1",
                [site, run_id],
            ),
            None,
        )
        before = lots_seen(previous) if previous else 0
        if before and seen < DROP * before:
            lines.append(
                f"crawl of {site}: {seen} lots, down from {before} in the previous run "
                f"({previous['started_at']}): the site's layout may have changed, or the crawler is blocked"
            )
    return lines


def _one_line(text: str) -> str:
    return " ".join(str(text).split())[:300]


def lots_seen(run: dict[str, Any]) -> int:
    """The lots a run saw: those it stored and those its site answered as unchanged."""
    stats = json.loads(run["stats_json"] or "{}")
    return int(stats.get("lootwatch/store/items", 0)) + int(stats.get("lootwatch/lots/unchanged", 0))
