"""Open the review database in Datasette with lootwatch's configuration."""

from __future__ import annotations

import json
import os
import sys
from importlib.resources import files
from pathlib import Path

import yaml

__all__ = ["review_metadata", "datasette_command", "reviewers"]


def reviewers(environ: dict[str, str] | None = None) -> dict[str, str]:
    """Reviewer name -> the environment variable holding their password hash.

    ``analyst`` signs in with LOOTWATCH_PASSWORD_HASH; more reviewers are named in LOOTWATCH_REVIEWERS
    ("alice,bob"), each with LOOTWATCH_PASSWORD_HASH_ALICE, ... Only reviewers whose hash is set count.
    Make a hash with ``lootwatch review --hash-password``.
    """
    env = os.environ if environ is None else environ
    names = {"analyst": "LOOTWATCH_PASSWORD_HASH"}
    for name in filter(None, (n.strip() for n in env.get("LOOTWATCH_REVIEWERS", "").split(","))):
        names[name] = f"LOOTWATCH_PASSWORD_HASH_{name.upper()}"
    return {name: var for name, var in names.items() if env.get(var)}


def review_metadata(db: Path, read_only: bool = False, environ: dict[str, str] | None = None) -> dict:
    """Datasette metadata for the review database, keyed by the name Datasette gives it (the file stem).

    Verdicts can be recorded by signed-in reviewers unless ``read_only``; with no reviewer configured
    the UI is read-only too. Password hashes stay in the environment (``$env``), never in the file.
    """
    meta = yaml.safe_load(files("reports").joinpath("metadata.yaml").read_text(encoding="utf-8"))
    meta["databases"] = {Path(db).stem: meta["databases"]["lootwatch"]}
    meta["description_html"] = meta["description_html"].replace("/lootwatch/", f"/{Path(db).stem}/")
    accounts = reviewers(environ)
    meta.setdefault("plugins", {})["lootwatch"] = {"read_only": read_only or not accounts}
    if accounts and not read_only:
        meta["plugins"]["datasette-auth-passwords"] = {
            f"{name}_password_hash": {"$env": var} for name, var in accounts.items()
        }
    return meta


def datasette_command(
    db: Path, metadata_path: Path, host: str = "127.0.0.1", port: int = 8001, read_only: bool = False
) -> list[str]:
    """Write the metadata beside the database and return the command line that serves it for review."""
    metadata_path.write_text(json.dumps(review_metadata(db, read_only), indent=1), encoding="utf-8")
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
