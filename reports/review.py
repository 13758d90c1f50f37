"""Open the review database in Datasette with lootwatch's configuration."""

from __future__ import annotations

import json
import sys
from importlib.resources import files
from pathlib import Path

import yaml

__all__ = ["review_metadata", "datasette_command"]


def review_metadata(db: Path) -> dict:
    """Datasette metadata for the review database, keyed by the name Datasette gives it (the file stem)."""
    meta = yaml.safe_load(files("reports").joinpath("metadata.yaml").read_text(encoding="utf-8"))
    meta["databases"] = {Path(db).stem: meta["databases"]["lootwatch"]}
    meta["description_html"] = meta["description_html"].replace("/lootwatch/", f"/{Path(db).stem}/")
    return meta


def datasette_command(db: Path, metadata_path: Path, host: str = "127.0.0.1", port: int = 8001) -> list[str]:
    """Write the metadata beside the database and return the command line that serves it for review."""
    metadata_path.write_text(json.dumps(review_metadata(db), indent=1), encoding="utf-8")
    return [
        sys.executable,
        "-m",
        "datasette",
        "serve",
        str(db),
        "--metadata",
        str(metadata_path),
        "--host",
        host,
        "--port",
        str(port),
        "--setting",
        "sql_time_limit_ms",
        "3000",
    ]
