"""How fast the red-flag engine screens, beside the engine before this work, measured in the same process.

    python bench/flags_speed.py [--runs 3] [--baseline-max 300000]

Throughput (listings per second, one core, warm: every expression compiled) on the real listing texts
of ../shared/flags-dev when present and on the written texts of bench/data/flags_*.tsv; then the time
to screen one text of growing size (25 KB to 1.1 MB, made of real listing texts end to end), where the
engine reads at most MAX_SCREENED characters. The baseline is the engine and vocabularies of commit
BASELINE_COMMIT rebuilt from git into a temporary folder; it is timed on texts up to --baseline-max
characters only (it is quadratic: 1.1 MB took it about 50 s). Best of --runs runs each.
Writes its table into docs/benchmarks.md under "Red flags: speed".
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.flags import DEV, OLD_COMMIT, load, load_dev, old_engine  # noqa: E402
from bench.report import write_section  # noqa: E402
from matcher.text.flags import MAX_SCREENED, FlagEngine  # noqa: E402

BASELINE_COMMIT = OLD_COMMIT
SIZES = (25_000, 50_000, 100_000, 280_000, 560_000, 1_100_000)


def _texts(rows: list[dict]) -> list[tuple[str, str, str]]:
    return [(r["title"], r["description"], r["provenance"]) for r in rows]


def written() -> list[tuple[str, str, str]]:
    return _texts(load())


def real() -> list[tuple[str, str, str]]:
    return _texts(load_dev()) if DEV.is_file() else []


def best(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def throughput(engine, texts: list[tuple[str, str, str]], runs: int) -> float:
    for t in texts:  # warm: compile what is compiled on first use
        engine.screen(*t)
    return len(texts) / best(lambda: [engine.screen(*t) for t in texts], runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--baseline-max", type=int, default=300_000)
    args = ap.parse_args()
    engine, old = FlagEngine(), old_engine()
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    sets = [("real listings (flags-dev)", real()), ("written listings (bench/data)", written())]
    lines = [
        f"`python bench/flags_speed.py` ({date.today()}, at {commit}), one core of a {os.cpu_count()}-core "
        f"machine, best of {args.runs} runs, warm; baseline: the engine of {BASELINE_COMMIT} in the same "
        "process.",
        "",
        "| texts | listings | mean characters | engine listings/s | baseline listings/s | engine/baseline |",
        "|---|---|---|---|---|---|",
    ]
    for name, texts in sets:
        if not texts:
            lines.append(f"| {name} | absent | | | | |")
            continue
        mean = sum(len("\n".join(t)) for t in texts) / len(texts)
        ours = throughput(engine, texts, args.runs)
        theirs = throughput(old, texts, args.runs) if old else float("nan")
        lines.append(
            f"| {name} | {len(texts)} | {mean:,.0f} | {ours:,.0f} | {theirs:,.0f} | {ours / theirs:.1f}x |"
        )
    source = real() or written()
    joined = "\n".join(" ".join(t) for t in source)
    lines += [
        "",
        f"One text of growing size (real listing texts end to end); the engine reads the first "
        f"{MAX_SCREENED:,} characters and says so in a reason:",
        "",
        "| characters | engine seconds | baseline seconds |",
        "|---|---|---|",
    ]
    for size in SIZES:
        text = (joined * (size // len(joined) + 1))[:size]
        ours = best(lambda text=text: engine.screen(text), args.runs)
        theirs = (
            f"{best(lambda text=text: old.screen(text), 1):.2f}"
            if old and size <= args.baseline_max
            else "not run"
        )
        lines.append(f"| {size:,} | {ours:.3f} | {theirs} |")
    print("\n".join(lines))
    write_section("flags_speed.py", "Red flags: speed", lines)


if __name__ == "__main__":
    main()
