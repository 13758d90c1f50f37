"""Settings from ``lootwatch.toml`` (``--config`` or LOOTWATCH_CONFIG), secrets from the environment."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Config", "load_config", "ConfigError"]


class ConfigError(ValueError):
    """The configuration file is missing or malformed."""


@dataclass
class Config:
    """Where lootwatch keeps its database and files, and who the report goes to."""

    db: Path = Path("lootwatch.db")
    data_dir: Path = Path("data")
    review_url: str = "http://127.0.0.1:8001"
    report_dir: Path = Path("reports")
    mail_from: str = "lootwatch@localhost"
    mail_to: list[str] = field(default_factory=list)
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: str = "starttls"
    scrapy: dict[str, Any] = field(default_factory=dict)


def load_config(path: str | Path | None = None, db: str | Path | None = None) -> Config:
    """Read the config file (if any), then apply ``--db``. Relative paths are relative to the file."""
    path = path or os.environ.get("LOOTWATCH_CONFIG")
    cfg = Config()
    if path:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"config file {p} not found") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {p}: {exc}") from exc
        base = p.parent
        for key in ("db", "data_dir", "report_dir"):
            if key in data:
                setattr(cfg, key, base / str(data[key]))
        for key in ("review_url", "mail_from", "smtp_host", "smtp_security"):
            if key in data:
                setattr(cfg, key, str(data[key]))
        if "smtp_port" in data:
            if not isinstance(data["smtp_port"], int):
                raise ConfigError(f"config file {p}: smtp_port must be a number")
            cfg.smtp_port = data["smtp_port"]
        cfg.mail_to = [str(x) for x in data.get("mail_to", [])]
        cfg.scrapy = _scrapy_settings(data, p)
    if db:
        cfg.db = Path(db)
    return cfg


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
