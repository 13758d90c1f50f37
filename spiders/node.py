"""Crawler-node mode: a Scrapy add-on that sends a crawl's lots, photos and WARC files to object storage
instead of writing them into the review database.

Switched on by two settings, which ``lootwatch crawl --nodes`` passes to each Scrapyd job:

- ``LOOTWATCH_NODE``: this node's name (from the ``[nodes.NAME]`` table of lootwatch.toml);
- ``LOOTWATCH_STORAGE``: ``s3://bucket[/prefix]`` (``AWS_ENDPOINT_URL`` in the node's environment picks
  MinIO or a cloud; credentials as boto3 finds them).

With them set, the add-on replaces the listing store with ``pipelines.node_export.NodeExportPipeline``
(the same canonical decode and fingerprint as the single-machine path, computed here, on the node), the
WARC writer with ``warc_upload.NodeWarcMiddleware``, and adds a Scrapy feed (``FEEDS``, JSON lines, a
new batch every ``LOOTWATCH_BATCH_ITEMS`` lots) under ``batches/<site>/<day>/<node>/<job>-<n>.jsonl``.
The node's own database (``LOOTWATCH_DB``) keeps only its state: conditional-request validators, photos
already fetched, run counts and errors. Without ``LOOTWATCH_NODE`` nothing changes.

Anyone who can reach a node's Scrapyd can pass a job any setting, so on a node the settings that widen
what may be fetched (``NODE_OWN_SETTINGS``: private addresses allowed, the demo houses' address) are read
only from the node's own configuration: its environment, else the project's settings module. A value a
job brought is ignored with one logged line.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from scrapy.settings import SETTINGS_PRIORITIES, BaseSettings

__all__ = [
    "NodeAddon",
    "NodeContext",
    "node_context",
    "batch_uri_params",
    "NODE_NAME",
    "NODE_OWN_SETTINGS",
    "on_node",
]

logger = logging.getLogger(__name__)

# Settings that let a crawl fetch more addresses: on a node, never taken from a job's settings.
NODE_OWN_SETTINGS = ("LOOTWATCH_ALLOW_HOSTS", "LOOTWATCH_DEMO_URL")

NODE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
STORE_LISTINGS = "spiders.pipelines.listings.StoreListingPipeline"
EXPORT_LISTINGS = "spiders.pipelines.node_export.NodeExportPipeline"
WARC = "spiders.warc.WarcMiddleware"
NODE_WARC = "spiders.warc_upload.NodeWarcMiddleware"


class NodeAddon:
    """Rewires a crawl for a crawler node when ``LOOTWATCH_NODE`` is set; does nothing otherwise."""

    def update_settings(self, settings: BaseSettings) -> None:
        if on_node(settings):
            for name in NODE_OWN_SETTINGS:
                _node_own(settings, name)
        node = settings.get("LOOTWATCH_NODE")
        if not node:
            return
        if not NODE_NAME.match(str(node)):
            raise ValueError(
                f"LOOTWATCH_NODE {node!r}: use lowercase letters, digits, - and _ (a storage key)"
            )
        storage = str(settings.get("LOOTWATCH_STORAGE") or "").rstrip("/")
        if not storage.startswith("s3://"):
            raise ValueError("LOOTWATCH_NODE is set but LOOTWATCH_STORAGE is not s3://bucket[/prefix]")
        # cmdline priority: the project's settings module sets these at a higher one than an add-on's.
        pipelines = dict(settings.getdict("ITEM_PIPELINES"))
        order = pipelines.pop(STORE_LISTINGS, 300)
        settings.set("ITEM_PIPELINES", pipelines | {EXPORT_LISTINGS: order}, priority="cmdline")
        middlewares = dict(settings.getdict("DOWNLOADER_MIDDLEWARES"))
        order = middlewares.pop(WARC, 650)
        settings.set("DOWNLOADER_MIDDLEWARES", middlewares | {NODE_WARC: order}, priority="cmdline")
        feeds = dict(settings.getdict("FEEDS"))
        uri = f"{storage}/batches/%(name)s/%(lw_day)s/%(lw_node)s/%(lw_job)s-%(batch_id)05d.jsonl"
        feeds[uri] = {
            "format": "jsonlines",
            "encoding": "utf-8",
            "batch_item_count": settings.getint("LOOTWATCH_BATCH_ITEMS", 500),
            "uri_params": "spiders.node.batch_uri_params",
            "store_empty": False,
        }
        settings.set("FEEDS", feeds, priority="cmdline")
        extensions = dict(settings.getdict("EXTENSIONS"))
        settings.set("EXTENSIONS", extensions | {"spiders.node_runs.NodeRunSummary": 510}, priority="cmdline")


def on_node(settings: BaseSettings | None) -> bool:
    """Whether this crawl runs on a crawler node (``LOOTWATCH_NODE`` in its settings or environment)."""
    return bool((settings is not None and settings.get("LOOTWATCH_NODE")) or os.environ.get("LOOTWATCH_NODE"))


def _node_own(settings: BaseSettings, name: str) -> None:
    """Set ``name`` from the node's environment, else its project settings module, whatever a job said."""
    priority = settings.getpriority(name)
    if priority is not None and priority > SETTINGS_PRIORITIES["project"]:
        logger.warning(
            "lootwatch: %s from the job's settings ignored: on a crawler node it is read only from the "
            "node's environment or its settings module",
            name,
        )
    if name in os.environ:
        value: Any = os.environ[name]
    else:
        module = os.environ.get("SCRAPY_SETTINGS_MODULE") or "spiders.settings"
        try:
            value = getattr(importlib.import_module(module), name, None)
        except ImportError:
            value = None
    settings.set(name, value, priority="cmdline")


@dataclass
class NodeContext:
    """What names a node's objects: the node, the Scrapyd job, the UTC day the crawl began, and the
    storage they go to (a ``matcher.nodes.objectstore.ObjectStore``)."""

    node: str
    job: str
    day: str
    store: Any


def node_context(crawler: Any) -> NodeContext:
    """The crawl's ``NodeContext``, made on first use and kept on the crawler (one day for the whole run,
    so a crawl past midnight keeps its objects together)."""
    found = getattr(crawler, "lootwatch_node", None)
    if found is None:
        from matcher.nodes.objectstore import ObjectStore

        settings = crawler.settings
        spider = getattr(crawler, "spider", None)
        # Scrapyd gives every job an id (the _job argument, SCRAPY_JOB); a crawl started by hand gets one.
        job = getattr(spider, "_job", None) or os.environ.get("SCRAPY_JOB") or uuid.uuid4().hex
        # The node's own name (its environment) names its objects, whatever the job says: a job
        # scheduled under another name is then held back on the review machine, not filed under it.
        said = str(settings.get("LOOTWATCH_NODE"))
        node = os.environ.get("LOOTWATCH_NODE") or said
        if node != said:
            logger.warning(
                "lootwatch: this node is %r (LOOTWATCH_NODE in its environment), the job says %r: its "
                "objects are named %r",
                node,
                said,
                node,
            )
        found = NodeContext(
            node=node,
            job=re.sub(r"[^A-Za-z0-9_-]", "_", str(job))[:64],
            day=datetime.now(UTC).strftime("%Y-%m-%d"),
            store=ObjectStore(str(settings.get("LOOTWATCH_STORAGE")).rstrip("/")),
        )
        crawler.lootwatch_node = found
    return found


def batch_uri_params(params: dict[str, Any], spider: Any) -> dict[str, Any]:
    """The feed URI's parameters (Scrapy's ``uri_params`` hook): node, job and day of this crawl."""
    context = node_context(spider.crawler)
    return params | {"lw_node": context.node, "lw_job": context.job, "lw_day": context.day}
