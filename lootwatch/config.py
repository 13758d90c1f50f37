"""Settings from ``lootwatch.toml`` (``--config`` or LOOTWATCH_CONFIG), secrets from the environment.

One home per database: the data folder (original bytes, WARC files), the digests and the evidence packs
live beside the review database (``data/``, ``reports/``, ``evidence/`` in its folder) unless
``lootwatch.toml`` names another place, never in the working directory.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = ["Config", "Node", "load_config", "ConfigError", "BESIDE_DB"]


class ConfigError(ValueError):
    """The configuration file is missing or malformed."""


# Folders that belong to one database: the config key and the default folder beside the database.
BESIDE_DB = {"data_dir": "data", "report_dir": "reports", "evidence_dir": "evidence"}


@dataclass
class Node:
    """One crawler node of ``[nodes.NAME]``: its Scrapyd URL, the sites pinned to it, and ``data_dir``,
    the folder on the node (relative to Scrapyd's working folder) for its originals, WARC files and one
    state database per site (``state/<site>.db``: a site's jobs never wait for another site's)."""

    name: str
    url: str
    sites: list[str]
    data_dir: str = "lootwatch-node"


@dataclass
class Config:
    """Where lootwatch keeps its database and files, and who the report goes to.

    ``load_config`` fills ``data_dir``, ``report_dir`` and ``evidence_dir`` beside ``db`` unless the
    config file sets them; the defaults here only hold for a database in the working directory.
    """

    db: Path = Path("lootwatch.db")
    data_dir: Path = Path("data")
    review_url: str = ""  # the review UI as analysts reach it; unset, the digest says how to open it
    report_dir: Path = Path("reports")
    evidence_dir: Path = Path("evidence")
    mail_from: str = "lootwatch@localhost"
    mail_to: list[str] = field(default_factory=list)
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: str = "starttls"
    digest_limit: int = 50  # candidates shown in the digest; the rest are behind the worklist link
    alert_urls: list[str] = field(default_factory=list)  # Apprise URLs, [alerts] urls + LOOTWATCH_ALERT_URLS
    alert_summary: bool = True  # the daily summary goes to the alert URLs too
    scrapy: dict[str, Any] = field(default_factory=dict)
    backup: dict[str, Any] = field(default_factory=dict)  # [backup]: the replica (lootwatch/backup.py)
    nodes: dict[str, Node] = field(default_factory=dict)  # [nodes.NAME]: crawler nodes on Scrapyd
    storage_url: str = ""  # [storage] url: s3://bucket[/prefix] between the nodes and this machine
    batch_items: int = 500  # [storage] batch_items: lots per batch a node writes


def load_config(path: str | Path | None = None, db: str | Path | None = None) -> Config:
    """Read the config file (if any), then apply ``--db``. Relative paths are relative to the file.

    The folders of ``BESIDE_DB`` the file does not set are put beside the database (after ``--db``), so
    where things go depends on the database, not on the working directory.

    :raises ConfigError: the file is missing, not TOML, or holds a bad value.
    """
    path = path or os.environ.get("LOOTWATCH_CONFIG")
    cfg = Config()
    given: set[str] = set()
    if path:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"config file {p} not found") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {p}: {exc}") from exc
        base = p.parent
        for key in ("db", *BESIDE_DB):
            if key in data:
                setattr(cfg, key, base / str(data[key]))
                given.add(key)
        for key in ("review_url", "mail_from", "smtp_host", "smtp_security"):
            if key in data:
                setattr(cfg, key, str(data[key]))
        for key in ("smtp_port", "digest_limit"):
            if key in data:
                if not isinstance(data[key], int) or isinstance(data[key], bool) or data[key] < 0:
                    raise ConfigError(f"config file {p}: {key} must be a whole number")
                setattr(cfg, key, data[key])
        cfg.mail_to = [str(x) for x in data.get("mail_to", [])]
        cfg.alert_urls, cfg.alert_summary = _alerts(data, p)
        cfg.scrapy = _scrapy_settings(data, p)
        cfg.backup = _backup_table(data, p)
        cfg.nodes = _nodes(data, p)
        cfg.storage_url, cfg.batch_items = _storage(data, p)
    # Alert URLs carry their service's token, so they may live in the environment instead of the file.
    cfg.alert_urls += os.environ.get("LOOTWATCH_ALERT_URLS", "").split()
    if db:
        cfg.db = Path(db)
    _beside_db(cfg, given)
    return cfg


def _beside_db(cfg: Config, given: set[str]) -> None:
    """Put the database's folders the config file did not place beside the database."""
    for key, folder in BESIDE_DB.items():
        if key not in given:
            setattr(cfg, key, cfg.db.parent / folder)


def _alerts(data: dict[str, Any], path: Path) -> tuple[list[str], bool]:
    """The ``[alerts]`` table: ``urls``, a list of Apprise URLs, and ``summary``, whether the daily summary
    goes there too (alerts of failures always do)."""
    alerts = data.get("alerts", {})
    if not isinstance(alerts, dict):
        raise ConfigError(f"config file {path}: alerts must be a table ([alerts])")
    urls = alerts.get("urls", [])
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        raise ConfigError(f"config file {path}: [alerts] urls must be a list of Apprise URLs (strings)")
    summary = alerts.get("summary", True)
    if not isinstance(summary, bool):
        raise ConfigError(f"config file {path}: [alerts] summary must be true or false")
    return [u.strip() for u in urls if u.strip()], summary


def _scrapy_settings(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """The ``[scrapy]`` table, with the crawler's address allowance checked before any crawl starts."""
    from spiders.addresses import Allowance

    scrapy = dict(data.get("scrapy", {}))
    if "LOOTWATCH_ALLOW_PRIVATE" in scrapy:
        raise ConfigError(
            f"config file {path}: LOOTWATCH_ALLOW_PRIVATE is not read any more; list the host:port pairs "
            "that may be fetched on a private address in LOOTWATCH_ALLOW_HOSTS"
        )
    try:
        Allowance(scrapy.get("LOOTWATCH_ALLOW_HOSTS") or [])
    except (ValueError, TypeError, AttributeError) as exc:
        raise ConfigError(f"config file {path}: {exc}") from exc
    return scrapy


BACKUP_KEYS = {"bucket": str, "path": str, "region": str, "endpoint": str, "force_path_style": bool}


def _backup_table(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """The ``[backup]`` table (where Litestream keeps the review database's replica), its keys and types
    checked; the values themselves are checked by ``lootwatch.backup`` with the environment's."""
    table = data.get("backup", {})
    if not isinstance(table, dict):
        raise ConfigError(f"config file {path}: backup must be a table ([backup])")
    for key, value in table.items():
        kind = BACKUP_KEYS.get(key)
        if kind is None:
            known = ", ".join(BACKUP_KEYS)
            raise ConfigError(f"config file {path}: [backup] has no key {key!r} (known: {known})")
        if not isinstance(value, kind):
            raise ConfigError(f"config file {path}: [backup] {key} must be a {kind.__name__}")
    return dict(table)


def _nodes(data: dict[str, Any], path: Path) -> dict[str, Node]:
    """The ``[nodes.NAME]`` tables: each a Scrapyd ``url`` and its ``sites``; a site on two nodes is
    refused (its politeness would be doubled)."""
    from spiders.node import NODE_NAME  # a node's name is part of its storage keys

    table = data.get("nodes", {})
    if not isinstance(table, dict):
        raise ConfigError(f"config file {path}: nodes must be tables ([nodes.NAME])")
    nodes: dict[str, Node] = {}
    pinned: dict[str, str] = {}
    for name, entry in table.items():
        where = f"config file {path}: [nodes.{name}]"
        if not NODE_NAME.match(name):
            raise ConfigError(f"{where}: a node name is lowercase letters, digits, - and _")
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} must be a table with url and sites")
        url = entry.get("url")
        if (
            not isinstance(url, str)
            or urlsplit(url).scheme not in ("http", "https")
            or not urlsplit(url).netloc
        ):
            raise ConfigError(f"{where}: url must be the node's Scrapyd address, http://HOST:6800")
        sites = entry.get("sites", [])
        if not isinstance(sites, list) or not all(isinstance(s, str) and s for s in sites):
            raise ConfigError(f"{where}: sites must be a list of site names")
        for site in sites:
            if site in pinned:
                raise ConfigError(
                    f"{where}: site {site} is already on node {pinned[site]}; a site runs on exactly one node"
                )
            pinned[site] = name
        paths = {k: str(entry[k]) for k in ("data_dir",) if isinstance(entry.get(k), str)}
        nodes[name] = Node(name, url.rstrip("/"), list(sites), **paths)
    return nodes


def _storage(data: dict[str, Any], path: Path) -> tuple[str, int]:
    """The ``[storage]`` table: ``url`` (s3://bucket[/prefix]) and ``batch_items`` (lots per batch)."""
    table = data.get("storage", {})
    if not isinstance(table, dict):
        raise ConfigError(f"config file {path}: storage must be a table ([storage])")
    url = table.get("url", "")
    if url and (not isinstance(url, str) or not re.match(r"^s3://[^/]+", url)):
        raise ConfigError(
            f"config file {path}: [storage] url must look like s3://bucket or s3://bucket/prefix"
        )
    items = table.get("batch_items", 500)
    if not isinstance(items, int) or isinstance(items, bool) or not 1 <= items <= 100_000:
        raise ConfigError(
            f"config file {path}: [storage] batch_items must be a whole number from 1 to 100000"
        )
    return str(url).rstrip("/"), items
