"""Crawler nodes: schedule each site on the one node it is pinned to, wait for the jobs, show the nodes.

The site-to-node table is ``[nodes.NAME]`` in lootwatch.toml (``config.Node``). Every job gets the
``[scrapy]`` settings of lootwatch.toml plus node mode (``spiders/node.py``): the node's name, the
storage URL, the batch size and the node's own state paths. Nothing here touches the review database.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .config import Config, Node
from .scrapyd import PROJECT, NodeUnreachable, Scrapyd

__all__ = ["Job", "plan", "job_settings", "schedule", "wait", "run_summary", "node_status", "NodeState"]

POLL = 2.0  # seconds between two looks at the running jobs


@dataclass
class Job:
    """One site's Scrapyd job: ``state`` pending, running, finished, or lost (its node went away)."""

    node: str
    site: str
    id: str
    state: str = "pending"
    seconds: float | None = None
    reason: str = ""


def plan(cfg: Config, sites: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """``sites`` grouped by the node each is pinned to, and the sites pinned to no node."""
    where = {site: node.name for node in cfg.nodes.values() for site in node.sites}
    grouped: dict[str, list[str]] = {}
    for site in sites:
        if site in where:
            grouped.setdefault(where[site], []).append(site)
    return grouped, [s for s in sites if s not in where]


def job_settings(cfg: Config, node: Node, site: str) -> list[tuple[str, str]]:
    """Scrapyd ``setting`` parameters (``KEY=VALUE``) for the job of ``site`` on ``node``. Scrapy reads
    a list from a comma-separated string and a dict from JSON, so values are written that way."""
    values: dict[str, Any] = {
        **cfg.scrapy,
        "LOOTWATCH_NODE": node.name,
        "LOOTWATCH_STORAGE": cfg.storage_url,
        "LOOTWATCH_BATCH_ITEMS": cfg.batch_items,
        "LOOTWATCH_DB": f"{node.data_dir}/state/{site}.db",
        "LOOTWATCH_DATA_DIR": node.data_dir,
        "FILES_STORE": f"{node.data_dir}/originals",
    }
    return [("setting", f"{key}={_setting(value)}") for key, value in values.items()]


def _setting(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def schedule(cfg: Config, grouped: dict[str, list[str]]) -> tuple[list[Job], list[str]]:
    """Schedule every site on its node; returns the jobs and one line per node that could not take its
    sites (unreachable, or its Scrapyd refused), naming them."""
    jobs, failures = [], []
    for name, sites in grouped.items():
        node = cfg.nodes[name]
        client = Scrapyd(node.url)
        for n, site in enumerate(sites):
            try:
                jobs.append(Job(name, site, client.schedule(PROJECT, site, job_settings(cfg, node, site))))
            except NodeUnreachable as exc:
                left = ", ".join(sites[n:])
                failures.append(
                    f"node {name} did not take {left}: {exc}; start it, or pin its sites to another node "
                    "in lootwatch.toml and run `lootwatch crawl --nodes` again"
                )
                break
    return jobs, failures


def wait(
    cfg: Config,
    jobs: list[Job],
    progress: Callable[[int, int], None] | None = None,
    timeout: float | None = None,
    poll: float = POLL,
) -> list[str]:
    """Wait until every job is finished or lost; returns one line per node lost while waiting.

    A node that stops answering has its unfinished jobs marked lost (their sites can be pinned to
    another node and crawled again: batches are keyed by node and job, so nothing is doubled).
    ``timeout`` (seconds) marks the jobs still running then as lost too.
    """
    started = time.monotonic()
    failures: list[str] = []
    while True:
        for name in sorted({j.node for j in jobs if j.state in ("pending", "running")}):
            try:
                listing = Scrapyd(cfg.nodes[name].url).jobs(PROJECT)
            except NodeUnreachable as exc:
                lost = [j for j in jobs if j.node == name and j.state in ("pending", "running")]
                for job in lost:
                    job.state, job.reason = "lost", str(exc)
                failures.append(
                    f"node {name} went away during the crawl ({exc}); not finished: "
                    f"{', '.join(j.site for j in lost)}; pin them to another node and crawl them again"
                )
                continue
            _update(jobs, name, listing)
        done = sum(j.state in ("finished", "lost") for j in jobs)
        if progress:
            progress(done, len(jobs))
        if done == len(jobs):
            return failures
        if timeout is not None and time.monotonic() - started > timeout:
            late = [j for j in jobs if j.state in ("pending", "running")]
            for job in late:
                job.state, job.reason = "lost", f"still running after {timeout:.0f} s"
            return failures + [f"still running after {timeout:.0f} s: {', '.join(j.site for j in late)}"]
        time.sleep(poll)


def run_summary(objects: Any, job: Job) -> dict[str, Any] | None:
    """The run summary the job's node wrote (``spiders/node_runs.py``), or None when there is none (the
    job crashed before writing it, or the storage cannot be read)."""
    from matcher.nodes.objectstore import RUNS, StorageError

    try:
        keys = [k for k, _ in objects.list(f"{RUNS}{job.site}/") if k.endswith(f"/{job.node}/{job.id}.json")]
        return json.loads(objects.get(keys[-1], 8 * 1024 * 1024)) if keys else None
    except (StorageError, ValueError):
        return None


def _update(jobs: list[Job], node: str, listing: dict[str, Any]) -> None:
    states = {}
    for state in ("pending", "running", "finished"):
        for entry in listing.get(state) or []:
            states[entry.get("id")] = (state, entry)
    for job in jobs:
        if job.node != node or job.id not in states:
            continue
        job.state, entry = states[job.id]
        if job.state == "finished":
            job.seconds = _seconds(entry.get("start_time"), entry.get("end_time"))


def _seconds(start: str | None, end: str | None) -> float | None:
    from datetime import datetime

    try:
        return (datetime.fromisoformat(str(end)) - datetime.fromisoformat(str(start))).total_seconds()
    except ValueError:
        return None


@dataclass
class NodeState:
    """What ``lootwatch nodes`` shows of one node: reachable or why not, its jobs, each site's last run."""

    node: Node
    error: str = ""
    running: list[dict[str, Any]] | None = None
    pending: list[dict[str, Any]] | None = None
    last_runs: dict[str, dict[str, Any]] | None = None


def node_status(cfg: Config) -> list[NodeState]:
    """Ask every node of the table for its jobs (the last finished job of each pinned site included)."""
    out = []
    for node in cfg.nodes.values():
        try:
            listing = Scrapyd(node.url).jobs(PROJECT)
        except NodeUnreachable as exc:
            out.append(NodeState(node, error=str(exc)))
            continue
        last: dict[str, dict[str, Any]] = {}
        for entry in listing.get("finished") or []:
            site = entry.get("spider")
            if site in node.sites and str(entry.get("end_time")) > str(
                last.get(site, {}).get("end_time", "")
            ):
                last[site] = entry
        out.append(
            NodeState(
                node,
                running=listing.get("running") or [],
                pending=listing.get("pending") or [],
                last_runs=last,
            )
        )
    return out
