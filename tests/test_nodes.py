"""Past one machine, end to end on loopback: two Scrapyd nodes, S3 (moto server), six fake auction
houses, one review database. Politeness holds per site, every lot arrives once, the planted edited
registry photos become candidates, and neither a node killed mid-crawl nor an ingest killed mid-batch
loses or doubles anything."""

from __future__ import annotations

import re
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

pytest.importorskip(
    "scrapyd", reason="pip install -e '.[dev]' (scrapyd, scrapyd-client, boto3, moto[server])"
)
pytest.importorskip("moto.server", reason="pip install -e '.[dev]' (moto[server])")
pytest.importorskip("boto3", reason="pip install -e '.[dev]' (boto3)")

from tests.node_cluster import BUCKET, S3, Scrapyd, lootwatch, lootwatch_started, registry_base, write_config  # noqa: E402
from tests.node_sites import PLANTED, SITES, AuctionHouse  # noqa: E402

pytestmark = [pytest.mark.nodes, pytest.mark.slow]

LOTS = 20
CONCURRENCY = 2


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """S3, two Scrapyd nodes, six houses and a review database holding the registry (``base``)."""
    tmp = tmp_path_factory.mktemp("nodes")
    s3 = S3()
    houses = [AuctionHouse(i, LOTS, delay=0.02) for i in range(len(SITES))]
    # A node takes its address allow list from its own environment, never from a job's settings.
    node_env = {**s3.env, "LOOTWATCH_ALLOW_HOSTS": ",".join(h.url.split("//", 1)[1] for h in houses)}
    nodes = {name: Scrapyd(tmp / name, node_env) for name in ("alpha", "beta")}
    try:
        base = registry_base(tmp, "unit")
        yield {"tmp": tmp, "s3": s3, "houses": houses, "nodes": nodes, "base": base, "node_env": node_env}
    finally:
        for node in nodes.values():
            node.close()
        for house in houses:
            house.close()
        s3.close()


def _config(cluster, name: str, pins: dict[str, list[str]], state: str = "state") -> Path:
    db = cluster["tmp"] / f"{name}.db"
    if not db.exists():
        shutil.copy(cluster["base"], db)
    return write_config(
        cluster["tmp"] / f"{name}.toml",
        db,
        f"s3://{BUCKET}/{name}",
        {node: (cluster["nodes"][node].url, sites) for node, sites in pins.items()},
        {site: house.url for site, house in zip(SITES, cluster["houses"], strict=True)},
        batch_items=5,
        node_state=state,
        concurrency=CONCURRENCY,
        # Scrapy 2.19 counts a request against CONCURRENT_REQUESTS_PER_DOMAIN only once its download
        # task has started: with DOWNLOAD_DELAY 0 it starts every queued request of a site at once, and
        # with a delay shorter than the event loop's lag on a loaded machine it can start one too many.
        # Real crawls use 1 s; 0.2 s keeps this test short.
        delay=0.2,
    )


def _ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def _snapshot(db: Path) -> dict[str, list]:
    """Everything the machine wrote, without row ids and timestamps."""
    queries = {
        "listings": "SELECT site, lot_id, url, title, description, price, currency, content_sha256, gone "
        "FROM listings ORDER BY site, lot_id",
        "photos": "SELECT l.site, l.lot_id, i.position, i.url, i.sha256, i.width, i.height, i.quality, "
        "i.matchable, i.error FROM listing_images i JOIN listings l ON l.id = i.listing_id "
        "ORDER BY l.site, l.lot_id, i.position",
        "hashes": "SELECT sha256, variant, pdq, quality, phash, dhash, hash_version FROM image_hashes "
        "ORDER BY sha256, variant",
        "features": "SELECT sha256, n, xy, desc, colour, feature_version FROM image_features ORDER BY sha256",
        "thumbnails": "SELECT sha256, jpeg FROM thumbnails ORDER BY sha256",
        "evidence": "SELECT warc_record_id, url, sha256, status, warc_file, warc_offset FROM evidence "
        "ORDER BY warc_record_id",
        "ledger": "SELECT key, sha256, bytes, rows, errors FROM batches ORDER BY key",
        "candidates": "SELECT l.site, l.lot_id, o.source_id, c.kind, c.tier, c.score FROM candidates c "
        "JOIN listings l ON l.id = c.listing_id LEFT JOIN registry_objects o ON o.id = c.registry_object_id "
        "ORDER BY 1, 2, 3, 4",
    }
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return {name: conn.execute(sql).fetchall() for name, sql in queries.items()}


def _assert_every_lot_once(snap: dict[str, list]) -> None:
    lots = [(site, lot) for site, lot, *_ in snap["listings"]]
    assert sorted(lots) == sorted((site, str(n)) for site in SITES for n in range(1, LOTS + 1))
    photos = [(site, lot, pos) for site, lot, pos, *_ in snap["photos"]]
    assert len(photos) == len(set(photos)) == len(SITES) * LOTS
    assert all(row[-1] is None and row[4] for row in snap["photos"]), "every photo stored with its signals"


def _assert_polite(cluster) -> None:
    for site, house in zip(SITES, cluster["houses"], strict=True):
        assert house.requests, f"{site} was never crawled"
        assert house.most_in_flight() <= CONCURRENCY, f"{site} saw these at once: {house.busiest()}"


def test_two_nodes_crawl_ingest_and_match(cluster):
    pins = {"alpha": SITES[:3], "beta": SITES[3:]}
    config = _config(cluster, "two", pins)
    out = _ok(lootwatch(config, "crawl", "--nodes", env=cluster["s3"].env))
    assert "scheduled 6 sites on 2 nodes" in out
    for site in SITES:
        node = "alpha" if site in pins["alpha"] else "beta"
        assert re.search(
            rf"{site}: finished on node {node} \(job \w+\) in \d+ s: finished, 20 lots, 20 photos", out
        )
    shown = _ok(lootwatch(config, "nodes", env=cluster["s3"].env))
    assert "alpha http://127.0.0.1:" in shown and "beta http://127.0.0.1:" in shown
    assert all(f"{site}: idle; last run " in shown for site in SITES)
    out = _ok(lootwatch(config, "ingest", env=cluster["s3"].env))
    assert "120 lots, 0 bad rows" in out
    assert "re-hashed" not in out  # the review machine decoded no lot photo: the node's signals were used
    snap = _snapshot(cluster["tmp"] / "two.db")
    _assert_every_lot_once(snap)
    planted = {(site, lot, obj) for site, lot, obj, kind, tier, _ in snap["candidates"] if tier and obj}
    for n, site in enumerate(SITES):
        assert (site, str(PLANTED), f"R{n + 1}") in planted, f"the edited registry photo on {site} was missed"
    assert all(lot == str(PLANTED) for _, lot, _ in planted), planted
    with sqlite3.connect(cluster["tmp"] / "two.db") as conn:  # the nodes' run summaries, as crawl_runs
        runs = conn.execute(
            "SELECT spider, status, items, images FROM crawl_runs WHERE kind = 'market' ORDER BY spider"
        ).fetchall()
        gone = conn.execute("SELECT count(*) FROM listings WHERE gone != 0").fetchone()[0]
    assert runs == [(site, "finished", LOTS, LOTS) for site in SITES] and gone == 0
    keys = cluster["s3"].keys(f"two/batches/{SITES[0]}/")
    assert keys and all(k.split("/")[4] == "alpha" for k in keys)  # named by site, day, node, job-batch
    _assert_polite(cluster)


def test_ingest_twice_changes_nothing(cluster):
    config = cluster["tmp"] / "two.toml"
    if not config.exists():
        pytest.skip("needs test_two_nodes_crawl_ingest_and_match")
    before = _snapshot(cluster["tmp"] / "two.db")
    out = _ok(lootwatch(config, "ingest", env=cluster["s3"].env))
    batches = [key for key, *_ in before["ledger"] if key.startswith("batches/")]
    assert "0 batches ingested" in out and f"{len(batches)} seen before" in out
    assert _snapshot(cluster["tmp"] / "two.db") == before
    shown = _ok(lootwatch(config, "nodes", env=cluster["s3"].env))  # the runs ingested, per site
    assert all(
        re.search(rf"{site}: idle; last run .*; last run ingested .*: 20 lots, 0 errors", shown)
        for site in SITES
    )


def test_ingest_killed_mid_batch_then_rerun_matches_uninterrupted(cluster):
    """SIGKILL ``lootwatch ingest`` while it writes; the re-run ends with the same database as the
    uninterrupted ingest of the same batches."""
    whole = cluster["tmp"] / "two.db"
    if not whole.exists():
        pytest.skip("needs test_two_nodes_crawl_ingest_and_match")
    db = cluster["tmp"] / "killed.db"
    shutil.copy(cluster["base"], db)
    config = cluster["tmp"] / "killed.toml"
    config.write_text((cluster["tmp"] / "two.toml").read_text().replace(str(whole), str(db)))
    total = len(_snapshot(whole)["ledger"])
    proc = lootwatch_started(
        config,
        "ingest",
        "--no-match",
        env=cluster["s3"].env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    ledgered = 0
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
                ledgered = conn.execute("SELECT count(*) FROM batches").fetchone()[0]
        except sqlite3.OperationalError:
            ledgered = 0  # the ledger's migration is not written yet
        if ledgered >= 2:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the ingest ended before it could be killed mid-way"
    partial = _snapshot(db)
    assert 2 <= len(partial["ledger"]) < total
    # Each ledgered batch is wholly in; nothing of a batch outside the ledger is.
    assert len(partial["listings"]) == sum(
        rows for key, _, _, rows, _ in partial["ledger"] if "batches/" in key
    )
    _ok(lootwatch(config, "ingest", env=cluster["s3"].env))
    again = _snapshot(db)
    whole_snap = _snapshot(whole)
    for table in again:
        if table != "evidence":  # WARC files are copied beside each database: their paths differ
            assert again[table] == whole_snap[table], table
    assert [r[:4] for r in again["evidence"]] == [r[:4] for r in whole_snap["evidence"]]


def test_node_killed_mid_crawl_sites_moved_nothing_lost_or_doubled(cluster):
    """Kill one Scrapyd (and its crawls) by PID mid-run, pin its sites to the other node, crawl them
    again, ingest everything: each lot once, none missing."""
    alpha, beta = cluster["nodes"]["alpha"], cluster["nodes"]["beta"]
    for house in cluster["houses"]:
        house.requests.clear()
        house.delay = 0.12  # slow enough that alpha is still crawling when it dies
    pins = {"alpha": SITES[:3], "beta": SITES[3:]}
    config = _config(cluster, "killed_node", pins, state="state-kill")
    crawl = lootwatch_started(
        config,
        "crawl",
        "--nodes",
        env=cluster["s3"].env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not cluster["s3"].keys(f"killed_node/batches/{SITES[0]}/"):
        assert crawl.poll() is None, crawl.communicate()
        time.sleep(0.1)
    alpha.kill()
    out, err = crawl.communicate(timeout=180)
    try:
        assert crawl.returncode == 1, out + err
        assert "node alpha went away during the crawl" in err and SITES[0] in err
        assert all(f"{site}: finished on node beta" in out for site in SITES[3:])
        partial = [k for k in cluster["s3"].keys("killed_node/batches/") if "/alpha/" in k]
        assert partial, "alpha wrote no batch before it died"
        # The dead node leaves the table: the batches it wrote of the sites this machine asked it to
        # crawl are still taken (matcher/nodes/origins.py).
        moved = _config(cluster, "killed_node", {"beta": SITES}, state="state-kill")
        out = _ok(lootwatch(moved, "crawl", "--nodes", *SITES[:3], env=cluster["s3"].env))
        assert all(f"{site}: finished on node beta" in out for site in SITES[:3])
        _ok(lootwatch(moved, "ingest", env=cluster["s3"].env))
        snap = _snapshot(cluster["tmp"] / "killed_node.db")
        _assert_every_lot_once(snap)
        assert any("/alpha/" in key for key, *_ in snap["ledger"])  # the dead node's batches are in too
        _assert_polite(cluster)
    finally:
        cluster["nodes"]["alpha"] = Scrapyd(cluster["tmp"] / "alpha-again", cluster["node_env"])
        for house in cluster["houses"]:
            house.delay = 0.02
    assert beta.proc.poll() is None


def test_unreachable_node_is_one_line(cluster, tmp_path):
    config = write_config(
        tmp_path / "l.toml",
        tmp_path / "l.db",
        f"s3://{BUCKET}/unreachable",
        {"gone": ("http://127.0.0.1:9", SITES[:1])},
        {SITES[0]: cluster["houses"][0].url},
    )
    proc = lootwatch(config, "crawl", "--nodes", SITES[0], env=cluster["s3"].env)
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.startswith("lootwatch:")]
    assert len(lines) == 1 and "node gone did not take node_site_a" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    proc = lootwatch(config, "nodes", env=cluster["s3"].env)
    assert proc.returncode == 1 and "gone http://127.0.0.1:9: unreachable" in proc.stdout
    no_storage = {**cluster["s3"].env, "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"}
    proc = lootwatch(config, "ingest", env=no_storage)
    lines = [line for line in proc.stderr.splitlines() if line.startswith("lootwatch:")]
    assert proc.returncode == 1 and len(lines) == 1 and "cannot read the storage" in lines[0], proc.stderr


def test_daily_on_nodes_crawls_ingests_matches_and_reports(cluster):
    config = _config(cluster, "daily", {"beta": SITES[:1]}, state="state-daily")
    off = ", ".join(f'"{site}"' for site in SITES[1:])  # one site keeps the test short
    config.write_text(config.read_text().replace("[scrapy]", f"[scrapy]\nLOOTWATCH_DISABLE_SITES = [{off}]"))
    out = _ok(lootwatch(config, "daily", "--nodes", "--dry-run", env=cluster["s3"].env))
    stages = [line for line in out.splitlines() if line.startswith("== ")]
    assert stages == ["== crawl", "== ingest", "== match", "== report"]
    assert f"{SITES[0]}: finished on node beta" in out and "(20 lots, 0 bad rows)" in out
    assert re.search(r"^1 candidate; wrote ", out, re.M), out


def _with_etags(house) -> None:
    """Make ``house`` serve lot pages with an ETag and answer 304 to a request that names it."""
    from http.server import BaseHTTPRequestHandler

    from tests.fault_site import _send

    plain = house.answer

    def answer(h) -> None:
        if not h.path.startswith("/lot/"):
            return plain(h)
        tag = f'"lot-{h.path[5:]}"'
        if h.headers.get("If-None-Match") == tag:
            return _send(h, 304, b"", "text/html", {"ETag": tag})

        def end_headers() -> None:
            BaseHTTPRequestHandler.send_header(h, "ETag", tag)
            BaseHTTPRequestHandler.end_headers(h)

        h.end_headers = end_headers
        return plain(h)

    house.answer = answer


def test_node_killed_mid_crawl_then_crawled_again_on_it_exports_every_lot(cluster):
    """Kill a node mid-crawl and crawl again on the same node with its state: the lots it had seen but
    whose batch was never stored are exported again, not answered "unchanged" and lost."""
    site, house = SITES[0], cluster["houses"][0]
    _with_etags(house)
    folder = cluster["tmp"] / "gamma"
    cluster["nodes"]["gamma"] = Scrapyd(folder, cluster["node_env"])
    house.delay = 0.12
    try:
        config = _config(cluster, "etag", {"gamma": [site]}, state="state-etag")
        crawl = lootwatch_started(
            config,
            "crawl",
            "--nodes",
            env=cluster["s3"].env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        state = folder / "state-etag" / "data" / "state" / f"{site}.db"

        def seen() -> int:  # lots in the node's own state
            try:
                with sqlite3.connect(f"file:{state}?mode=ro", uri=True, timeout=1) as conn:
                    return conn.execute("SELECT count(*) FROM listings").fetchone()[0]
            except sqlite3.OperationalError:
                return 0

        deadline = time.monotonic() + 120
        # Kill it once it has seen lots that no stored batch holds yet.
        while (
            time.monotonic() < deadline and seen() < 5 * len(cluster["s3"].keys(f"etag/batches/{site}/")) + 2
        ):
            assert crawl.poll() is None
            time.sleep(0.05)
        cluster["nodes"]["gamma"].kill()
        crawl.wait(timeout=180)
        stored = len(cluster["s3"].keys(f"etag/batches/{site}/"))
        assert seen() > 5 * stored and stored < LOTS // 5, "the node was not killed mid-crawl"
        house.delay = 0.02
        cluster["nodes"]["gamma"] = Scrapyd(folder, cluster["node_env"])  # the same node, its state kept
        config = _config(cluster, "etag", {"gamma": [site]}, state="state-etag")
        out = _ok(lootwatch(config, "crawl", "--nodes", site, env=cluster["s3"].env))
        assert f"{site}: finished on node gamma" in out
        _ok(lootwatch(config, "ingest", env=cluster["s3"].env))
        lots = {lot for s, lot, *_ in _snapshot(cluster["tmp"] / "etag.db")["listings"] if s == site}
        assert lots == {str(n) for n in range(1, LOTS + 1)}
        # Once its batches are stored the node keeps the ETags: the next crawl is answered 304.
        house.requests.clear()
        out = _ok(lootwatch(config, "crawl", "--nodes", site, env=cluster["s3"].env))
        assert f"{site}: finished on node gamma" in out and re.search(r"finished, 0 lots", out), out
    finally:
        house.answer = type(house).answer.__get__(house)
        house.delay = 0.02
        cluster["nodes"].pop("gamma").close()
