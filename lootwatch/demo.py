"""``lootwatch demo``: build the demo, serve it on loopback, run the whole pipeline, score it."""

from __future__ import annotations

import json
import re
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from matcher.db.connect import open_db
from matcher.match import match_listings
from matcher.search.relist import link_relistings
from matcher.text.screen import screen_listings
from matcher.text.textmatch import match_texts
from reports.digest import write_report
from seeds.demo.build import build
from seeds.demo.edits import EDITS
from seeds.demo.server import serve
from spiders.registries.local_import import import_registry
from spiders.run import project_settings, run_stages

from .evaluate import evaluate
from .import_progress import ConsoleReporter
from .progress import bar, bars, say

__all__ = ["SIZES", "run_demo", "print_summary", "composition", "built_composition", "readme_figures"]

SIZES = {
    "full": {"objects": 64, "per_edit": 17, "flag_only": 30, "distractors": 200, "rephoto": 20, "relist": 10},
    "small": {"objects": 14, "per_edit": 3, "flag_only": 4, "distractors": 16, "rephoto": 4, "relist": 3},
}
DEMO_SITES = ("demo_aurora", "demo_meridian", "demo_bazaar")
# How the README names each edit the demo applies to registry photos (seeds/demo/edits.py).
EDIT_WORDS = {
    "resize": "resize",
    "recompress": "JPEG re-compression",
    "crop": "5-20 % crop",
    "pad": "white padding or frame",
    "watermark": "watermark text",
    "mirror": "mirror",
    "rotate": "quarter turn",
    "collage": "collage",
}


def composition(size: str) -> dict[str, Any]:
    """What the demo of ``size`` is made of, from its parameters: registry objects, and lots by kind
    (``relistings`` are lots offered again at another house, counted in ``lots``)."""
    p = SIZES[size]
    first = {
        "edited": p["per_edit"] * len(EDITS),
        "rephoto": p["rephoto"],
        "flag_only": p["flag_only"],
        "distractors": p["distractors"],
    }
    return {
        "registry_objects": p["objects"],
        "lots": sum(first.values()) + p["relist"],
        **first,
        "per_edit": dict.fromkeys(EDITS, p["per_edit"]),
        "relistings": p["relist"],
    }


def built_composition(ground_truth: Path) -> dict[str, Any]:
    """The same counts as ``composition``, read from a built demo's ground truth."""
    truth = json.loads(Path(ground_truth).read_text())
    first = [t for t in truth["lots"] if not t.get("relist_of")]
    kinds = {
        "edited": "registry_edit",
        "rephoto": "rephoto",
        "flag_only": "flag_only",
        "distractors": "distractor",
    }
    return {
        "registry_objects": truth["params"]["objects"],
        "lots": len(truth["lots"]),
        **{name: sum(t["kind"] == kind for t in first) for name, kind in kinds.items()},
        "per_edit": {e: sum(t.get("edit") == e for t in first) for e in EDITS},
        "relistings": len(truth["lots"]) - len(first),
    }


def run_demo(out: Path, size: str = "full", verbose: bool = False) -> dict[str, Any]:
    """Run every stage on the demo under ``out``; return (and write) the summary.

    Says on stderr what it is doing as it starts each step, with progress bars (plain lines every 10 s
    where stderr is no terminal) while drawing, importing, crawling and matching. The registry is
    imported as ``lootwatch registry import`` does it; the houses are crawled by their spiders, whose
    Scrapy log is shown only when ``verbose``.
    """
    started = time.perf_counter()
    out = Path(out)
    plan = composition(size)
    db_path = out / "lootwatch.db"
    db = open_db(db_path)  # made when missing; a file that is no lootwatch database is refused first
    say(
        f"lootwatch demo ({size}) in {out}/: {plan['registry_objects']} registry objects, "
        f"{plan['lots']} lots at {len(DEMO_SITES)} auction houses"
    )
    say("1/5 drawing the demo registry and marketplace (seeded; nothing is downloaded)")
    with bars({"registry objects drawn": plan["registry_objects"], "lots drawn": None}) as update:
        demo = build(
            out / "demo", **SIZES[size], progress=lambda what, n, total: update(f"{what} drawn", n, total)
        )
    say(f"2/5 importing the demo registry ({demo.objects} records) from {demo.registry_csv}")
    # As `lootwatch registry import` does: local photos straight from disk, hashed on every core.
    with ConsoleReporter(demo.registry_csv) as reporter:
        imported = import_registry(db_path, out / "data", demo.registry_csv, reporter=reporter)
    say(imported.summary(f"the errors table of {db_path}"))
    with serve(demo.market_dir) as server:
        say(f"3/5 crawling {', '.join(DEMO_SITES)} on {server.url} with the real spiders")
        quiet = {} if verbose else {"LOG_LEVEL": "CRITICAL"}
        settings = project_settings(db_path, out / "data", LOOTWATCH_DEMO_URL=server.url, **quiet)
        with bar("lots crawled") as update:

            def progress(running: list[tuple[str, dict[str, Any]]]) -> None:
                update(sum(s.get("lootwatch/store/items", 0) for _, s in running), demo.lots)

            run_stages(settings, [[(site, {}) for site in DEMO_SITES]], progress=progress)
    say("4/5 matching photos, screening texts, comparing them with the registry, linking relistings")
    with bar("matching listings") as update:
        counts = match_listings(db, progress=update)
    with bar("screening listing text") as update:
        screen_listings(db, progress=update)
    with bar("comparing listing texts with registry records") as update:
        match_texts(db, progress=update)
    with bar("linking relisted lots") as update:
        link_relistings(db, progress=update)
    say("5/5 writing today's report and scoring the candidates against the ground truth")
    report = write_report(db, out / "reports", "http://127.0.0.1:8001", "lootwatch@localhost", [])
    scores = evaluate(db, demo.ground_truth)
    summary = {
        "lots": db.table("listings").count,
        "images": db.table("listing_images").count,
        "registry_objects": db.table("registry_objects").count,
        "registry_images": db.table("registry_images").count,
        "composition": built_composition(demo.ground_truth),
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


README_BLOCK = re.compile(r"(<!-- demo-figures: begin.*?-->\n)(.*?)(<!-- demo-figures: end -->)", re.S)


def readme_figures(size: str = "full") -> str:
    """The README's description of the demo's contents, made from ``composition(size)`` so it cannot
    disagree with the demo (tests/test_readme.py checks it against a demo run)."""
    c = composition(size)
    per_edit = set(c["per_edit"].values())
    each = f"{per_edit.pop()} each: " if len(per_edit) == 1 else ""
    edits = ", ".join(EDIT_WORDS[e] for e in c["per_edit"])
    text = (
        f"draws a demo registry of {c['registry_objects']} stolen/looted objects (vessels, coins, cuneiform "
        "tablets, figurines, reliefs, seals, lamps; 1-3 photos each) and a marketplace of "
        f"{c['lots']} lots at three auction houses with different page structures (schema.org JSON-LD, a "
        "Next.js `__NEXT_DATA__` blob, plain paginated HTML). "
        f"{c['edited']} lots reuse a registry photo edited as dealers do ({each}{edits}); "
        f"{c['rephoto']} show a registry object in the dealer's own new photo (the object drawn again in "
        "another pose, turned up to 20 degrees, in other light, on a backdrop none of its registry photos "
        f"has), described with the record's words; {c['flag_only']} carry only red-flag wording; "
        f"{c['distractors']} are unrelated objects in the same house style; and {c['relistings']} are some "
        "of these lots offered again at another house. Everything is generated by a seeded generator "
        "(`seeds/demo/`), nothing is downloaded; a ground-truth file says which lot is which;"
    )
    wrap = textwrap.TextWrapper(
        width=106,
        initial_indent="1. ",
        subsequent_indent="   ",
        break_long_words=False,
        break_on_hyphens=False,
    )
    return wrap.fill(text) + "\n"


def update_readme(readme: Path) -> bool:
    """Rewrite the demo figures in ``readme`` from ``readme_figures()``; True when they changed."""
    text = Path(readme).read_text()
    new = README_BLOCK.sub(lambda m: m.group(1) + readme_figures() + m.group(3), text, count=1)
    if new != text:
        Path(readme).write_text(new)
    return new != text


if __name__ == "__main__":  # python -m lootwatch.demo README.md: regenerate the README's demo figures
    print(
        "updated" if update_readme(Path(sys.argv[1] if len(sys.argv) > 1 else "README.md")) else "unchanged"
    )
