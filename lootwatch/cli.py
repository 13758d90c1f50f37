"""The ``lootwatch`` command line: a thin layer over spiders, matcher and reports."""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import socket
import sqlite3
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import click

from matcher.photo.embed import ModelError

from .config import ConfigError, load_config


class _Group(click.Group):
    """Turns an expected failure into a one-line message and exit status 1."""

    def invoke(self, ctx: click.Context):
        from matcher.db.connect import DatabaseProblem, damaged, is_damage

        try:
            return super().invoke(ctx)
        except (ConfigError, UsageProblem, DatabaseProblem, ModelError) as exc:
            click.echo(f"lootwatch: {exc}", err=True)
            if isinstance(exc, ConfigError) and ctx.invoked_subcommand == "daily":
                _alert_unread_config(exc)
            sys.exit(1)
        except sqlite3.DatabaseError as exc:
            if is_damage(exc):  # met in the middle of a command: a page the opening check cannot see
                where = getattr(ctx.obj, "db", None) or "the review database"
                click.echo(f"lootwatch: {damaged(where, exc)}", err=True)
                sys.exit(1)
            if not isinstance(exc, sqlite3.OperationalError):
                raise
            # Each write is one transaction, so what failed left nothing half-written behind.
            click.echo(
                f"lootwatch: the database could not be written ({exc}); {_storage_hint(exc)}", err=True
            )
            sys.exit(1)


def _alert_unread_config(exc: Exception) -> None:
    """A daily run whose config cannot be read still tells the alert URLs of the environment, since it
    would otherwise stop every day with a line only the journal keeps."""
    urls = os.environ.get("LOOTWATCH_ALERT_URLS", "").split()
    if urls:
        from reports.alerts import send_alert

        host = socket.gethostname()
        send_alert(urls, f"lootwatch daily on {host}: did not start", f"the config could not be read: {exc}")


def _storage_hint(exc: Exception) -> str:
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return "another process held it too long; nothing was half-written, run the command again"
    if "full" in text or "disk i/o" in text:
        return "free disk space (or check the disk), then run the command again; nothing was half-written"
    return "nothing was half-written"


class UsageProblem(ValueError):
    """Bad input from the command line; reported in one line."""


@click.group(cls=_Group)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="lootwatch.toml to read.")
@click.option("--db", help="Review database (overrides the config).")
@click.option("--verbose", "-v", is_flag=True, help="Show the libraries' own logs (Scrapy, faiss).")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, db: str | None, verbose: bool) -> None:
    """lootwatch: find looted antiquities on the online market."""
    ctx.meta[VERBOSE] = verbose
    # faiss reports at INFO that it found no AVX2 build, as a ModuleNotFoundError that reads like a
    # failure; it loads its generic build by itself.
    logging.getLogger("faiss.loader").setLevel(logging.INFO if verbose else logging.WARNING)
    ctx.obj = load_config(config_path, db)


VERBOSE = "lootwatch.verbose"


def _verbose() -> bool:
    ctx = click.get_current_context(silent=True)
    return bool(ctx and ctx.meta.get(VERBOSE))


def _scrapy_settings(cfg, **extra) -> dict:
    """The ``[scrapy]`` settings of lootwatch.toml and ``extra``; Scrapy's own log is off unless
    --verbose (or a LOG_LEVEL in lootwatch.toml): lootwatch prints each site's outcome, and every error
    is in the errors table."""
    quiet = {} if _verbose() else {"LOG_LEVEL": "CRITICAL"}
    return {**quiet, **cfg.scrapy, **extra}


def _plural(n: int, word: str) -> str:
    return f"{n} {word if n == 1 else word + 's'}"


def _model_ready() -> None:
    """Check the embedding model once, before a command computes any photo's signals: a missing or wrong
    file stops the command in one line (ModelError, naming the file and the fix) with nothing stored,
    rather than failing on every photo."""
    from matcher.photo.embed import ensure_model

    ensure_model()


def _exit_failed(failures: list[str]) -> None:
    """One line per failure on stderr, then exit status 1; nothing when nothing failed."""
    for line in failures:
        click.echo(f"lootwatch: {line}", err=True)
    if failures:
        sys.exit(1)


@main.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default="demo-output",
    show_default=True,
    help="Folder for the demo's marketplace, database, report and summary.",
)
@click.option(
    "--size",
    type=click.Choice(["full", "small"]),
    default="full",
    show_default=True,
    help="small: a reduced demo for quick checks.",
)
def demo(out: str, size: str) -> None:
    """Run the whole pipeline on the bundled demo and print a summary."""
    from .demo import print_summary, run_demo

    _model_ready()
    summary = run_demo(Path(out), size=size, verbose=_verbose())
    print_summary(summary)


@main.group()
def model() -> None:
    """The embedding model that finds new photos of registered objects."""


@model.command("export")
def model_export() -> None:
    """Export the embedding model from the installed packages (no download) and check its SHA-256; a
    file there that is not the expected export is replaced (written beside, then renamed)."""
    from matcher.photo.embed import ONNX_SHA256, ensure_model

    path = ensure_model(export=True, replace=True)
    click.echo(f"embedding model ready: {path} (SHA-256 {ONNX_SHA256})")


@main.group()
def registry() -> None:
    """Registry of stolen and looted objects."""


@registry.command("import")
@click.argument("file", type=click.Path())
@click.option("--source", help="Source name for files without a source column.")
@click.option(
    "--map",
    "mapping",
    multiple=True,
    metavar="THEIRS:OURS",
    help="Read the file's column THEIRS as the Object ID field OURS (repeatable), e.g. Objekt-Nr:source_id.",
)
@click.option(
    "--photo-root",
    type=click.Path(file_okay=False),
    help="Folder that photo paths may point into (default: the registry file's folder).",
)
@click.option(
    "--workers", type=click.IntRange(min=1), help="Processes hashing photos (default: one per core)."
)
@click.pass_obj
def registry_import(
    cfg, file: str, source: str | None, mapping: tuple[str, ...], photo_root: str | None, workers: int | None
) -> None:
    """Import a CSV / XLSX / JSON / JSONL registry file with Object ID fields (see README), then match the
    stored listings against the updated registry. Local photos are read from disk and hashed on every
    core; photo URLs are fetched by the crawler. The file is taken as its sources' whole listing: their
    records it no longer holds are marked withdrawn (unless rows were refused)."""
    from spiders.registries.files import RegistryFileError, parse_mapping
    from spiders.registries.local_import import fetch_photo_urls, import_registry

    from .import_progress import ConsoleReporter

    joined = ",".join(mapping)
    _model_ready()
    try:
        with ConsoleReporter(file) as reporter:
            counts = import_registry(
                cfg.db, cfg.data_dir, file, source, parse_mapping(joined), photo_root, workers, reporter
            )
    except RegistryFileError as exc:
        raise UsageProblem(str(exc)) from exc
    if counts.url_photos:
        click.echo(f"fetching {counts.url_photos} photo URLs through the crawler", err=True)
        spider_args = {
            "path": Path(file).resolve(),
            "source": source,
            "mapping": joined,
            "photo_root": photo_root,
        }
        fetch_photo_urls(
            counts, cfg.db, cfg.data_dir, spider_args, _scrapy_settings(cfg), ConsoleReporter(file)
        )
    click.echo(counts.summary(f"the errors table of {cfg.db}"))
    from matcher.db.connect import open_db

    db = open_db(cfg.db, create=False)
    try:
        note = _small_registry_note(*_registry_photos(db))
    finally:
        db.close()
    if note:
        click.echo(note)
    _match_stage(cfg)


@registry.command("fetch")
@click.argument("name", default="fbi_artcrimes")
@click.pass_obj
def registry_fetch(cfg, name: str) -> None:
    """Fetch a registry through its spider (default: the FBI National Stolen Art File API), then match
    the stored listings against the updated registry."""
    from matcher.db.connect import open_db
    from reports.failures import failed_runs, last_run_id
    from spiders.run import project_settings, run_stages, spider_names

    settings = project_settings(cfg.db, cfg.data_dir)
    registries = [n for n in spider_names(settings, kind="registry") if n != "registry_file"]
    if name not in registries:
        raise UsageProblem(f"unknown registry spider {name!r} (known: {', '.join(registries)})")
    _model_ready()
    db = open_db(cfg.db)  # made when missing; a file that is no lootwatch database is refused first
    before = last_run_id(db)
    settings = project_settings(cfg.db, cfg.data_dir, **_scrapy_settings(cfg))
    stats = run_stages(settings, [[(name, {})]])[0]
    click.echo(
        f"{name}: {_plural(stats.get('lootwatch/store/items', 0), 'record')}, "
        f"{_plural(stats.get('lootwatch/store/images', 0), 'photo')}, "
        f"{stats.get('lootwatch/registry/withdrawn', 0)} withdrawn, "
        f"{_plural(stats.get('lootwatch/errors', 0), 'error')}"
    )
    failures = failed_runs(db, before, [(name, stats)])
    _match_stage(cfg)
    _exit_failed([f"registry fetch: {line}" for line in failures])


@registry.command("banks")
@click.pass_obj
def registry_banks(cfg) -> None:
    """List the registry sources (banks) with their record counts and whether they are matched."""
    from matcher.db.connect import open_db

    db = open_db(cfg.db, create=False)
    rows = db.execute(
        "SELECT b.source, b.enabled, b.note, b.last_complete, "
        "(SELECT count(*) FROM registry_objects o WHERE o.source = b.source), "
        "(SELECT count(*) FROM registry_objects o WHERE o.source = b.source AND o.status = 'withdrawn') "
        "FROM banks b ORDER BY b.source"
    ).fetchall()
    for source, enabled, note, complete, records, withdrawn in rows:
        state = "enabled" if enabled else "disabled"
        click.echo(
            f"{source}: {state}, {records} records ({withdrawn} withdrawn), last complete listing "
            f"{complete or 'never'}{f'; {note}' if note else ''}"
        )


@registry.command("disable")
@click.argument("source")
@click.option("--note", help="Why (shown by `registry banks`).")
@click.pass_obj
def registry_disable(cfg, source: str, note: str | None) -> None:
    """Stop matching against a registry source; its records stay."""
    _set_bank(cfg, source, False, note)


@registry.command("enable")
@click.argument("source")
@click.pass_obj
def registry_enable(cfg, source: str) -> None:
    """Match against a registry source again."""
    _set_bank(cfg, source, True, None)


def _set_bank(cfg, source: str, enabled: bool, note: str | None) -> None:
    from matcher.db.connect import open_db
    from matcher.db.store import set_bank

    db = open_db(cfg.db, create=False)
    if not db.execute("SELECT 1 FROM banks WHERE source = ?", [source]).fetchone():
        known = [r[0] for r in db.execute("SELECT source FROM banks ORDER BY source")]
        raise UsageProblem(f"no registry source {source!r} (known: {', '.join(known) or 'none'})")
    set_bank(db, source, enabled, note)
    click.echo(f"{source}: {'enabled' if enabled else 'disabled'}; `lootwatch match` re-matches the listings")


@main.command()
@click.argument("sites", nargs=-1)
@click.option("--demo-url", help="Base URL of a running demo marketplace (for the demo_* sites).")
@click.option(
    "--jobdir",
    type=click.Path(file_okay=False),
    help="Keep the crawl's state here; after an interruption the same command resumes it.",
)
@click.option("--http-cache", is_flag=True, help="Cache responses on disk: for developing a spider only.")
@click.option(
    "--nodes",
    "on_nodes",
    is_flag=True,
    help="Run each site as a Scrapyd job on the node it is pinned to ([nodes.NAME] in lootwatch.toml) "
    "and wait for the jobs; the lots go to object storage for `lootwatch ingest`.",
)
@click.pass_obj
def crawl(
    cfg, sites: tuple[str, ...], demo_url: str | None, jobdir: str | None, http_cache: bool, on_nodes: bool
) -> None:
    """Run the market spiders (all enabled ones by default). Exit status 1, with one line per site
    saying why, when a site failed: it could not start, ended early, or stored and saw no lot; with
    --nodes, also when a node could not be reached or went away (its sites named)."""
    if on_nodes:
        if demo_url or jobdir or http_cache:
            raise UsageProblem("--nodes takes no --demo-url, --jobdir or --http-cache")
        _exit_failed([f"crawl: {line}" for line in _node_crawl_stage(cfg, sites)])
        return
    _model_ready()
    _exit_failed([f"crawl: {line}" for line in _crawl_stage(cfg, sites, demo_url, jobdir, http_cache)])


def _node_crawl_stage(cfg, sites: tuple[str, ...] = ()) -> list[str]:
    """Schedule the chosen (or every enabled) site on its node and wait; one line per finished site,
    and returns one line per problem (a site on no node, a node unreachable or lost)."""
    from matcher.db.connect import open_db
    from matcher.nodes.objectstore import ObjectStore
    from matcher.nodes.origins import remember_jobs
    from spiders.run import project_settings

    from .nodes import plan, run_summary, schedule, wait
    from .progress import bar

    if not cfg.nodes or not cfg.storage_url:
        raise UsageProblem("--nodes needs [nodes.NAME] tables and a [storage] url in lootwatch.toml (README)")
    settings = project_settings(cfg.db, cfg.data_dir, **_scrapy_settings(cfg))
    chosen = _chosen_sites(settings, sites, None)
    if not sites:  # the demo houses pinned to a node: that node's LOOTWATCH_DEMO_URL says where they are
        pinned = [s for node in cfg.nodes.values() for s in node.sites]
        chosen += [s for s in pinned if s.startswith("demo_") and s not in chosen]
    grouped, unpinned = plan(cfg, chosen)
    failures = [
        f"{site}: on no node; pin it in a [nodes.NAME] sites list of lootwatch.toml" for site in unpinned
    ]
    jobs, refused = schedule(cfg, grouped)
    failures += refused
    db = open_db(cfg.db)
    try:  # what this machine asked each node to crawl: only those jobs' batches are taken
        failures += remember_jobs(db, [(j.id, j.site, j.node) for j in jobs], ObjectStore(cfg.storage_url))
    finally:
        db.close()
    click.echo(f"scheduled {_plural(len(jobs), 'site')} on {_plural(len({j.node for j in jobs}), 'node')}")
    with bar("crawl jobs finished") as update:
        failures += wait(cfg, jobs, progress=update)
    summaries = ObjectStore(cfg.storage_url)
    for job in jobs:
        took = f" in {job.seconds:.0f} s" if job.seconds is not None else ""
        said = ""
        if job.state == "finished":
            summary = run_summary(summaries, job)
            if summary is None:
                failures.append(
                    f"{job.site}: the job on node {job.node} ended without its run summary (it crashed or "
                    f"could not reach the storage): see its log on the node, job {job.id}"
                )
            else:
                n = {k.rsplit("/", 1)[-1]: v for k, v in summary.get("stats", {}).items()}
                said = (
                    f": {summary.get('status')}, {_plural(n.get('items', 0), 'lot')}, "
                    f"{_plural(n.get('images', 0), 'photo')}, {_plural(n.get('errors', 0), 'error')}"
                )
        click.echo(f"{job.site}: {job.state} on node {job.node} (job {job.id}){took}{said}")
    return failures


@main.command()
@click.pass_obj
def nodes(cfg) -> None:
    """Show each crawler node of lootwatch.toml: its sites, the jobs it runs, each site's last run.
    Exit status 1 when a node cannot be reached."""
    from .nodes import node_status

    if not cfg.nodes:
        raise UsageProblem("no [nodes.NAME] tables in lootwatch.toml: single-machine mode (README)")
    ingested = _ingested_runs(cfg)
    failures = []
    for state in node_status(cfg):
        node = state.node
        if state.error:
            click.echo(f"{node.name} {node.url}: unreachable; sites {', '.join(node.sites) or 'none'}")
            failures.append(f"node {node.name} unreachable: {state.error}")
        else:
            jobs = f"{len(state.running or [])} running, {len(state.pending or [])} pending"
            click.echo(f"{node.name} {node.url}: {jobs}")
        running = {j.get("spider"): j for j in state.running or []}
        for site in node.sites:
            last = (state.last_runs or {}).get(site)
            now = f"running since {running[site].get('start_time')}" if site in running else "idle"
            ran = f"last run {last.get('start_time')} to {last.get('end_time')}" if last else "no run kept"
            if state.error:
                now, ran = "node unreachable", "no run kept"
            click.echo(f"  {site}: {now}; {ran}; {ingested.get(site, 'no run ingested yet')}")
    _exit_failed(failures)


def _ingested_runs(cfg) -> dict[str, str]:
    """Each site's latest run in the review database (from the nodes' run summaries), in words; none
    when there is no database yet."""
    from matcher.db.connect import DatabaseProblem, open_db
    from reports.health import crawl_health

    try:
        db = open_db(cfg.db, create=False)
    except DatabaseProblem:
        return {}
    return {
        h["site"]: f"last run ingested {h['started_at']}: {_plural(h['seen'], 'lot')}, "
        f"{_plural(h['errors'] or 0, 'error')}" + (f" ({h['warning']})" if h["warning"] else "")
        for h in crawl_health(db)
    }


@main.command()
@click.option("--no-match", is_flag=True, help="Only ingest; match later with `lootwatch match`.")
@click.pass_obj
def ingest(cfg, no_match: bool) -> None:
    """Ingest the crawler nodes' new batches from object storage ([storage] url), one transaction per
    batch, then match. A batch already ingested is skipped; one cut short is ingested again whole.
    Exit status 1 when a batch was refused or had bad rows (each said in one line; the rows are in the
    errors table)."""
    if not no_match:
        _model_ready()
    failures = _ingest_stage(cfg)
    if not no_match:
        _match_stage(cfg)
    _exit_failed(failures)


def _ingest_stage(cfg) -> list[str]:
    """Ingest new batches and run summaries; one summary line, and returns one line per problem."""
    from matcher.db.connect import open_db
    from matcher.nodes.batches import ingest_batches
    from matcher.nodes.objectstore import ObjectStore, StorageError

    from . import locks
    from .progress import bar

    if not cfg.storage_url:
        raise UsageProblem("no [storage] url in lootwatch.toml: nothing to ingest from (README)")
    if not cfg.nodes:
        raise UsageProblem(
            "no [nodes.NAME] tables in lootwatch.toml: ingest is the review machine's side of crawler "
            "nodes, which crawl --nodes schedules (docs/nodes.md)"
        )
    db = open_db(cfg.db)
    lock = locks.beside(cfg.db, "ingest-lock")
    try:
        held = locks.hold(lock, "ingest")
    except locks.Held as other:
        db.close()
        pid = f" (pid {other.pid})" if other.pid else ""
        raise UsageProblem(f"another `lootwatch ingest`{pid} is writing to {cfg.db}: let it finish") from None
    except OSError as exc:
        db.close()
        raise UsageProblem(f"cannot write the lock file {lock} ({exc.strerror or exc})") from exc
    try:
        with bar("batches") as update:
            results = ingest_batches(
                db,
                ObjectStore(cfg.storage_url),
                Path(cfg.data_dir),
                progress=update,
            )
    except StorageError as exc:
        raise UsageProblem(f"cannot read the storage: {exc}") from exc
    finally:
        locks.release(lock, held)
        db.close()
    summaries = [r for r in results if r.key.startswith("runs/")]
    results = [r for r in results if not r.key.startswith("runs/")]
    done = [r for r in results if r.status == "ingested"]
    lots = _plural(sum(r.rows for r in done), "lot")
    counted = {s: sum(r.status == s for r in results) for s in ("skipped", "refused", "waiting", "held")}
    runs = {s: sum(r.status == s for r in summaries) for s in ("ingested", "refused", "waiting", "held")}
    click.echo(
        f"{len(done)} {'batch' if len(done) == 1 else 'batches'} ingested ({lots}, "
        f"{_plural(sum(r.errors for r in done), 'bad row')}), {counted['skipped']} seen before, "
        f"{counted['refused']} refused, {counted['held']} held back, "
        f"{counted['waiting']} left for a later ingest; run summaries: {runs['ingested']} ingested, "
        f"{runs['refused']} refused, {runs['held']} held back, {runs['waiting']} left for a later ingest"
    )
    failures = []
    words = {"refused": "refused", "waiting": "left for a later ingest", "held": "held back"}
    for r in results + summaries:
        what = "run summary" if r.key.startswith("runs/") else "batch"
        if r.status in words:
            failures.append(f"ingest: {what} {r.key} {words[r.status]}: {r.reason}")
        failures += [f"ingest: {what} {r.key}: {line}" for line in r.problems]
    return failures


def _crawl_stage(
    cfg,
    sites: tuple[str, ...] = (),
    demo_url: str | None = None,
    jobdir: str | None = None,
    http_cache: bool = False,
) -> list[str]:
    """Crawl the chosen (or every enabled) site, one line each; returns one line per failed site
    (``reports.failures``)."""
    from matcher.db.connect import open_db
    from reports.failures import failed_runs, last_run_id
    from spiders.run import project_settings, run_stages

    overrides = _scrapy_settings(cfg)
    if http_cache:
        overrides.update(HTTPCACHE_ENABLED=True, HTTPCACHE_DIR=str(Path(cfg.data_dir) / "httpcache"))
    if demo_url:
        overrides.update(LOOTWATCH_DEMO_URL=demo_url)  # only the demo houses read it (spiders.base)
    settings = project_settings(cfg.db, cfg.data_dir, **overrides)
    chosen = _chosen_sites(settings, sites, demo_url)
    if not chosen:
        raise UsageProblem("no site to crawl (the demo_* sites need --demo-url)")
    if jobdir and len(chosen) > 1:
        raise UsageProblem("--jobdir resumes one site's crawl: name the site")
    if jobdir:
        settings.set("JOBDIR", jobdir, priority="cmdline")
    db = open_db(cfg.db)  # made when missing; a file that is no lootwatch database is refused first
    before = last_run_id(db)
    with _crawl_progress() as progress:
        results = run_stages(settings, [[(s, {}) for s in chosen]], progress=progress)
    for name, stats in zip(chosen, results, strict=True):
        n = {k.rsplit("/", 1)[-1]: v for k, v in stats.items() if k.startswith("lootwatch/")}
        click.echo(
            f"{name}: {_plural(n.get('items', 0), 'lot')} stored, {n.get('unchanged', 0)} unchanged, "
            f"{n.get('gone', 0)} gone, {_plural(n.get('images', 0), 'photo')}, "
            f"{_plural(n.get('errors', 0), 'error')}"
        )
    return failed_runs(db, before, list(zip(chosen, results, strict=True)))


@contextmanager
def _crawl_progress() -> Iterator[Callable[[list[tuple[str, dict]]], None]]:
    """Lots and photos stored so far by all running spiders, for ``run_stages``'s progress."""
    from .progress import bars

    lots, photos = "lots stored or seen unchanged", "photos stored"
    # A crawl is politeness-bound and may take hours: a plain line a minute is enough in a log.
    with bars({lots: None, photos: None}, plain_every=60) as update:

        def progress(running: list[tuple[str, dict]]) -> None:
            update(lots, sum(_seen(s) for _, s in running), None)
            update(photos, sum(s.get("lootwatch/store/images", 0) for _, s in running), None)

        yield progress


def _seen(stats: dict) -> int:
    return stats.get("lootwatch/store/items", 0) + stats.get("lootwatch/lots/unchanged", 0)


def _chosen_sites(settings, sites: tuple[str, ...], demo_url: str | None) -> list[str]:
    """The market spiders to run: those named, else every enabled one; with ``demo_url`` only the demo
    houses, which alone may fetch the demo server and skip the delays."""
    from spiders.run import spider_names
    from spiders.sites import site

    known = spider_names(settings, kind="market")
    unknown = [s for s in sites if s not in known]
    if unknown:
        raise UsageProblem(f"unknown site {', '.join(unknown)} (known: {', '.join(known)})")
    if demo_url and any(not s.startswith("demo_") for s in sites):
        raise UsageProblem("--demo-url crawls the demo houses only; crawl real sites in a separate command")
    if sites:
        return list(sites)
    enabled = set(settings.getlist("LOOTWATCH_ENABLE_SITES"))
    turned_off = set(settings.getlist("LOOTWATCH_DISABLE_SITES"))
    chosen, skipped = [], []
    for name in known:
        entry = site(name) or {}
        if name.startswith("demo_") != bool(demo_url):
            continue  # --demo-url crawls the demo houses only; without it they have nowhere to go
        if name in turned_off or (entry.get("enabled", True) is False and name not in enabled):
            skipped.append(name)
            continue
        chosen.append(name)
    if skipped:  # one line: the reasons are in seeds/sites.yaml and lootwatch.toml
        click.echo(f"skipped (disabled): {', '.join(skipped)}")
    return chosen


@main.command()
@click.option("--dry-run", is_flag=True, help="Write the digest without sending it.")
@click.option(
    "--nodes",
    "on_nodes",
    is_flag=True,
    help="Crawl on the crawler nodes, wait, then ingest their batches before matching.",
)
@click.pass_obj
def daily(cfg, dry_run: bool, on_nodes: bool) -> None:
    """Crawl every enabled site, match, and send the digest: the whole day's work, for a timer or cron.

    Exits with status 1 when anything failed, with one line each: a site that failed (``crawl: SITE
    stored 0 lots: REASON``; the other stages still run) or a stage that failed (the stages after it do
    not run). With alert URLs configured ([alerts] in lootwatch.toml), failures and the day's summary go
    there too.
    """
    from reports.alerts import DailyWatch

    # The watch sends the alerts at the end, whatever happened (a failed stage's line among them).
    with DailyWatch(cfg, say=click.echo, warn=lambda line: click.echo(line, err=True)) as watch:
        _daily(cfg, dry_run, watch, on_nodes)


def _daily(cfg, dry_run: bool, watch, on_nodes: bool = False) -> None:
    from matcher.db.connect import DatabaseProblem, open_db

    # A bad database or embedding model is refused before any stage starts, not blamed on the crawl.
    _model_ready()
    open_db(Path(cfg.db), create=True).close()
    failures: list[str] = []
    crawl = (
        [
            ("crawl", lambda: failures.extend(f"crawl: {line}" for line in _node_crawl_stage(cfg))),
            ("ingest", lambda: failures.extend(_ingest_stage(cfg))),
        ]
        if on_nodes
        else [("crawl", lambda: failures.extend(f"crawl: {line}" for line in _crawl_stage(cfg)))]
    )
    stages = (
        *crawl,
        ("match", lambda: _match_stage(cfg)),
        ("report", lambda: _report_stage(cfg, date.today(), dry_run or not cfg.smtp_host)),
    )
    for name, run in stages:
        click.echo(f"== {name}")
        try:
            run()
        except (UsageProblem, DatabaseProblem) as exc:
            failures.append(f"daily: the {name} stage failed: {exc}")
            watch.stage_failed(name, str(exc))
            break
        except Exception as exc:  # noqa: BLE001 - any failure ends the day with its stage named
            if _verbose():
                traceback.print_exc()
            failures.append(f"daily: the {name} stage failed: {type(exc).__name__}: {exc}")
            watch.stage_failed(name, f"{type(exc).__name__}: {exc}")
            break
    watch.explained = bool(failures) and not watch.failures  # sites that failed: listed by the watch
    _exit_failed(failures)


@main.command()
@click.option("--all", "rematch_all", is_flag=True, help="Re-match every stored listing photo.")
@click.pass_obj
def match(cfg, rematch_all: bool) -> None:
    """Match new listing photos against the registry and write candidates."""
    _model_ready()
    _match_stage(cfg, rematch_all)


def _match_stage(cfg, rematch_all: bool = False) -> None:
    """Bring stored photos up to the current code, match, screen the text, compare with the records.

    Stored listings are checked against the registry records changed since their last match, and those
    a change can affect are matched again, so a registry import finds the lots crawled before it
    (retro-matching, matcher/search/retro.py).
    """
    from matcher.db.connect import open_db
    from matcher.db.ingest import refresh
    from matcher.match import Matching
    from matcher.search.relist import link_relistings
    from matcher.text.screen import screen_listings
    from matcher.text.textmatch import match_texts

    from .progress import bar

    db = open_db(cfg.db, create=False)

    def refused(sha: str, reason: str) -> None:
        click.echo(f"lootwatch: stored photo {sha}: {reason}", err=True)

    with bar("updating hashes of stored photos") as update:
        fresh = refresh(db, Path(cfg.data_dir) / "originals", progress=update, failed=refused)
    if fresh["stale"]:
        click.echo(
            f"{fresh['refreshed']} stored photos re-hashed by the current code "
            f"({fresh['missing']} originals missing, {fresh['failed']} undecodable)"
        )
    run = Matching(db, rematch_all=rematch_all or fresh["refreshed"] > 0)
    with bar("stored listings checked against changed registry records") as update:
        run.check(progress=update)
    with bar("listings re-matched") as update:
        counts = run.match(progress=update)
    with bar("screening listing text") as update:
        flags = screen_listings(db, rescreen_all=rematch_all, progress=update)
    with bar("comparing listing texts with registry records") as update:
        texts = match_texts(db, rematch_all=rematch_all, progress=update)
    with bar("linking relisted lots") as update:
        relisted = link_relistings(db, progress=update)
    click.echo(
        f"{flags['screened']} listings screened for red flags, {flags['flagged']} at or above the threshold"
    )
    click.echo(
        f"{counts['listings']} listings matched against {counts['registry_variants']} registry "
        f"photo variants; {counts['candidates']} candidates"
    )
    if counts["checked"]:
        click.echo(
            f"{counts['checked']} stored listings checked against {counts['changed_records']} changed "
            f"registry records; {counts['rematched']} re-matched"
        )
    click.echo(
        f"{texts['compared']} listing texts compared with the registry; "
        f"{texts['text_candidates']} text candidates"
    )
    click.echo(
        f"{relisted['pairs']} pairs of lots share a photo ({relisted['same_bytes']} identical, "
        f"{relisted['near_copy']} near copies); see the relisted_lots and sellers views"
    )


@main.command()
# Plain strings, not click.Path: a URL given by mistake is named as typed, not folded into a path.
@click.argument("images", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per image per line.")
@click.pass_obj
def check(cfg, images: tuple[str, ...], as_json: bool) -> None:
    """Rank registry objects that these photo files may show (files only: a URL is not fetched), each
    with the plain words of why and the numbers (PDQ distance, matching points, similarity and rank);
    exit status 1 if any photo could not be read."""
    from matcher.check import check_photo
    from matcher.db.connect import open_db
    from matcher.photo.decode import DecodeError
    from matcher.search.registry_index import RegistryIndex

    _model_ready()  # one line for a missing or wrong model, not one per photo
    db = open_db(cfg.db, create=False)
    index = RegistryIndex.from_db(db)
    note = _small_registry_note(*_registry_photos(db))
    failed = 0
    for path in images:
        try:
            if URL.match(path):
                raise UsageProblem("a URL: check reads photo files only; save the photo and give its path")
            result = {"image": path, **check_photo(db, index, _read_photo_file(path))}
        except OSError as exc:  # the OS's words for the path as given (pathlib would fold a //)
            result = {"image": path, "error": f"cannot be read ({exc.strerror or type(exc).__name__})"}
        except (DecodeError, UsageProblem) as exc:
            result = {"image": path, "error": str(exc)}
        except ModelError:
            raise  # the model, not the photo: one line for the command (checked above, so rare)
        except Exception as exc:  # noqa: BLE001 - one photo's bug must not stop the others
            if _verbose():
                traceback.print_exc()
            result = {"image": path, "error": f"internal error: {type(exc).__name__}: {exc}"}
        failed += "error" in result
        if as_json:
            result["registry_note"] = note
        _print_check(result, as_json)
    if note and not as_json and failed < len(images):
        click.echo(note)  # after the results: what they could not show
    if failed:
        raise SystemExit(1)  # the lines above say which photos failed and why


def _read_photo_file(path: str) -> bytes:
    """The bytes of a regular file; anything else (a named pipe, a device, a folder) is refused before
    a byte is read, since reading a pipe or a device may never end. Opened without blocking, then asked
    what it is, so the file checked is the file read."""
    import stat

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kinds = [
                (stat.S_ISDIR, "a folder"),
                (stat.S_ISFIFO, "a named pipe"),
                (stat.S_ISCHR, "a device"),
                (stat.S_ISBLK, "a device"),
                (stat.S_ISSOCK, "a socket"),
            ]
            kind = next((k for test, k in kinds if test(mode)), "not a regular file")
            raise UsageProblem(f"{kind}, not a photo file: check reads regular files only")
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read()
    finally:
        os.close(fd)


def _registry_photos(db) -> tuple[int, int]:
    """``(embedded, usable)``: active records' usable registry photos embedded by the current code (the
    photos the embedding search covers), and all of them."""
    from matcher.db import store
    from matcher.photo import embed

    embedded, usable = db.execute(
        "SELECT count(DISTINCT CASE WHEN e.sha256 IS NOT NULL THEN ri.id END), count(DISTINCT ri.id) "
        "FROM registry_images ri JOIN registry_objects o ON o.id = ri.object_id "
        "LEFT JOIN image_embeddings e ON e.sha256 = ri.sha256 AND e.view = 'full' AND e.embed_version = ? "
        f"WHERE ri.error IS NULL AND ri.matchable = 1 AND ri.sha256 IS NOT NULL AND {store.ACTIVE_RECORD}",
        [embed.EMBED_VERSION],
    ).fetchone()
    return embedded, usable


def _small_registry_note(embedded: int, usable: int) -> str | None:
    """One line when the registry's embedded photos are too few for the learned embedding alone to raise
    a candidate (``matcher.decide.evidence.embed_margin``), else None."""
    from matcher.decide.evidence import Thresholds, embed_margin

    t = Thresholds()
    if embed_margin(embedded, t) is not None:
        return None
    smallest = min(size for size, _ in t.embed_margins)
    waiting = usable - embedded
    return (
        f"the registry holds {_plural(embedded, 'photo')}"
        + (f" ({waiting} more not yet embedded: `lootwatch match` embeds them)" if waiting > 0 else "")
        + f": below {smallest}, a photo similar by the learned embedding alone is not raised as a "
        "candidate; see docs/matching.md"
    )


def _evidence_numbers(evidence: dict) -> str:
    """The numbers behind a candidate: PDQ distance, matching points, similarity and rank."""
    parts = []
    if evidence.get("pdq") is not None:
        parts.append(f"PDQ distance {evidence['pdq']}")
    if evidence.get("inliers") is not None:
        parts.append(_plural(evidence["inliers"], "matching point"))
    if evidence.get("cosine") is not None:  # how alike the learned embeddings find them
        similarity = f"similarity {evidence['cosine']:.2f}"
        if evidence.get("cosine_rank") is not None and evidence.get("cosine_of"):
            similarity += f", rank {evidence['cosine_rank']:,} of {evidence['cosine_of']:,} registry photos"
        parts.append(similarity)
    return "; ".join(parts)


def _print_check(result: dict, as_json: bool) -> None:
    path = result["image"]
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    if "error" in result:
        click.echo(f"{path}: error: {result['error']}")
        return
    from reports.worklist import likeness_line, why_line

    click.echo(f"{path}: {_plural(len(result['candidates']), 'candidate')}")
    for c in result["candidates"]:
        click.echo(f"  {c['tier']:<6} {c['score']:>5}  {c['source']}:{c['source_id']}  {c['title'] or ''}")
        evidence = c["evidence"]
        # The review UI's plain words (its photo check page builds the same line from the same result).
        named = {"kind": "image", "source": c["source"], "source_id": c["source_id"]}
        click.echo(f"         {why_line(named, evidence, [])}")
        if c["same_photo_as"]:
            click.echo(f"         the same photo is held by {', '.join(c['same_photo_as'])}")
        if numbers := _evidence_numbers(evidence):
            click.echo(f"         {numbers}")
    if result.get("likeness"):
        click.echo(
            "  most alike by the learned embedding alone (not matches on their own: compare the photos):"
        )
    for c in result.get("likeness", []):
        click.echo(f"  alike         {c['source']}:{c['source_id']}  {c['title'] or ''}")
        click.echo(f"         {likeness_line(c['evidence'])}")


URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


@main.command()
@click.argument("source")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per listing per line.")
@click.option(
    "--threshold",
    type=click.IntRange(0, 100),
    default=50,
    show_default=True,
    help="Score from which to review (0-100).",
)
def flags(source: str, as_json: bool, threshold: int) -> None:
    """Red-flag listing text: SOURCE is a text, - for standard input, or a file: .csv / .tsv / .jsonl /
    .json of listings (columns id, title, description, provenance), any other file (.txt) one listing.

    A name ending like a listing file that names none is an error (exit status 2); other words
    ("Iraq/Syria") are a text. A row that cannot be read is reported on standard error with its
    number, the other rows are screened, and the exit status is 1; so is a file with no listings.
    Reasons that lower the risk are listed apart, after the red flags (``lowers_risk`` in JSON)."""
    from matcher.text.flags import default_engine
    from matcher.text.listing_input import EmptyFile, ListingInputError, MissingFile, read_listings

    engine = default_engine()
    stdin = sys.stdin.read() if source == "-" else None
    try:
        listings = list(read_listings(source, stdin))
    except MissingFile as exc:
        click.echo(f"lootwatch: {exc}", err=True)
        sys.exit(2)  # like any other usage problem: the argument, not the data, is wrong
    except EmptyFile as exc:
        click.echo(f"lootwatch: {exc}", err=True)
        sys.exit(1)  # the data, not the argument: nothing to screen
    except ListingInputError as exc:
        raise UsageProblem(str(exc)) from exc
    failed = 0
    for listing in listings:
        if "error" in listing:
            failed += 1
            click.echo(f"lootwatch: {source}: {listing['error']}", err=True)
            continue
        result = engine.screen(listing["title"], listing["description"], listing["provenance"])
        lowers = [r for r in result.reasons if r.weight < 0]
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "id": listing["id"],
                        "score": result.score,
                        "review": result.score >= threshold,
                        "reasons": [r.as_dict() for r in result.reasons],
                        "lowers_risk": [r.as_dict() for r in lowers],
                    },
                    ensure_ascii=False,
                )
            )
            continue
        mark = "REVIEW" if result.score >= threshold else "ok"
        click.echo(f"{listing['id']}\t{result.score:>3}  {mark}")
        for r in result.reasons:
            if r.weight >= 0:
                kind = "notice" if r.family == "notice" else ""
                click.echo(
                    f'    {r.weight:+4d}  {r.rule:<32} "{r.text}"  {r.why}' + (f"  [{kind}]" if kind else "")
                )
        if lowers:
            click.echo("  lowers the risk:")
            for r in lowers:
                click.echo(f'    {r.weight:+4d}  {r.rule:<32} "{r.text}"  {r.why}')
    if failed:
        click.echo(f"lootwatch: {failed} of {len(listings)} rows of {source} were not screened", err=True)
        raise SystemExit(1)


@main.command()
@click.argument("db", required=False, type=click.Path(dir_okay=False))
@click.option("--port", default=8001, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (0.0.0.0 for every interface); a host name here is also answered.",
)
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    help="A host name browsers use to reach the UI (repeatable; also LOOTWATCH_REVIEW_HOSTS).",
)
@click.option("--print-command", is_flag=True, help="Print the Datasette command instead of running it.")
@click.option("--read-only", is_flag=True, help="Share the queue without letting anyone record verdicts.")
@click.option(
    "--hash-password", is_flag=True, help="Ask for a password and print its hash for the environment."
)
@click.option(
    "--sign-out-everyone",
    is_flag=True,
    help="Make a new secret for the sign-in cookies (everyone signs in again), then serve.",
)
@click.pass_obj
def review(
    cfg,
    db: str | None,
    port: int,
    host: str,
    allow_hosts: tuple[str, ...],
    print_command: bool,
    read_only: bool,
    hash_password: bool,
    sign_out_everyone: bool,
) -> None:
    """Open the review database in Datasette: the queue, candidate pages, verdicts, the photo check.

    Reviewers sign in with a password whose hash is in LOOTWATCH_PASSWORD_HASH (user "analyst"), or
    LOOTWATCH_PASSWORD_HASH_<NAME> for each name in LOOTWATCH_REVIEWERS. Without any, it is read-only.
    With reviewers every page needs signing in. Only the host names 127.0.0.1, localhost, --host,
    --allow-host and LOOTWATCH_REVIEW_HOSTS are answered. Sign-in cookies are signed with the secret in
    DB.datasette-secret (or DATASETTE_SECRET); --sign-out-everyone replaces it.
    """
    from reports.review import broken_hashes, datasette_command, review_secret, reviewers, secret_path
    from reports.security import host_names

    if hash_password:
        from datasette_auth_passwords.utils import hash_password as make_hash

        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
        made = make_hash(password)
        click.echo(made)
        click.echo(
            f"Set it in single quotes, so the shell leaves its $ signs alone:\n"
            f"  export LOOTWATCH_PASSWORD_HASH='{made}'",
            err=True,
        )
        return
    if bad := broken_hashes():
        raise UsageProblem("\n".join(bad))
    from matcher.db.connect import open_db

    path = Path(db) if db else Path(cfg.db)
    open_db(path, create=False).close()  # refuses a missing, empty, foreign or damaged file in one line
    cmd = datasette_command(
        path,
        path.with_suffix(".datasette.json"),
        host=host,
        port=port,
        read_only=read_only,
        allow_hosts=allow_hosts,
        # The configured database's photos are where the config keeps them; another database's beside it.
        originals=None if db else Path(cfg.data_dir) / "originals",
    )
    if print_command:
        click.echo(" ".join(cmd))
        return
    busy = _cannot_listen(host, port)
    if busy:
        click.echo(f"lootwatch: {busy}", err=True)
        sys.exit(2)  # a usage problem: the option, not the data, must change
    try:
        os.environ["DATASETTE_SECRET"] = review_secret(path, rotate=sign_out_everyone)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if sign_out_everyone:
        click.echo(f"new secret in {secret_path(path)}: everyone signs in again")
    who = ", ".join(reviewers())
    mode = "read-only" if read_only or not who else f"verdicts by {who} after signing in at /-/login"
    names = ", ".join(host_names([host, *allow_hosts]))
    shown = host if host not in ("0.0.0.0", "::") else "127.0.0.1"
    click.echo(f"review UI on http://{shown}:{port}/ ({mode}; Ctrl-C to stop)")
    click.echo(f"answering the host names {names}")
    os.execv(cmd[0], cmd)


@main.command()
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="Report date (default today).")
@click.option("--dry-run", is_flag=True, help="Write the HTML and .eml only; send nothing.")
@click.option("--resend", is_flag=True, help="Include candidates already sent in this date's digest.")
@click.option("--out", type=click.Path(file_okay=False), help="Folder for the report files.")
@click.pass_obj
def report(cfg, day, dry_run: bool, resend: bool, out: str | None) -> None:
    """Write the daily digest of new candidates and send it by SMTP (smtp_host in lootwatch.toml)."""
    _report_stage(cfg, day.date() if day else date.today(), dry_run, resend, out)


def _report_stage(cfg, day: date, dry_run: bool, resend: bool = False, out: str | None = None) -> None:
    from matcher.db.connect import open_db
    from reports.digest import write_report
    from reports.mail import MailError, SmtpSettings

    db = open_db(cfg.db, create=False)
    smtp = None if dry_run else SmtpSettings(cfg.smtp_host, cfg.smtp_port, cfg.smtp_security)
    if smtp is not None and not smtp.host:
        raise UsageProblem("no smtp_host in lootwatch.toml: configure it, or use --dry-run")
    folder = Path(out) if out else cfg.report_dir
    try:
        rep = write_report(
            db, folder, cfg.review_url, cfg.mail_from, cfg.mail_to, day, smtp, resend, cfg.digest_limit
        )
    except MailError as exc:
        raise UsageProblem(f"the digest was not sent ({exc}); it will go out with the next run") from exc
    sent = {"sent": f"sent to {', '.join(cfg.mail_to)}", "nothing-new": "nothing new, no e-mail sent"}
    click.echo(
        f"{len(rep.candidates)} candidate{'' if len(rep.candidates) == 1 else 's'}; wrote {rep.html_path}, "
        + (f"{rep.csv_path} " if rep.csv_path else "")
        + f"and {rep.eml_path}"
        + (f"; {sent[rep.mode]}" if rep.mode in sent else "")
    )


@main.command()
@click.argument("candidate_id", type=int)
@click.option(
    "--out",
    type=click.Path(),
    help="Folder (or .zip path) to write [default: evidence/ beside the database, or evidence_dir].",
)
@click.option(
    "--allow-incomplete",
    is_flag=True,
    help="Write the pack even when a file is missing or changed; its summary's first line says which.",
)
@click.pass_obj
def evidence(cfg, candidate_id: int, out: str | None, allow_incomplete: bool) -> None:
    """Write the evidence pack of one candidate: WARC records, original photos, manifest, summary.

    Every file is checked first (each photo against its SHA-256, each WARC record against the one
    recorded); a missing or changed file refuses the pack with exit status 1, naming it.
    """
    from matcher.db.connect import open_db
    from reports.evidence_pack import PackError, write_pack

    db = open_db(cfg.db, create=False)
    try:
        folder = Path(out) if out else Path(cfg.evidence_dir)
        pack = write_pack(db, candidate_id, Path(cfg.data_dir), folder, allow_incomplete)
    except PackError as exc:
        raise UsageProblem(str(exc)) from exc
    gaps = f"; INCOMPLETE, {len(pack.problems)} missing or changed:" if pack.problems else ""
    click.echo(f"wrote {pack.path} (SHA-256 {pack.sha256}){gaps}")
    for problem in pack.problems:
        click.echo(f"lootwatch: incomplete pack: {problem}", err=True)


def _cannot_listen(host: str, port: int) -> str | None:
    """Why the review UI could not listen on ``host:port`` (in use, no address of this machine), or
    None; checked before printing a link that would lead to another program's server."""
    error = _bind_error(host, port)
    if error is None:
        return None
    if error.errno == errno.EADDRINUSE:
        free = next((p for p in range(port + 1, min(port + 50, 65536)) if _bind_error(host, p) is None), None)
        return (
            f"port {port} on {host} is in use (another review UI or another program); choose another "
            f"with --port" + (f", e.g. --port {free}" if free else "")
        )
    return f"cannot listen on {host}:{port} ({error.strerror or error}); choose another --host or --port"


def _bind_error(host: str, port: int) -> OSError | None:
    """The error binding ``host:port`` gives (None when it could be bound), as the server would bind:
    SO_REUSEADDR lets a port in TIME_WAIT through, never one another server listens on."""
    try:
        family, kind, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        return exc
    return None


# Backup and recovery of the review database with Litestream (lootwatch/backup.py).


@main.command()
@click.option(
    "--print-config",
    is_flag=True,
    help="Write Litestream's config beside the database and show it with the command that runs it; no more.",
)
@click.option(
    "--status",
    is_flag=True,
    help="Say whether the replica holds every change of the database (exit status 1 when not).",
)
@click.pass_obj
def backup(cfg, print_config: bool, status: bool) -> None:
    """Replicate the review database to S3-compatible object storage with Litestream, in the foreground
    until Ctrl-C or SIGTERM (it syncs once more before it stops); Litestream looks for changes every
    second and sends them to the bucket. The bucket and path are [backup] in lootwatch.toml or
    LOOTWATCH_BACKUP_BUCKET and LOOTWATCH_BACKUP_PATH; AWS_ENDPOINT_URL selects MinIO or another
    S3-compatible service; the credentials are AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the
    environment. One backup runs per database: a second is refused (the lock file DB.backup-lock).
    """
    from . import backup as lb

    try:
        replica = lb.replica_settings(cfg)
        if print_config:
            path = lb.write_config(cfg.db, replica).resolve()  # absolute: for a service's command line
            click.echo(path.read_text(encoding="utf-8"), nl=False)
            click.echo(f"# wrote {path}; {lb.credentials_line()}", err=True)
            binary = lb.litestream_binary()
            click.echo(f"# run: {' '.join(lb.replicate_command(binary, path))}", err=True)
            return
        binary = lb.litestream_binary()
        _wal_database(cfg.db)
        if status:
            path = lb.write_config(cfg.db, replica)
            _backup_status(lambda: lb.replica_state(binary, path, cfg.db, replica), replica)
            return
        lb.hold_lock(cfg.db, "backup")  # held by Litestream once this process becomes it, until it stops
        path = lb.write_config(cfg.db, replica)
        files = lb.check_storage(binary, path, cfg.db, replica)
    except lb.BackupProblem as exc:
        raise UsageProblem(str(exc)) from exc
    held = f"{_plural(len(files), 'file')} there" if files else "empty so far"
    click.echo(f"replicating {cfg.db} to {replica.url} on {replica.where} ({held}); {lb.credentials_line()}")
    click.echo("Litestream's log follows; Ctrl-C or SIGTERM stops it after a last sync", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(binary, lb.replicate_command(binary, path), lb.child_env())


def _wal_database(path) -> None:
    """Refuse a missing or foreign database, and one SQLite cannot keep in WAL mode, which Litestream
    needs (a network file system may refuse it)."""
    from matcher.db.connect import open_db

    db = open_db(path, create=False)  # turns WAL on, as every lootwatch command does
    try:
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        db.close()
    if str(mode).lower() != "wal":
        raise UsageProblem(
            f"database {path} is in journal mode {mode}, not WAL, which Litestream needs; the file system "
            "may not support it (a network share): keep the database on a local disk"
        )


def _backup_status(look, replica) -> None:
    """One line on how current the replica is; exit status 1 when it is empty or behind. ``look()``
    reads the state; a write of the last seconds is given time to be taken first."""
    import time
    from datetime import UTC, datetime

    state = look()
    if wait := state.settling(datetime.now(UTC)):
        time.sleep(wait)
        state = look()
    where = f"replica {replica.url} on {replica.where}"
    if state.written is not None:
        seconds = int((datetime.now(UTC) - state.written).total_seconds())
        where += f", newest file written {state.written:%Y-%m-%dT%H:%M:%SZ} ({seconds} s ago)"
    current, why = state.judge()
    click.echo(f"{where}; {why}")
    if not current:
        sys.exit(1)


@main.command()
@click.option(
    "--to",
    "to",
    type=click.Path(dir_okay=False),
    help="Path to restore to [default: the configured database]; nothing may be there unless --force.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Move a database at that path (and its -wal, -shm files) aside to NAME.before-restore-TIME first.",
)
@click.pass_obj
def restore(cfg, to: str | None, force: bool) -> None:
    """Bring the review database back from its Litestream replica (see `lootwatch backup`): restored under
    a temporary name beside the path, checked with SQLite's integrity check, then moved into place.
    Stop the review UI, the backup service and the daily run before restoring over a database: restore
    refuses, in one line naming what to stop, while they have it open."""
    from . import backup as lb

    target = Path(to) if to else Path(cfg.db)
    try:
        replica = lb.replica_settings(cfg)
        done = lb.restore(lb.litestream_binary(), cfg.db, replica, target, force=force)
    except lb.BackupProblem as exc:
        raise UsageProblem(str(exc)) from exc
    for aside in done.moved_aside:
        click.echo(f"moved aside: {aside}")
    click.echo(
        f"restored {done.path} from {replica.url} on {replica.where}: "
        f"{_plural(done.candidates, 'candidate')}, {_plural(done.verdicts, 'verdict')}"
    )


if __name__ == "__main__":
    main()
