"""``lootwatch demo``: build the demo, serve it on loopback, run the whole pipeline, score it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from matcher.match import match_listings
from matcher.relist import link_relistings
from matcher.screen import screen_listings
from matcher.store import open_db
from matcher.textmatch import match_texts
from reports.digest import write_report
from seeds.demo.build import build
from seeds.demo.server import serve
from spiders.run import project_settings, run_stages

from .evaluate import evaluate
from .progress import bar

__all__ = ["SIZES", "run_demo", "print_summary"]

SIZES = {
    "full": {"objects": 64, "per_edit": 17, "flag_only": 30, "distractors": 200, "rephoto": 20, "relist": 10},
    "small": {"objects": 14, "per_edit": 3, "flag_only": 4, "distractors": 16, "rephoto": 4, "relist": 3},
}
DEMO_SITES = ("demo_aurora", "demo_meridian", "demo_bazaar")


def run_demo(out: Path, size: str = "full") -> dict[str, Any]:
    """Run every stage on the demo under ``out``; return (and write) the summary."""
    started = time.perf_counter()
    console = Console(stderr=True)
    out = Path(out)
    console.print(f"[bold]lootwatch demo[/] ({size}) in {out}/")
    with console.status("drawing the demo registry and marketplace"):
        demo = build(out / "demo", **SIZES[size])
    db_path = out / "lootwatch.db"
    with serve(demo.market_dir) as server:
        console.print(
            f"demo marketplace on {server.url}; importing the registry and crawling {', '.join(DEMO_SITES)}"
        )
        settings = project_settings(
            db_path,
            out / "data",
            LOOTWATCH_DEMO_URL=server.url,
            LOG_LEVEL="WARNING",
        )
        run_stages(
            settings,
            [
                [("registry_file", {"path": str(demo.registry_csv.resolve())})],
                [(site, {}) for site in DEMO_SITES],
            ],
        )
    db = open_db(db_path)
    with bar("matching listings") as update:
        counts = match_listings(db, progress=update)
    with bar("screening listing text") as update:
        screen_listings(db, progress=update)
    with bar("comparing listing texts with registry records") as update:
        match_texts(db, progress=update)
    with bar("linking relisted lots") as update:
        link_relistings(db, progress=update)
    report = write_report(db, out / "reports", "http://127.0.0.1:8001", "lootwatch@localhost", [])
    scores = evaluate(db, demo.ground_truth)
    summary = {
        "lots": db.table("listings").count,
        "images": db.table("listing_images").count,
        "registry_objects": db.table("registry_objects").count,
        "registry_images": db.table("registry_images").count,
        **scores,
        "listings_matched": counts["listings"],
        "errors": db.execute("SELECT count(*) FROM errors").fetchone()[0],
        "report_html": str(report.html_path),
        "report_eml": str(report.eml_path),
        "database": str(db_path),
        "review_command": f"lootwatch review {db_path}",
        "seconds": round(time.perf_counter() - started, 1),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def print_summary(s: dict[str, Any]) -> None:
    """The demo's summary as a table on stdout."""
    console = Console()
    table = Table(title="lootwatch demo", show_header=False)
    table.add_row("lots crawled", str(s["lots"]))
    table.add_row("lot photos", str(s["images"]))
    table.add_row("registry objects / photos", f"{s['registry_objects']} / {s['registry_images']}")
    table.add_row("candidates strong / review", f"{s['candidates_strong']} / {s['candidates_review']}")
    table.add_row("precision", _pct(s["precision"]))
    table.add_row("recall (strong + review)", _pct(s["recall"]))
    for edit, r in s["recall_by_edit"].items():
        table.add_row(f"  recall, {edit}", f"{_pct(r)} of {s['lots_by_edit'][edit]} lots")
    table.add_row(
        "red-flag candidates (text only)",
        f"{s['candidates_flags']}: precision {_pct(s['flags_precision'])}, recall {_pct(s['flags_recall'])}",
    )
    table.add_row(
        "registry-record candidates (text)",
        f"{s['candidates_text']}: precision {_pct(s['text_precision'])}",
    )
    table.add_row("lots describing a registry object, found", _pct(s["described_lots_found"]))
    table.add_row("  of them re-photographed by the dealer", _pct(s["rephoto_lots_found"]))
    table.add_row(
        "new photos of registry objects, found by photo",
        f"{s['rephoto_found_by_photo']} of {s['rephoto_lots']} lots "
        f"({s['rephoto_found_by_embedding']} by the learned embedding alone)",
    )
    table.add_row(
        "lots sharing a photo (relistings)",
        f"{s['relisted_pairs_linked']} pairs: precision {_pct(s['relisting_precision'])}, "
        f"relistings found {_pct(s['relisting_recall'])}",
    )
    table.add_row("errors recorded", str(s["errors"]))
    table.add_row("wall time", f"{s['seconds']} s")
    table.add_row("report", f"{s['report_html']}\n{s['report_eml']}")
    console.print(table)
    console.print(f"Open the review UI: [bold]{s['review_command']}[/]")


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f} %"
