"""Learn the red-flag weights from labelled listings and write them back as integer points.

    python bench/learn_flag_weights.py [--dry-run]

Reads the `tune` split of ../shared/flags-dev/listings.jsonl (real listings; never `test`) and the
project's own written texts in bench/data/flags_*.tsv (weight 0.5 each: they were written with the
rules in mind). Every listing becomes the set of rules it fires (including the engine's own reasons:
`provenance.unverified`, `date.after_unesco`, `date.after_cutoff.XX`, `date.before_cutoff`,
`date.unnamed_before_1970`).

The model is a logistic regression over those rule hits, with the intercept fixed so that a listing with
no reason scores 0 and with the score read on a log-odds scale: ``p = 1 / (1 + exp(-(score - 50) / K))``,
50 points = even odds, every K points multiply the odds by e. Each rule's weight is pulled towards the
mean of its family (L2), and each family mean towards 0, so that a rule seen on a handful of listings
gets about its family's weight, never an extreme one. Red flags stay at least +1 point and evidence at
most -1 (a reason keeps its sign). K and the penalty are chosen by 5-fold cross-validation on the same
rows. Afterwards every pair of a Red-List origin and a Red-List object type (coins apart), with the
"unverified" reason and an unnamed claim back before 1970, must reach the review threshold, and so must
every object type that by itself ties an object to a Red-List region (REGION_RULES) with "unverified";
where one would not, the rules short of it are raised to a floor and the fit is repeated with that
floor as a bound.

The points are written into the `weight:` fields of seeds/flags/*.yaml and the *_WEIGHT constants of
matcher/text/flags.py; the script prints what changed. The engine at run time stays a sum of readable points.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.flags import load  # noqa: E402
from matcher.text import flags as flagmod  # noqa: E402

DEV = ROOT.parent / "shared" / "flags-dev" / "listings.jsonl"
SEEDS = ROOT / "seeds" / "flags"
WRITTEN_WEIGHT = 0.5
# The engine's own reasons and the constant in matcher/text/flags.py that holds each one's points.
SYNTHETIC = {
    "provenance.unverified": "UNVERIFIED_WEIGHT",
    "date.after_unesco": "AFTER_UNESCO_WEIGHT",
    "date.after_cutoff": "AFTER_COUNTRY_WEIGHT",
    "date.before_cutoff": "BEFORE_CUTOFF_WEIGHT",
    "date.unnamed_before_1970": "UNNAMED_EARLY_WEIGHT",
}
MITIGATING = {"evidence", "date.before_cutoff", "date.unnamed_before_1970"}
# An unnamed claim ("private collection, acquired 1965") cannot be checked, so it is no evidence
# (FIELD.md): it may lower a score a little, never clear one, whatever the labelled set says, or a
# seller could write any listing out of review with four words.
FLOORS = {"date.unnamed_before_1970": -20.0}
NOT_A_TYPE = {"category.ancient_coin"}  # coins: too common a trade to flag on type and origin alone
K_GRID = (8.0, 10.0, 12.0, 15.0)
LAMBDA_GRID = (0.3, 1.0, 3.0)


def feature(rule: str) -> str:
    return "date.after_cutoff" if rule.startswith("date.after_cutoff.") else rule


def probing_engine(folder: Path) -> flagmod.FlagEngine:
    """The engine over a copy of the vocabularies with every rule at +1 (evidence -1): which rules
    fire, whatever their points."""
    for path in SEEDS.glob("*"):
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".yaml" and "\nrules:" in text:
            sign = "-" if re.search(r"^family: evidence$", text, re.M) else ""
            text = re.sub(r"(?m)^(\s+weight: )-?\d+$", rf"\g<1>{sign}1", text)
        (folder / path.name).write_text(text, encoding="utf-8")
    return flagmod.FlagEngine(folder)


def rows() -> list[dict]:
    out = []
    if DEV.exists():
        for line in DEV.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            if r["split"] == "tune":
                out.append({**r, "review": r["review"] == 1, "w": 1.0, "src": "tune"})
    else:
        print(f"{DEV} not found: learning from the written texts alone", file=sys.stderr)
    out += [{**r, "w": WRITTEN_WEIGHT, "src": "written"} for r in load()]
    return out


def hits(engine, data) -> list[set[str]]:
    out = []
    for r in data:
        s = engine.screen(r["title"], r["description"], r["provenance"])
        out.append({feature(x.rule) for x in s.reasons if x.weight})
    return out


class Model:
    """Logistic regression on rule hits, intercept -50/K, rules shrunk to their family's mean."""

    def __init__(self, features: list[str], families: dict[str, str], floors: dict[str, float]):
        self.features, self.families = features, families
        self.fam_names = sorted(set(families.values()))
        self.fam_index = np.array([self.fam_names.index(families[f]) for f in features])
        self.floors = floors

    def bounds(self, k: float) -> list[tuple]:
        out = []
        for f in self.features:
            if self.families[f] in MITIGATING:
                out.append((FLOORS[f] / k if f in FLOORS else None, -1.0 / k))
            else:
                out.append((max(1.0, self.floors.get(f, 1.0)) / k, None))
        return out + [(None, None)] * len(self.fam_names)

    def fit(self, x, y, w, k: float, lam: float) -> np.ndarray:
        n_f = len(self.features)
        b0 = -50.0 / k

        def loss(theta):
            beta, mu = theta[:n_f], theta[n_f:]
            z = b0 + x @ beta
            p = 1 / (1 + np.exp(-z))
            ll = np.sum(w * (np.logaddexp(0, z) - y * z))
            dev = beta - mu[self.fam_index]
            pen = lam * np.sum(dev**2) + 0.1 * lam * np.sum(mu**2)
            g_beta = x.T @ (w * (p - y)) + 2 * lam * dev
            g_mu = -2 * lam * np.bincount(self.fam_index, weights=dev, minlength=len(mu)) + 0.2 * lam * mu
            return ll + pen, np.concatenate([g_beta, g_mu])

        start = np.concatenate(
            [
                [b[0] if b[0] is not None else b[1] for b in self.bounds(k)[:n_f]],
                np.zeros(len(self.fam_names)),
            ]
        )
        res = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=self.bounds(k))
        return res.x[:n_f]


def logloss(beta, x, y, w, k) -> float:
    z = -50.0 / k + x @ beta
    return float(np.sum(w * (np.logaddexp(0, z) - y * z)) / np.sum(w))


def choose(model, x, y, w) -> tuple[float, float]:
    folds = np.random.default_rng(19).integers(0, 5, len(y))
    best = None
    for k in K_GRID:
        for lam in LAMBDA_GRID:
            loss = 0.0
            for f in range(5):
                tr, te = folds != f, folds == f
                beta = model.fit(x[tr], y[tr], w[tr], k, lam)
                loss += logloss(beta, x[te], y[te], w[te], k) * np.sum(w[te])
            if best is None or loss < best[0]:
                best = (loss, k, lam)
    return best[1], best[2]


def strongest_only(x, beta, features, families) -> np.ndarray:
    """The hits the engine counts: of several origins (object types) in one listing only the strongest."""
    out = x.copy()
    for family in flagmod.STRONGEST_ONLY:
        cols = [i for i, f in enumerate(features) if families[f] == family]
        if not cols:
            continue
        sub = x[:, cols] * beta[cols]
        best = np.argmax(np.where(x[:, cols] > 0, sub, -np.inf), axis=1)
        out[:, cols] = 0
        rows_hit = x[:, cols].sum(axis=1) > 0
        out[np.flatnonzero(rows_hit), np.array(cols)[best[rows_hit]]] = 1
    return out


def points(model, beta, k) -> dict[str, int]:
    out = {}
    for f, b in zip(model.features, beta, strict=True):
        v = int(round(b * k))
        out[f] = min(v, -1) if model.families[f] in MITIGATING else max(v, 1)
    return out


def shortfalls(pts: dict[str, int], families: dict[str, str]) -> list[tuple[list[str], int, str]]:
    """The floor checks that fail, each as (rules to raise, points short, what was checked):

    - every Red-List origin with every Red-List object type (coins apart) and "unverified" stays at
      or above the review threshold even with an unnamed claim back before 1970 beside it (four words
      cannot write a listing out of review);
    - every object type that by itself ties an object to a Red-List region (``REGION_RULES``) with
      "unverified" reaches the threshold alone."""
    need = flagmod.REVIEW_THRESHOLD
    unverified = pts["provenance.unverified"]
    claim = pts.get("date.unnamed_before_1970", 0)
    out = []
    origins = [f for f in pts if families[f] == "origin"]
    types = [f for f in pts if families[f] == "category" and f not in NOT_A_TYPE]
    o = min(origins, key=pts.get)
    c = min(types, key=pts.get)
    total = pts[o] + pts[c] + unverified + claim
    if total < need:
        out.append(([o, c], need - total, f"{o} + {c} + unverified + unnamed claim = {total}"))
    for t in sorted(r for r in flagmod.REGION_RULES if families.get(r) == "category" and r in pts):
        alone = pts[t] + unverified
        if alone < need:
            out.append(([t, "provenance.unverified"], need - alone, f"{t} + unverified = {alone}"))
    return out


def weakest(pts: dict[str, int], families: dict[str, str]) -> str:
    origins = [f for f in pts if families[f] == "origin"]
    types = [f for f in pts if families[f] == "category" and f not in NOT_A_TYPE]
    o, c = min(origins, key=pts.get), min(types, key=pts.get)
    pair = pts[o] + pts[c] + pts["provenance.unverified"] + pts.get("date.unnamed_before_1970", 0)
    regions = [r for r in flagmod.REGION_RULES if families.get(r) == "category" and r in pts]
    t = min(regions, key=pts.get)
    return (
        f"weakest origin + object type + unverified + unnamed claim: {o} + {c} = {pair}; "
        f"weakest region-tying object type + unverified: {t} = {pts[t] + pts['provenance.unverified']}"
    )


def write_back(pts: dict[str, int], k: float) -> list[str]:
    changes = []
    for path in sorted(SEEDS.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        new = text
        for rule, v in pts.items():
            pattern = re.compile(rf"(- id: {re.escape(rule)}\n\s+weight: )(-?\d+)")
            m = pattern.search(new)
            if m:
                if int(m.group(2)) != v:
                    changes.append(f"  {rule}: {m.group(2)} -> {v}")
                new = pattern.sub(lambda mm, v=v: f"{mm.group(1)}{v}", new)
        if new != text:
            path.write_text(new, encoding="utf-8")
    src = ROOT / "matcher" / "text" / "flags.py"
    code = src.read_text(encoding="utf-8")
    for rule, const in SYNTHETIC.items():
        if rule not in pts:
            continue
        pattern = re.compile(rf"^({const} = )(-?\d+)$", re.M)
        m = pattern.search(code)
        if m and int(m.group(2)) != pts[rule]:
            changes.append(f"  {rule} ({const}): {m.group(2)} -> {pts[rule]}")
            code = pattern.sub(lambda mm, rule=rule: f"{mm.group(1)}{pts[rule]}", code)
    scale = re.compile(r"^(SCORE_SCALE = )(\d+(?:\.\d+)?)", re.M)
    if (m := scale.search(code)) and float(m.group(2)) != k:
        changes.append(f"  SCORE_SCALE: {m.group(2)} -> {k:g}")
        code = scale.sub(lambda mm: f"{mm.group(1)}{k:g}", code)
    src.write_text(code, encoding="utf-8")
    return changes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true", help="print the points, write nothing")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = probing_engine(Path(tmp))
    families = {r.id: r.family for r in engine.rules} | {s: s for s in SYNTHETIC}
    data = rows()
    hit = hits(engine, data)
    features = sorted(families)
    x = np.array([[f in h for f in features] for h in hit], dtype=float)
    y = np.array([r["review"] for r in data], dtype=float)
    w = np.array([r["w"] for r in data])
    print(
        f"{len(data)} listings ({sum(r['src'] == 'tune' for r in data)} tune, "
        f"{sum(r['src'] == 'written' for r in data)} written), {len(features)} rules"
    )
    floors: dict[str, float] = {}
    model = Model(features, families, floors)
    k, lam = choose(model, x, y, w)
    for _ in range(10):
        beta = model.fit(x, y, w, k, lam)
        for _ in range(3):  # the engine counts only the strongest origin and object type: fit the same
            x_used = strongest_only(x, beta, features, families)
            beta = model.fit(x_used, y, w, k, lam)
        pts = points(model, beta, k)
        short = shortfalls(pts, families)
        if not short:
            break
        for rules_, missing, what in short:
            first = math.ceil(missing / len(rules_))
            for n, rule in enumerate(rules_):
                floors[rule] = max(floors.get(rule, 1.0), pts[rule] + (first if n == 0 else missing - first))
            print(f"floor: {what} < {flagmod.REVIEW_THRESHOLD}; raising {', '.join(rules_)}")
    print(f"K = {k:g} points per unit of log-odds (score 50 = p 0.5), penalty {lam:g}")
    print(weakest(pts, families))
    for f in features:
        n = int(x[:, features.index(f)].sum())
        print(f"  {pts[f]:>4}  {f}  (fires on {n})")
    if args.dry_run:
        return
    changes = write_back(pts, k)
    print("changed:" if changes else "nothing changed")
    print("\n".join(changes))


if __name__ == "__main__":
    main()
