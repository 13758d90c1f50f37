"""Red-flag screening measured on labelled listing texts.

    python bench/flags.py [--threshold 50] [--no-test]

Two sets: the real listings of ../shared/flags-dev/ (when present; `tune` and `test` reported apart,
never copied into the project) and the texts written for the project in bench/data/flags_*.tsv (a
regression set). Reports precision and recall of "should be reviewed" at the threshold and the ranking
AUC of the score, per language and overall, beside two references measured in the same run: a regular
expression of twenty origin words, and the engine as of commit c51cbd3 (before its points were learned;
rebuilt from git into a temporary folder). Also: how the score bands read as probabilities, per rule
family, and screening speed. Writes its tables into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import write_section  # noqa: E402
from matcher.text import flags as flagmod  # noqa: E402
from matcher.text.flags import REVIEW_THRESHOLD, FlagEngine  # noqa: E402
from matcher.text.textnorm import normalise  # noqa: E402

DATA = ROOT / "bench" / "data"
DEV = ROOT.parent / "shared" / "flags-dev" / "listings.jsonl"
OLD_COMMIT = "c51cbd3"
BANDS = ((0, 1), (1, 30), (30, 50), (50, 70), (70, 90), (90, 101))
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


def load_dev(path: Path = DEV) -> list[dict]:
    """The real labelled listings of flags-dev, in the shape of load(): lang, review, split, ..."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        rows.append({**r, "lang": r["language"], "review": r["review"] == 1})
    return rows


def old_engine(commit: str = OLD_COMMIT):
    """The engine and vocabularies as of ``commit``, rebuilt from git in a temporary folder, or None."""

    def show(path: str) -> str:
        return subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{commit}:{path}"], capture_output=True, text=True, check=True
        ).stdout

    try:
        names = subprocess.run(
            ["git", "-C", str(ROOT), "ls-tree", "--name-only", commit, "seeds/flags/"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        tmp = Path(tempfile.mkdtemp(prefix="flags-old-"))
        package = tmp / f"flags_{commit}"
        (package / "seeds").mkdir(parents=True)
        (package / "__init__.py").write_text("")
        for module in ("flags", "textnorm"):
            (package / f"{module}.py").write_text(show(f"matcher/{module}.py"))
        for name in names:
            if name.endswith(".yaml"):
                (package / "seeds" / Path(name).name).write_text(show(name))
    except (OSError, subprocess.CalledProcessError):
        return None
    sys.path.insert(0, str(tmp))
    module = importlib.import_module(f"flags_{commit}.flags")
    return module.FlagEngine(package / "seeds")


def regex_count(row: dict) -> int:
    """The baseline's score: how many of its twenty origin words the text holds (flagged from 1)."""
    return len(set(BASELINE.findall(normalise(text(row)))))


def figures(scores: list[float], gold: list[bool], threshold: float) -> str:
    if all(gold) or not any(gold):
        return "- | - | -"  # one label only: nothing to rank
    p, r = prf([s >= threshold for s in scores], gold)
    return f"{p:.2f} | {r:.2f} | {auc(scores, gold):.2f}"


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


def table(rows: list[dict], engines: dict, threshold: int) -> list[str]:
    """Precision | recall | AUC per language and overall, for each engine (name -> scoring function)."""
    scores = {name: [score(r) for r in rows] for name, score in engines.items()}
    head = "| language | listings | should review | " + " | ".join(
        f"{n} precision | {n} recall | {n} AUC" for n in engines
    )
    out = [head + " |", "|---" * (3 + 3 * len(engines)) + "|"]
    for lang in sorted({r["lang"] for r in rows}) + ["all"]:
        idx = [i for i, r in enumerate(rows) if lang in ("all", r["lang"])]
        gold = [rows[i]["review"] for i in idx]
        cells = [
            figures([scores[n][i] for i in idx], gold, 1 if n == "regex" else threshold) for n in engines
        ]
        out.append(f"| {lang} | {len(idx)} | {sum(gold)} | " + " | ".join(cells) + " |")
    return out


def bands(rows: list[dict], scores: list[int]) -> list[str]:
    """How often listings in each score band should be reviewed, beside what the score says."""
    out = [
        "| score | listings | should review (measured) | probability the score stands for |",
        "|---|---|---|---|",
    ]
    for lo, hi in BANDS:
        idx = [i for i, s in enumerate(scores) if lo <= s < hi]
        if not idx:
            continue
        said = [1 / (1 + math.exp(-(s - 50) / flagmod.SCORE_SCALE)) for s in (lo, min(hi, 101) - 1)]
        rate = sum(rows[i]["review"] for i in idx) / len(idx)
        label = f"{lo}" if hi - lo == 1 else f"{lo}-{min(hi, 101) - 1}"
        shown = "no reason" if lo == 0 and hi == 1 else f"{said[0]:.2f}-{said[1]:.2f}"
        out.append(f"| {label} | {len(idx)} | {rate:.2f} | {shown} |")
    return out


def dev_section(engine, old, threshold: int, with_test: bool) -> list[str]:
    rows = load_dev()
    engines = {
        "engine": lambda r: engine.screen(r["title"], r["description"], r["provenance"]).score,
        "regex": regex_count,
    }
    if old is not None:
        engines[OLD_COMMIT] = lambda r: old.screen(r["title"], r["description"], r["provenance"]).score
    out = [
        f"Real listings (`../shared/flags-dev/`, {len(rows)} texts from about 100 auction houses and "
        "dealers; labels by hand). `regex` is the twenty-word regular expression (flagged when it finds "
        f"an origin word; AUC over the number of words), `{OLD_COMMIT}` the engine before its points were "
        "learned.",
    ]
    for split in ("tune", "test") if with_test else ("tune",):
        part = [r for r in rows if r["split"] == split]
        out += ["", f"`{split}` ({len(part)} listings):", "", *table(part, engines, threshold)]
    for split in ("tune", "test") if with_test else ("tune",):
        part = [r for r in rows if r["split"] == split]
        scores = [engines["engine"](r) for r in part]
        out += ["", f"Score bands on `{split}`:", "", *bands(part, scores)]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threshold", type=int, default=REVIEW_THRESHOLD)
    ap.add_argument("--no-test", action="store_true", help="leave flags-dev's test split out")
    args = ap.parse_args()
    rows = load()
    engine = FlagEngine()
    old = old_engine()
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    results = [engine.screen(r["title"], r["description"], r["provenance"]) for r in rows]
    gold = [r["review"] for r in rows]
    lines = [f"`python bench/flags.py` ({date.today()}, at {commit}); review threshold {args.threshold}.", ""]
    if DEV.exists():
        lines += dev_section(engine, old, args.threshold, not args.no_test) + [""]
    else:
        lines += [f"({DEV} not found: real listings not measured.)", ""]
    written = {
        "engine": lambda r: engine.screen(r["title"], r["description"], r["provenance"]).score,
        "regex": regex_count,
    }
    if old is not None:
        written[OLD_COMMIT] = lambda r: old.screen(r["title"], r["description"], r["provenance"]).score
    lines += [
        f"Written texts (`bench/data/flags_*.tsv`, {len(rows)} texts written for the project, "
        f"{sum(gold)} should be reviewed; a regression set):",
        "",
        *table(rows, written, args.threshold),
        "",
        "Written texts, per rule family:",
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
