"""Replay the tier rules on the hits the last accuracy run kept, to compare threshold choices without
matching again.

    python bench/replay.py [NAME=VALUE ...]     # Thresholds fields, e.g. min_overlap=0.15

Reads bench/.cache/last-results.pkl (written by bench/accuracy.py) and prints, for the current
thresholds and for the ones given, recall per transform and the false-positive rate on the negative
queries. Only the hits each query kept (its best 10) are replayed.
"""

from __future__ import annotations

import pickle
import sys
from collections import defaultdict
from dataclasses import fields, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from matcher.decide.evidence import Hit, Thresholds, tier  # noqa: E402

CACHE = ROOT / "bench" / ".cache" / "last-results.pkl"


def outcome(hits: list[tuple[bool, dict]], t: Thresholds) -> tuple[bool, bool]:
    """(found the query's object, a candidate for another object)."""
    tiers = [(right, tier(Hit(**e), t)) for right, e in hits]
    return any(r and tr for r, tr in tiers), any(not r and tr for r, tr in tiers)


def score(results: dict, t: Thresholds) -> tuple[dict[str, float], int, int, int]:
    recall: dict[str, list[int]] = defaultdict(list)
    wrong_positive = 0
    for name, o, *_ in results.get("positive", []):
        found, wrong = outcome(o["hits"], t)
        recall[name].append(int(found))
        wrong_positive += int(wrong)
    negatives = results.get("negative", [])
    false = sum(outcome(o["hits"], t)[1] for _, o, _ in negatives)
    return {k: sum(v) / len(v) for k, v in recall.items()}, false, len(negatives), wrong_positive


def parse(args: list[str]) -> Thresholds:
    types = {f.name: f.type for f in fields(Thresholds)}
    changes = {}
    for arg in args:
        name, _, value = arg.partition("=")
        if name not in types:
            sys.exit(f"unknown threshold {name!r}; known: {', '.join(types)}")
        kind = str(types[name])
        if value == "None":
            changes[name] = None
        elif "str" in kind:
            changes[name] = value
        else:
            changes[name] = int(value) if kind == "int" else float(value)
    return replace(Thresholds(), **changes)


def main() -> None:
    results = pickle.loads(CACHE.read_bytes())
    runs = {"current": Thresholds(), "given": parse(sys.argv[1:])}
    scored = {name: score(results, t) for name, t in runs.items()}
    names = list(scored["current"][0])
    print(f"{'transform':16s} {'current':>8s} {'given':>8s}")
    for n in names:
        print(f"{n:16s} {scored['current'][0][n]:8.3f} {scored['given'][0][n]:8.3f}")
    for name, (_, false, total, wrong) in scored.items():
        print(
            f"{name}: {false} of {total} negative queries with a candidate; "
            f"{wrong} positive queries with a wrong one"
        )


if __name__ == "__main__":
    main()
