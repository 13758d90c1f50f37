"""Red-flag screening measured on the labelled listing texts in bench/data/flags_*.tsv.

    python bench/flags.py [--threshold 50]

Reports precision and recall of "should be reviewed" per language and overall, per rule family, the
ranking AUC of the score, and screening speed, each beside a baseline measured in the same run: a
regular expression of twenty origin words (the approach the engine must beat).
Writes its tables into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import write_section  # noqa: E402
from matcher.flags import REVIEW_THRESHOLD, FlagEngine  # noqa: E402
from matcher.textnorm import normalise  # noqa: E402

DATA = ROOT / "bench" / "data"
BASELINE = re.compile(
    r"\b(?:iraq|syria|yemen|libya|afghanistan|mesopotamia\w*|sumer\w*|akkad\w*|babylon\w*|assyri\w*|"
    r"palmyr\w*|sabae\w*|himyar\w*|qataban\w*|south arabian|western asiatic|near eastern|bactria\w*|"
    r"gandhara\w*|levant\w*)\b"
)


def load(folder: Path = DATA) -> list[dict]:
    """Every labelled listing: lang, review (bool), title, description, provenance, why."""
    rows = []
    for path in sorted(folder.glob("flags_*.tsv")):
        with open(path, encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                row["review"] = row["review"] == "1"
                rows.append(row)
    return rows


def text(row: dict) -> str:
    return " ".join(row[k] for k in ("title", "description", "provenance") if row[k])


def prf(pred: list[bool], gold: list[bool]) -> tuple[float, float]:
    tp = sum(p and g for p, g in zip(pred, gold, strict=True))
    return (tp / max(1, sum(pred)), tp / max(1, sum(gold)))


def auc(scores: list[float], gold: list[bool]) -> float:
    """Probability that a should-review listing scores above one that should not (ties count half)."""
    pos = [s for s, g in zip(scores, gold, strict=True) if g]
    neg = [s for s, g in zip(scores, gold, strict=True) if not g]
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / max(1, len(pos) * len(neg))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threshold", type=int, default=REVIEW_THRESHOLD)
    args = ap.parse_args()
    rows = load()
    engine = FlagEngine()
    results = [engine.screen(r["title"], r["description"], r["provenance"]) for r in rows]
    base = [len(set(BASELINE.findall(normalise(text(r))))) for r in rows]
    gold = [r["review"] for r in rows]
    lines = [
        f"`python bench/flags.py` ({date.today()}): {len(rows)} labelled listings, "
        f"{sum(gold)} should be reviewed; review threshold {args.threshold}.",
        "",
        "| language | listings | precision | recall | baseline precision | baseline recall |",
        "|---|---|---|---|---|---|",
    ]
    for lang in sorted({r["lang"] for r in rows}) + ["all"]:
        idx = [i for i, r in enumerate(rows) if lang in ("all", r["lang"])]
        p, rc = prf([results[i].score >= args.threshold for i in idx], [gold[i] for i in idx])
        bp, br = prf([base[i] > 0 for i in idx], [gold[i] for i in idx])
        lines.append(f"| {lang} | {len(idx)} | {p:.2f} | {rc:.2f} | {bp:.2f} | {br:.2f} |")
    lines += [
        "",
        f"Ranking AUC: engine {auc([r.score for r in results], gold):.3f}, "
        f"baseline (number of origin words) {auc(base, gold):.3f}.",
        "",
        "| rule family | fires on | precision | recall |",
        "|---|---|---|---|",
    ]
    for family in sorted({x.family for r in results for x in r.reasons}):
        fired = [any(x.family == family and x.weight for x in r.reasons) for r in results]
        p, rc = prf(fired, gold)
        lines.append(f"| {family} | {sum(fired)} | {p:.2f} | {rc:.2f} |")
    texts = [(r["title"], r["description"], r["provenance"]) for r in rows] * 10
    start = time.perf_counter()
    for t in texts:
        engine.screen(*t)
    ours = len(texts) / (time.perf_counter() - start)
    start = time.perf_counter()
    for t in texts:
        BASELINE.findall(normalise(" ".join(t)))
    theirs = len(texts) / (time.perf_counter() - start)
    lines += [
        "",
        f"Speed, one core ({os.cpu_count()}-core machine): engine {ours:,.0f} listings/s, baseline "
        f"regular expression {theirs:,.0f} listings/s ({theirs / ours:.1f}x faster, blind to provenance).",
    ]
    missed = [
        (r, s) for r, s in zip(rows, results, strict=True) if (s.score >= args.threshold) != r["review"]
    ]
    print("\n".join(lines))
    print(f"\n{len(missed)} disagreements:")
    for r, s in missed:
        print(
            f"  [{r['lang']}] label {int(r['review'])} score {s.score:>3}: {text(r)[:100]}  "
            f"({', '.join(x.rule for x in s.reasons if x.weight)})"
        )
    write_section("flags.py", "Red flags", lines)


if __name__ == "__main__":
    main()
