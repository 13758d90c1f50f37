"""Crawler nodes on this machine: one Scrapyd node against two, ingest speed, time to a candidate.

    python bench/nodes.py [--sites 6] [--lots 20] [--delay 1.0] [--max-proc 3] [--no-write]

Starts S3 (moto, loopback), ``--sites`` fake auction houses (tests/node_sites.py, each answering after
0.1 s, one lot of each showing an edited registry photo) and Scrapyd daemons, all on 127.0.0.1. The
crawl keeps lootwatch's politeness (DOWNLOAD_DELAY ``--delay`` s, autothrottle off so the delay is fixed)
and each node runs at most ``--max-proc`` jobs at once, as a small machine would. Measured:

- one node crawling every site, then two nodes with the sites split between them (baseline: one node):
  lots a minute and photos hashed a second of wall time, from scheduling to the last job's end;
- the ingest of the two-node batches (``matcher.nodes.batches.ingest_batches``, what ``lootwatch ingest``
  runs before matching): lots and rows written a second;
- for each planted lot, the time from its page first served to its candidate in the review database
  (crawl on two nodes, ingest, match).

Writes its table into docs/benchmarks.md (section "Crawler nodes") unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import write_section  # noqa: E402
from matcher.db.connect import open_db  # noqa: E402
from matcher.nodes.batches import ingest_batches  # noqa: E402
from matcher.nodes.objectstore import ObjectStore  # noqa: E402
from tests.node_cluster import BUCKET, S3, Scrapyd, lootwatch, registry_base, write_config  # noqa: E402
from tests.node_sites import PLANTED, SITES, AuctionHouse  # noqa: E402

TABLES = ("listings", "listing_images", "image_hashes", "image_features", "thumbnails", "evidence", "batches")


def crawl(config: Path, sites: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Run ``lootwatch crawl --nodes SITES``; its wall time and what it printed."""
    started = time.monotonic()
    proc = lootwatch(config, "crawl", "--nodes", *sites, env=env, timeout=3600)
    took = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"crawl failed:\n{proc.stdout}\n{proc.stderr[-3000:]}")
    return took, proc.stdout


def summaries(s3: S3, prefix: str) -> list[dict]:
    import boto3

    client = boto3.client("s3")
    keys = [k for k in s3.keys(f"{prefix}/runs/")]
    return [json.loads(client.get_object(Bucket=BUCKET, Key=k)["Body"].read()) for k in keys]


def run(args: argparse.Namespace) -> list[str]:
    tmp = Path(tempfile.mkdtemp(prefix="lootwatch-bench-nodes-"))
    s3 = S3()
    sites = SITES[: args.sites]
    houses = [AuctionHouse(i, args.lots, delay=0.1) for i in range(len(sites))]
    # A node takes the addresses it may fetch from its own environment, never from a job's settings.
    node_env = {**s3.env, "LOOTWATCH_ALLOW_HOSTS": ",".join(h.url.split("//", 1)[1] for h in houses)}
    nodes = [Scrapyd(tmp / f"node{n}", node_env, max_proc=args.max_proc) for n in range(2)]
    by_site = {site: house.url for site, house in zip(sites, houses, strict=True)}
    try:
        base = registry_base(tmp, "bench")
        with sqlite3.connect(base) as conn:  # the registry's own rows are not the ingest's
            before = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
        results: dict[str, list[dict]] = {"one node": [], "two nodes": []}
        layouts = {
            "one node": {"n0": (nodes[0].url, sites)},
            "two nodes": {"n0": (nodes[0].url, sites[::2]), "n1": (nodes[1].url, sites[1::2])},
        }
        # One, two, two, one: a load that changes during the run weighs on both alike.
        for n, label in enumerate(["one node", "two nodes", "two nodes", "one node"]):
            pins = layouts[label]
            name = f"run{n}"
            for house in houses:
                house.published.clear()
            shutil.copy(base, tmp / f"{name}.db")
            config = write_config(
                tmp / f"{name}.toml", tmp / f"{name}.db", f"s3://{BUCKET}/{name}", pins, by_site,
                batch_items=50, node_state=f"state-{name}", concurrency=2, delay=args.delay,
            )  # fmt: skip
            took, _ = crawl(config, sites, s3.env)
            runs = summaries(s3, name)
            lots = sum(r["stats"].get("lootwatch/store/items", 0) for r in runs)
            photos = sum(r["stats"].get("lootwatch/store/images", 0) for r in runs)
            hash_s = sum(r["stats"].get("lootwatch/node/hash_ms", 0) for r in runs) / 1000
            started = time.monotonic()
            ingested = ingest_batches(
                open_db(tmp / f"{name}.db"), ObjectStore(f"s3://{BUCKET}/{name}"), tmp / "data"
            )
            ingest_s = time.monotonic() - started
            if any(r.status != "ingested" or r.errors for r in ingested):
                raise SystemExit(f"ingest failed: {ingested}")
            proc = lootwatch(config, "match", env=s3.env, timeout=3600)
            if proc.returncode != 0:
                raise SystemExit(f"match failed:\n{proc.stderr[-3000:]}")
            matched_at = time.time()
            with sqlite3.connect(tmp / f"{name}.db") as conn:
                rows = {
                    t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] - before[t] for t in TABLES
                }
                found = conn.execute(
                    "SELECT l.site FROM candidates c JOIN listings l ON l.id = c.listing_id "
                    "WHERE c.tier IS NOT NULL AND l.lot_id = ?",
                    [str(PLANTED)],
                ).fetchall()
            latency = [matched_at - h.published[PLANTED] for h in houses if PLANTED in h.published]
            stored = sum(s for k, s in _sizes(s3, name))
            results[label].append({
                "wall": took, "lots": lots, "photos": photos, "hash_s": hash_s, "ingest_s": ingest_s,
                "rows": sum(rows.values()), "found": len({s for (s,) in found}), "latency": latency,
                "bytes": stored,
            })  # fmt: skip
        return table(args, {label: _sum(runs) for label, runs in results.items()})
    finally:
        for node in nodes:
            node.close()
        for house in houses:
            house.close()
        s3.close()
        shutil.rmtree(tmp, ignore_errors=True)


def _sum(runs: list[dict]) -> dict:
    """Two runs of one layout as one: totals, latencies pooled, the planted lots found in both."""
    out = {
        k: sum(r[k] for r in runs) for k in ("wall", "lots", "photos", "hash_s", "ingest_s", "rows", "bytes")
    }
    return out | {"found": min(r["found"] for r in runs), "latency": [x for r in runs for x in r["latency"]],
                  "runs": len(runs)}  # fmt: skip


def _sizes(s3: S3, prefix: str) -> list[tuple[str, int]]:
    import boto3

    pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{prefix}/")
    return [(o["Key"], o["Size"]) for p in pages for o in p.get("Contents", [])]


def table(args: argparse.Namespace, r: dict[str, dict]) -> list[str]:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    load = os.getloadavg()[0]
    one, two = r["one node"], r["two nodes"]
    lines = [
        f"Command: `python bench/nodes.py --sites {args.sites} --lots {args.lots} --delay {args.delay} "
        f"--max-proc {args.max_proc}`",
        "",
        "Two runs of each layout, in the order one, two, two, one node(s); figures over both. "
        f"{args.sites} fake auction houses on loopback, {args.lots} lots of one photo each (answers after "
        f"0.1 s), DOWNLOAD_DELAY {args.delay} s, at most {args.max_proc} jobs at once per Scrapyd node, both "
        f"nodes and S3 (moto) on this machine; {platform.machine()}, {os.cpu_count()} cores, "
        f"{date.today().isoformat()}, at {commit.stdout.strip()}; load average {load:.1f} at the end:",
        "",
        "| | wall s (2 runs) | lots/min | photos hashed/s (wall) | ratio | CPU ms per photo hashed |",
        "|---|---|---|---|---|---|",
    ]
    for label, x in r.items():
        lots_min = 60 * x["lots"] / x["wall"]
        lines.append(
            f"| {label}{' (baseline)' if label == 'one node' else ''} | {x['wall']:.1f} | {lots_min:.1f} | "
            f"{x['photos'] / x['wall']:.2f} | {(one['wall'] / x['wall']):.2f}x | "
            f"{1000 * x['hash_s'] / max(1, x['photos']):.0f} |"
        )
    per_lot = two["bytes"] / max(1, two["lots"])
    lines += [
        "",
        "Ingest of the two-node runs' batches (`matcher.nodes.batches.ingest_batches` in this process: "
        "download, originals and WARC files copied, one transaction per batch; run summaries included): "
        f"{two['lots']} lots in {two['ingest_s']:.1f} s = {two['lots'] / two['ingest_s']:.1f} lots/s, "
        f"{two['rows']:,} rows in the review database = {two['rows'] / two['ingest_s']:.0f} rows/s. "
        f"Object storage written: {two['bytes'] / 1e6:.1f} MB, {per_lot / 1e3:.0f} kB a lot (batch row with "
        "signals, original photo, WARC records, run summary).",
        "",
        f"Planted lots found as candidates in every run: {one['found']} of {args.sites} (one node), "
        f"{two['found']} of {args.sites} (two nodes). Time from a planted lot's page first served to its "
        "candidate in the "
        f"review database (two nodes; crawl, ingest, match run one after another): median "
        f"{statistics.median(two['latency']):.0f} s, longest {max(two['latency']):.0f} s.",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sites", type=int, default=6)
    parser.add_argument("--lots", type=int, default=20)
    parser.add_argument("--delay", type=float, default=1.0)
    parser.add_argument("--max-proc", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    lines = run(args)
    print("\n".join(lines))
    if not args.no_write:
        write_section("nodes.py", "Crawler nodes", lines)


if __name__ == "__main__":
    main()
