"""Open the review database in Datasette with lootwatch's configuration."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import sys
from importlib.resources import files
from pathlib import Path

import yaml

from .security import COOKIE_HOURS, host_names

__all__ = [
    "review_metadata",
    "datasette_command",
    "reviewers",
    "broken_hashes",
    "review_secret",
    "PRIVATE_TABLES",
]

# Tables nobody who is not signed in reads: crawl errors, the digests sent (with their recipients) and the
# reviewers' verdicts and notes. Without reviewers (read-only mode) nobody can sign in, so nobody reads them.
PRIVATE_TABLES = ("errors", "reports", "reviews")
SECRET_ENV = "DATASETTE_SECRET"


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


# datasette-auth-passwords' hashes: "pbkdf2_sha256$<iterations>$<salt>$<hash>".
_HASH = re.compile(r"pbkdf2_sha256\$\d+\$[^$\s]+\$[^$\s]+")


def broken_hashes(environ: dict[str, str] | None = None) -> list[str]:
    """One line for each reviewer named in LOOTWATCH_REVIEWERS without a hash, and for each password
    hash that is not a whole hash, as when a shell read the ``$`` signs of an unquoted
    ``export LOOTWATCH_PASSWORD_HASH=pbkdf2_sha256$480000$...``; [] when all is well."""
    env = os.environ if environ is None else environ
    lines = []
    for name in filter(None, (n.strip() for n in env.get("LOOTWATCH_REVIEWERS", "").split(","))):
        var = f"LOOTWATCH_PASSWORD_HASH_{name.upper()}"
        if not env.get(var, "").strip():
            lines.append(
                f"LOOTWATCH_REVIEWERS names {name}, but {var} is not set: make the hash with "
                "lootwatch review --hash-password and set it, or take the name out of LOOTWATCH_REVIEWERS."
            )
    for name, var in reviewers(env).items():
        if not _HASH.fullmatch(env[var].strip()):
            lines.append(
                f"{var} (reviewer {name}) is not a whole password hash: it should look like "
                "pbkdf2_sha256$480000$...$... . Set it in single quotes, "
                f"export {var}='pbkdf2_sha256$...', so the shell leaves its $ signs alone."
            )
    return lines


def review_metadata(
    db: Path,
    read_only: bool = False,
    environ: dict[str, str] | None = None,
    hosts: list[str] | tuple[str, ...] = (),
    originals: Path | None = None,
) -> dict:
    """Datasette metadata for the review database, keyed by the name Datasette gives it (the file stem).

    Verdicts can be recorded by signed-in reviewers unless ``read_only``; with no reviewer configured
    the UI is read-only too. Password hashes stay in the environment (``$env``), never in the file.

    With reviewers, the instance's ``allow`` block admits them alone (``reports.security`` applies it to
    every path, not only Datasette's own views). Arbitrary SQL is off for everyone; the tables of
    ``PRIVATE_TABLES`` are for signed-in reviewers, and for no one in read-only mode. ``hosts`` are host
    names to answer besides 127.0.0.1, localhost and LOOTWATCH_REVIEW_HOSTS. ``originals`` is the folder of
    the photos' original bytes, shown when a photo is enlarged (default: ``data/originals`` beside the
    database).
    """
    meta = yaml.safe_load(files("reports").joinpath("metadata.yaml").read_text(encoding="utf-8"))
    meta["databases"] = {Path(db).stem: meta["databases"]["lootwatch"]}
    meta["description_html"] = meta["description_html"].replace("/lootwatch/", f"/{Path(db).stem}/")
    accounts = reviewers(environ)
    meta.setdefault("plugins", {})["lootwatch"] = {
        "read_only": read_only or not accounts,
        "hosts": host_names(hosts, environ),
        "cookie_hours": COOKIE_HOURS,
        **({"originals": str(Path(originals).resolve())} if originals else {}),
    }
    meta["allow_sql"] = False
    tables = meta["databases"][Path(db).stem].setdefault("tables", {})
    if accounts and not read_only:
        meta["plugins"]["datasette-auth-passwords"] = {
            f"{name}_password_hash": {"$env": var} for name, var in accounts.items()
        }
        signed_in = {"id": sorted(accounts)}
        meta["allow"] = signed_in
        for table in PRIVATE_TABLES:
            tables.setdefault(table, {})["allow"] = signed_in
    else:
        for table in PRIVATE_TABLES:
            tables.setdefault(table, {})["allow"] = False
    return meta


def review_secret(db: Path, rotate: bool = False, environ: dict[str, str] | None = None) -> str:
    """The secret Datasette signs sign-in cookies (and form tokens) with.

    DATASETTE_SECRET when it is set; otherwise the secret kept beside the database in
    ``<name>.datasette-secret`` (made on first use, readable by its owner only). ``rotate`` writes a
    new one: every cookie signed with the old one stops working, so everyone is signed out once the
    server restarts with it.
    """
    env = os.environ if environ is None else environ
    if env.get(SECRET_ENV):
        if rotate:
            raise ValueError(f"{SECRET_ENV} is set: change its value to sign everyone out")
        return env[SECRET_ENV]
    path = secret_path(db)
    if rotate or not path.exists():
        new = path.with_name(path.name + ".new")
        new.unlink(missing_ok=True)
        fd = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_hex(32) + "\n")
        os.replace(new, path)
    return path.read_text(encoding="ascii").strip()


def secret_path(db: Path) -> Path:
    return Path(db).with_suffix(".datasette-secret")


def datasette_command(
    db: Path,
    metadata_path: Path,
    host: str = "127.0.0.1",
    port: int = 8001,
    read_only: bool = False,
    allow_hosts: list[str] | tuple[str, ...] = (),
    originals: Path | None = None,
) -> list[str]:
    """Write the metadata beside the database and return the command line that serves it for review.

    The server answers the host names ``host`` and ``allow_hosts`` (and 127.0.0.1, localhost,
    LOOTWATCH_REVIEW_HOSTS); the database cannot be downloaded whole and arbitrary SQL is off.
    """
    metadata = review_metadata(db, read_only, hosts=[host, *allow_hosts], originals=originals)
    metadata_path.write_text(json.dumps(metadata, indent=1), encoding="utf-8")
    # uvicorn believes X-Forwarded-For from loopback clients by default, so any local process could
    # pose as many clients and pass the sign-in limit; only a proxy the operator names is believed.
    trusted = os.environ.get("FORWARDED_ALLOW_IPS", "")
    return [
        shutil.which("env") or "/usr/bin/env",
        f"FORWARDED_ALLOW_IPS={trusted}",
        "PYTHONSAFEPATH=1",
        sys.executable,
        "-P",  # a reports/ folder in the working directory must not shadow lootwatch's own
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
        "--setting",
        "default_allow_sql",
        "off",
        "--setting",
        "allow_download",
        "off",
    ]
