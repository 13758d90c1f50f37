"""Which spider runs failed, and why, in one line each: what ``crawl``, ``registry fetch`` and ``daily``
print before exiting with status 1.

A run failed when its spider could not start, when it ended other than normally or at a limit set in
``[scrapy]`` (shut down, cancelled, an error count reached), or when it stored nothing and saw nothing
unchanged (no lot, or no registry record): every request failed, the site refused the crawler, a token
is missing, the site is disabled, the layout changed.
A run that stored something is no failure, whatever errors it also recorded (they are in the
``errors`` table and the digest's crawl health). The reason is read from the errors the run recorded.
"""

from __future__ import annotations

import json
from typing import Any

from sqlite_utils import Database

__all__ = ["last_run_id", "failed_runs", "reasons"]

SHOWN = 3  # distinct reasons quoted in a line
# How a run may end without failing: normally, or at a limit the operator set in [scrapy].
NORMAL_ENDS = ("finished", "closespider_timeout", "closespider_itemcount", "closespider_pagecount")
REASON_CHARS = 200


def last_run_id(db: Database) -> int:
    """The id of the latest ``crawl_runs`` row (0 for none): runs after it are the ones about to start."""
    return db.execute("SELECT COALESCE(max(id), 0) FROM crawl_runs").fetchone()[0]


def failed_runs(db: Database, after: int, results: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """One line per failed run among ``results`` (each spider's name and stats, as ``run_stages``
    returns them), for runs recorded after the ``crawl_runs`` id ``after``; e.g.
    ``ebay_browse stored 0 lots: EBAY_OAUTH_TOKEN is not set: no eBay API calls made``."""
    lines = []
    for name, stats in results:
        run = db.execute(
            "SELECT id, kind, status, stats_json FROM crawl_runs WHERE spider = ? AND id > ? "
            "ORDER BY id DESC LIMIT 1",
            [name, after],
        ).fetchone()
        if run is None or stats.get("lootwatch/could_not_start"):
            why = stats.get("lootwatch/could_not_start") or "no run was recorded"
            lines.append(f"{name} could not start: {_short(why)}")
            continue
        run_id, kind, status, stats_json = run
        recorded = {**json.loads(stats_json or "{}"), **stats}
        things = "records" if kind == "registry" else "lots"
        stored = int(recorded.get("lootwatch/store/items", 0))
        seen = stored + int(recorded.get("lootwatch/lots/unchanged", 0))
        if status not in NORMAL_ENDS:
            lines.append(
                f"{name} ended early ({status}) after {stored} {things}: {reasons(db, run_id, recorded)}"
            )
        elif seen == 0:
            lines.append(f"{name} stored 0 {things}: {reasons(db, run_id, recorded)}")
    return lines


def reasons(db: Database, run_id: int, stats: dict[str, Any]) -> str:
    """The errors a run recorded, most frequent first; failing those, what its stats say."""
    rows = db.execute(
        "SELECT reason, count(*) AS n FROM errors WHERE run_id = ? GROUP BY reason ORDER BY n DESC, min(id)",
        [run_id],
    ).fetchall()
    if rows:
        total = sum(n for _, n in rows)
        quoted = "; ".join(_short(r) + (f" ({n} times)" if n > 1 else "") for r, n in rows[:SHOWN])
        if len(rows) == 1:
            return quoted
        more = f"; and {len(rows) - SHOWN} other reasons" if len(rows) > SHOWN else ""
        return f"{total} errors: {quoted}{more}"
    bugs = {k.rsplit("/", 1)[-1]: v for k, v in stats.items() if k.startswith("spider_exceptions/")}
    if bugs:
        named = ", ".join(f"{kind} ({n} times)" if n > 1 else kind for kind, n in sorted(bugs.items()))
        return f"the spider failed: {named}; --verbose shows the tracebacks"
    if stats.get("downloader/request_count") and not stats.get("downloader/response_count"):
        return "no request was answered"
    return (
        "nothing found and no error recorded: the site's layout may have changed, or the crawler is blocked"
    )


def _short(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 3] + "..."
