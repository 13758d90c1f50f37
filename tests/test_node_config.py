"""The site-to-node table and storage of lootwatch.toml, what a Scrapyd job is given, and the node
add-on that rewires a crawl (spiders/node.py): each checked without any service running."""

from __future__ import annotations

import json
import re

import pytest
from scrapy.settings import Settings

from lootwatch.config import ConfigError, load_config
from lootwatch.nodes import job_settings, plan
from spiders.node import EXPORT_LISTINGS, NODE_WARC, STORE_LISTINGS, WARC, NodeAddon
from spiders.run import project_settings

GOOD = """
[scrapy]
LOOTWATCH_ALLOW_HOSTS = ["127.0.0.1:8001", "127.0.0.1:8002"]
LOOTWATCH_TEST_SITES = '{"a": "http://127.0.0.1:8001"}'
[storage]
url = "s3://lw-batches/prod/"
batch_items = 200
[nodes.crawler-1]
url = "http://10.0.0.11:6800/"
sites = ["catawiki", "artemis_gallery"]
[nodes.crawler-2]
url = "http://10.0.0.12:6800"
sites = ["ebay_browse"]
data_dir = "/var/lib/lootwatch-node"
"""


def _load(tmp_path, text: str):
    (tmp_path / "lootwatch.toml").write_text(text)
    return load_config(tmp_path / "lootwatch.toml")


def test_nodes_and_storage_are_read(tmp_path):
    cfg = _load(tmp_path, GOOD)
    assert cfg.storage_url == "s3://lw-batches/prod" and cfg.batch_items == 200
    assert cfg.nodes["crawler-1"].url == "http://10.0.0.11:6800"
    assert cfg.nodes["crawler-2"].data_dir == "/var/lib/lootwatch-node"
    grouped, unpinned = plan(cfg, ["catawiki", "ebay_browse", "demo_aurora"])
    assert grouped == {"crawler-1": ["catawiki"], "crawler-2": ["ebay_browse"]} and unpinned == [
        "demo_aurora"
    ]


def test_single_machine_config_has_no_nodes(tmp_path):
    cfg = _load(tmp_path, 'db = "l.db"\n')
    assert cfg.nodes == {} and cfg.storage_url == ""


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (GOOD.replace('sites = ["ebay_browse"]', 'sites = ["catawiki"]'), "already on node crawler-1"),
        (GOOD.replace("[nodes.crawler-1]", "[nodes.Crawler_1]"), "node name"),
        (GOOD.replace('url = "http://10.0.0.12:6800"', 'url = "10.0.0.12:6800"'), "Scrapyd address"),
        (GOOD.replace('url = "s3://lw-batches/prod/"', 'url = "/srv/batches"'), "s3://bucket"),
        (GOOD.replace("batch_items = 200", "batch_items = 0"), "batch_items"),
        (GOOD.replace('sites = ["ebay_browse"]', 'sites = "ebay_browse"'), "list of site names"),
    ],
    ids=["site-on-two-nodes", "bad-name", "bad-url", "bad-storage", "bad-batch", "sites-not-list"],
)
def test_bad_tables_refused_in_one_line(tmp_path, text, says):
    with pytest.raises(ConfigError, match=says) as caught:
        _load(tmp_path, text)
    assert "\n" not in str(caught.value)


def test_a_job_gets_node_mode_and_the_scrapy_table_as_text(tmp_path):
    cfg = _load(tmp_path, GOOD)
    params = dict(v.split("=", 1) for _, v in job_settings(cfg, cfg.nodes["crawler-2"], "ebay_browse"))
    assert params["LOOTWATCH_NODE"] == "crawler-2" and params["LOOTWATCH_STORAGE"] == "s3://lw-batches/prod"
    assert params["LOOTWATCH_BATCH_ITEMS"] == "200"
    assert params["LOOTWATCH_DB"] == "/var/lib/lootwatch-node/state/ebay_browse.db"
    assert params["LOOTWATCH_ALLOW_HOSTS"] == "127.0.0.1:8001,127.0.0.1:8002"  # Scrapy's getlist splits on ,
    settings = Settings({k: v for k, v in params.items()})
    assert settings.getlist("LOOTWATCH_ALLOW_HOSTS") == ["127.0.0.1:8001", "127.0.0.1:8002"]
    assert settings.getdict("LOOTWATCH_TEST_SITES") == {"a": "http://127.0.0.1:8001"}


def test_node_addon_rewires_only_in_node_mode(tmp_path):
    plain = project_settings(tmp_path / "l.db", tmp_path / "data")
    NodeAddon().update_settings(plain)
    assert STORE_LISTINGS in plain.getdict("ITEM_PIPELINES") and not plain.getdict("FEEDS")
    node = project_settings(
        tmp_path / "l.db",
        tmp_path / "data",
        LOOTWATCH_NODE="alpha",
        LOOTWATCH_STORAGE="s3://b/p",
        LOOTWATCH_BATCH_ITEMS=7,
    )
    NodeAddon().update_settings(node)
    pipelines, middlewares = node.getdict("ITEM_PIPELINES"), node.getdict("DOWNLOADER_MIDDLEWARES")
    assert EXPORT_LISTINGS in pipelines and STORE_LISTINGS not in pipelines
    assert NODE_WARC in middlewares and WARC not in middlewares
    ((uri, options),) = node.getdict("FEEDS").items()
    assert uri == "s3://b/p/batches/%(name)s/%(lw_day)s/%(lw_node)s/%(lw_job)s-%(batch_id)05d.jsonl"
    assert options["batch_item_count"] == 7 and options["format"] == "jsonlines"
    assert "spiders.node_runs.NodeRunSummary" in node.getdict("EXTENSIONS")


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"LOOTWATCH_NODE": "alpha"}, "LOOTWATCH_STORAGE"),
        ({"LOOTWATCH_NODE": "../x", "LOOTWATCH_STORAGE": "s3://b"}, "LOOTWATCH_NODE"),
    ],
)
def test_node_addon_refuses_half_a_configuration(tmp_path, overrides, says):
    settings = project_settings(tmp_path / "l.db", tmp_path / "data", **overrides)
    with pytest.raises(ValueError, match=says):
        NodeAddon().update_settings(settings)


def test_job_settings_json_for_dicts(tmp_path):
    cfg = _load(tmp_path, GOOD)
    cfg.scrapy["DOWNLOAD_SLOTS"] = {"x.example": {"concurrency": 1}}
    params = dict(v.split("=", 1) for _, v in job_settings(cfg, cfg.nodes["crawler-1"], "catawiki"))
    assert json.loads(params["DOWNLOAD_SLOTS"]) == {"x.example": {"concurrency": 1}}


def test_readme_node_example_loads(tmp_path):
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    (example,) = [b for b in re.findall(r"```toml\n(.*?)```", readme, re.S) if "[nodes." in b]
    cfg = _load(tmp_path, example)
    assert cfg.storage_url == "s3://lootwatch-batches/my-unit" and cfg.batch_items == 500
    assert list(cfg.nodes) == ["crawler-1", "crawler-2"]
    assert cfg.nodes["crawler-2"].sites == ["ebay_browse", "ebay_search"]


def _export_one(tmp_path, failed: int):
    """Export one lot through the node pipeline and close the feed export, ``failed`` batches failing."""
    from types import SimpleNamespace

    from scrapy import signals
    from scrapy.utils.test import get_crawler

    from matcher.db import connect, store
    from spiders.items import ListingItem
    from spiders.node import NodeContext
    from spiders.pipelines.node_export import NodeExportPipeline

    db = connect.open_db(tmp_path / "node.db")
    crawler = get_crawler(settings_dict={"LOOTWATCH_NODE": "alpha", "FILES_STORE": str(tmp_path)})
    crawler.stats.open_spider()
    crawler.lootwatch_run = SimpleNamespace(db=db, run_id=None, error=lambda *a: None)
    crawler.lootwatch_node = NodeContext("alpha", "job1", "2026-11-30", None)
    url = "http://127.0.0.1:8001/lot/1"
    # The previous run's validators, for an older version of the page.
    listing_id, _ = store.upsert_listing(db, {"site": "a", "lot_id": "1", "url": url, "title": "old"})
    store.set_validators(db, listing_id, '"old"', None)
    pipeline = NodeExportPipeline(crawler)
    item = ListingItem(site="a", lot_id="1", url=url, title="new", image_urls=[], etag='"new"')
    row = pipeline.process_item(item)
    assert row["lot"]["title"] == "new" and "etag" not in row["lot"]
    before = store.validators(db, "a", url)
    if failed:
        crawler.stats.set_value("feedexport/failed_count/S3FeedStorage", failed)
    crawler.signals.send_catch_log(signals.feed_exporter_closed)
    return before, store.validators(db, "a", url)


def test_node_keeps_a_lots_validators_only_once_its_batches_are_stored(tmp_path):
    """A job that dies before its batch is stored must not leave validators that earn a 304 next time:
    the lot would never be exported."""
    before, after = _export_one(tmp_path, failed=0)
    assert before == (None, None)  # the job is still running: nothing kept, not even the old ETag
    assert after == ('"new"', None)


def test_node_keeps_no_validators_when_a_batch_was_not_stored(tmp_path):
    before, after = _export_one(tmp_path, failed=1)
    assert before == after == (None, None)


WIDENING = {"LOOTWATCH_DEMO_URL": "http://10.0.0.5:80", "LOOTWATCH_ALLOW_HOSTS": "10.0.0.5:80,10.0.0.6:22"}


def test_a_node_ignores_address_settings_a_job_brings(tmp_path, monkeypatch, caplog):
    for name in WIDENING:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("LOOTWATCH_NODE", raising=False)
    settings = project_settings(
        tmp_path / "l.db", tmp_path / "data", LOOTWATCH_NODE="alpha", LOOTWATCH_STORAGE="s3://b", **WIDENING
    )
    with caplog.at_level("WARNING", logger="spiders.node"):
        NodeAddon().update_settings(settings)
    assert settings.get("LOOTWATCH_DEMO_URL") is None and settings.getlist("LOOTWATCH_ALLOW_HOSTS") == []
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and all("from the job's settings ignored" in line for line in lines)


def test_a_node_takes_address_settings_from_its_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("LOOTWATCH_ALLOW_HOSTS", "127.0.0.1:8001")
    monkeypatch.setenv("LOOTWATCH_DEMO_URL", "http://127.0.0.1:8001")
    monkeypatch.setenv("LOOTWATCH_NODE", "alpha")  # a job that leaves LOOTWATCH_NODE out is still checked
    settings = project_settings(tmp_path / "l.db", tmp_path / "data", **WIDENING)
    NodeAddon().update_settings(settings)
    assert settings.getlist("LOOTWATCH_ALLOW_HOSTS") == ["127.0.0.1:8001"]
    assert settings.get("LOOTWATCH_DEMO_URL") == "http://127.0.0.1:8001"


def test_a_single_machine_crawl_keeps_its_address_settings(tmp_path, monkeypatch):
    monkeypatch.delenv("LOOTWATCH_NODE", raising=False)
    settings = project_settings(tmp_path / "l.db", tmp_path / "data", **WIDENING)
    NodeAddon().update_settings(settings)
    assert settings.get("LOOTWATCH_DEMO_URL") == WIDENING["LOOTWATCH_DEMO_URL"]


def test_a_demo_spider_on_a_node_ignores_a_base_url_argument(tmp_path, monkeypatch):
    from scrapy.utils.test import get_crawler

    from spiders.base import DemoSpider

    monkeypatch.delenv("LOOTWATCH_NODE", raising=False)
    spider_cls = type("DemoX", (DemoSpider,), {"name": "demo_x"})
    crawler = get_crawler(spider_cls, {"LOOTWATCH_NODE": "alpha", "LOOTWATCH_DEMO_URL": "http://127.0.0.1:9"})
    spider = spider_cls.from_crawler(crawler, base_url="http://10.0.0.5")
    assert spider.demo_url == "http://127.0.0.1:9"
    plain = get_crawler(spider_cls, {"LOOTWATCH_DEMO_URL": "http://127.0.0.1:9"})
    assert spider_cls.from_crawler(plain, base_url="http://127.0.0.1:7").demo_url == "http://127.0.0.1:7"


def test_ingest_without_a_node_table_or_beside_another_ingest_says_so_in_one_line(tmp_path):
    """Neither reaches the storage: without ``[nodes]`` every batch would be held back, and a second
    ingest on one database waits for none, it names the first one's pid."""
    from lootwatch import locks

    from .conftest import run_cli

    (tmp_path / "lootwatch.toml").write_text('db = "l.db"\n[storage]\nurl = "s3://lw-batches"\n')
    proc = run_cli("--config", str(tmp_path / "lootwatch.toml"), "ingest", "--no-match", check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "no [nodes.NAME] tables in lootwatch.toml" in proc.stderr
    (tmp_path / "lootwatch.toml").write_text(
        'db = "l.db"\n[storage]\nurl = "s3://lw-batches"\n[nodes.crawler-1]\nurl = "http://127.0.0.1:9"\n'
        'sites = ["catawiki"]\n'
    )
    lock = tmp_path / "l.db.ingest-lock"
    fd = locks.hold(lock, "ingest")
    try:
        proc = run_cli("--config", str(tmp_path / "lootwatch.toml"), "ingest", "--no-match", check=False)
    finally:
        locks.release(lock, fd)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert f"another `lootwatch ingest` (pid {__import__('os').getpid()}) is writing to" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
