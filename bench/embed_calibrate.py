"""Calibrate the embedding's own review rule: the cosine and the margin over every other object at which
the embedding alone raises a ``review`` candidate, read at a measured false-candidate rate per query, for
registries of several sizes.

    python bench/embed_calibrate.py [--distractors 10000] [--negatives 556]

Registry: as bench/accuracy.py builds it (the demo registry's photos, ../shared/images' real photos when
present, N distractors drawn in the same house style, the multiview registry photos), embeddings only.
Queries: calibration negatives (objects in no registry, drawn from other seeds than accuracy.py's
negatives, under its nine negative transforms), the house-style twin of every demo registry photo (same
type, material, backdrop, pose and light; another object), and, to see what a rule costs, a new drawing
of every demo registry object (another pose and light, on each backdrop) and the multiview queries.
For each query the rule is asked exactly as the matcher asks it (``embindex.EmbeddingIndex``,
``evidence.by_embedding``) of the most similar registry object. Prints a table of the candidates each
(cosine, margin) gives against the full registry, then, for registries of fewer distractors, the smallest
margin at which no calibration negative and no twin gets a candidate (the margin an object must stand
out by depends on how many others it is compared with: among few photos the next one is further away);
writes nothing. The queries' embeddings are cached under bench/.cache.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import multiprocessing
import os
import pickle
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import accuracy, transforms  # noqa: E402
from matcher.photo.decode import decode  # noqa: E402
from matcher.photo.embed import EMBED_VERSION  # noqa: E402
from matcher.photo.fingerprint import embed_views, views  # noqa: E402
from matcher.photo.segments import segment_boxes  # noqa: E402
from matcher.search.embindex import FLOOR, EmbeddingIndex  # noqa: E402
from seeds.demo import draw  # noqa: E402
from seeds.demo.build import build  # noqa: E402

COSINES = (0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9)
MARGINS = (0.0, 0.02, 0.05, 0.08, 0.1, 0.12, 0.15, 0.2)
CALIBRATION_SEED = 90_000_000  # accuracy.py's negatives start at 60,000,000
SIZES = (0, 100, 300, 1000, 3000, 10_000)  # distractors in the smaller registries
SMALL = (5, 12, 25, 50, 100)  # registry photos in registries smaller than the base, drawn at random
DRAWS = 20  # random registries of each small size
FINE = tuple(round(0.01 * m, 2) for m in range(101))  # margins searched for each size

_suite: dict = {}


def query_views(data: bytes) -> dict[str, np.ndarray]:
    """A lot photo's view embeddings, as ``fingerprint`` makes them (whole, trimmed, parts)."""
    im = decode(data)
    return embed_views(views(im, segment_boxes(im)))


def _init() -> None:
    others = [Image.open(io.BytesIO(accuracy.drawn(70_000_000 + i))).convert("RGB") for i in range(3)]
    logo = accuracy.SHARED / "perception/perception/testing/logos/logoipsum.png"
    _suite.update(transforms.suite(Image.open(logo) if logo.exists() else None, others))


def _negative(i: int) -> list[dict[str, np.ndarray]]:
    im = Image.open(io.BytesIO(accuracy.drawn(CALIBRATION_SEED + i))).convert("RGB")
    rng = np.random.default_rng([2199, i, 99])
    return [query_views(accuracy._jpeg(_suite[name](im, rng), 90)) for name in accuracy.NEGATIVE_TRANSFORMS]


def _embedded(item: tuple[str, bytes]) -> tuple[str, dict[str, np.ndarray]]:
    return item[0], query_views(item[1])


def redrawn() -> list[tuple[str, bytes]]:
    """A new drawing of every demo registry object: its sprite in another pose and light, on each
    backdrop (the demo's re-photographed lots are drawn this way)."""
    demo = build(accuracy.CACHE / "demo")
    out = []
    for row in csv.DictReader(open(demo.registry_csv, encoding="utf-8")):
        n = int(row["source_id"].rsplit("-", 1)[1]) - 1
        kind = draw.TYPES[n % len(draw.TYPES)]
        sprite = draw.sprite(kind, row["materials"], 2199 * 1000 + n)
        for b, backdrop in enumerate(draw.BACKDROPS):
            photo = draw.photo(sprite, backdrop, 31_000_000 + 10 * n + b)
            out.append((row["source_id"], accuracy._jpeg(photo, 88)))
    return out


def _queries(n: int, workers: int, multiview: list[tuple[str, bytes]]) -> tuple[list, list, list, list]:
    """The calibration queries' view embeddings: negatives, twins, new drawings, multiview; cached."""
    code = hashlib.sha256(f"{EMBED_VERSION};{accuracy.NEGATIVE_TRANSFORMS}".encode()).hexdigest()[:12]
    path = accuracy.CACHE / f"calibration-queries-{n}-{code}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    started = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(workers, initializer=_init) as pool:
        negatives = [q for qs in pool.imap(_negative, range(n), chunksize=4) for q in qs]
        print(f"{len(negatives)} negative queries ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
        twins = pool.map(_embedded, accuracy._twins(), chunksize=8)
        again = pool.map(_embedded, redrawn(), chunksize=8)
        mv = pool.map(_embedded, multiview)
    accuracy.CACHE.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps((negatives, twins, again, mv)))
    return negatives, twins, again, mv


def by_size(
    registry: list[tuple[str, dict]], base: int, queries: tuple[list, list, list, list], cosine: float
) -> list[str]:
    """For registries of the ``base`` photos and the first N distractors: the smallest margin at which no
    calibration negative and no twin gets a candidate, and what that margin finds."""
    negatives, twins, again, mv = queries
    lines = [
        f"Smallest margin with no false candidate, at a cosine of {cosine} or more, by registry size:",
        "",
        "| registry photos | margin | negative queries with a candidate | twins | highest false margin "
        "| new drawings found | multiview found |",
        "|---|---|---|---|---|---|---|",
    ]
    for size, parts in _registries(registry, base):
        worst = 0.0
        decided = []
        for part in parts:
            keys = [_object(key) for key, _ in part]
            index = EmbeddingIndex((i, v) for i, (_, vectors) in enumerate(part) for v in vectors.values())
            false = [decide(index, keys, v) for v in negatives] + [decide(index, keys, v) for _, v in twins]
            worst = max([worst, *(top - nxt for _, top, nxt in false if top >= cosine)])
            present = set(keys)
            decided.append(
                {
                    name: [(key, decide(index, keys, v)) for key, v in group if _object(key) in present]
                    for name, group in (("redrawn", again), ("multiview", mv))
                }
            )
        margin = next(m for m in FINE if m > worst)
        found = {
            name: (
                sum(
                    k == _object(key) and top >= cosine and top - nxt >= margin
                    for d in decided
                    for key, (k, top, nxt) in d[name]
                ),
                sum(len(d[name]) for d in decided),
            )
            for name in ("redrawn", "multiview")
        }
        draws = f" ({len(parts)} random registries)" if len(parts) > 1 else ""
        lines.append(
            f"| {size:,}{draws} | {margin:.2f} | 0 of {len(negatives) * len(parts):,} "
            f"| 0 of {len(twins) * len(parts):,} | {worst:.3f} "
            f"| {found['redrawn'][0]:,} of {found['redrawn'][1]:,} "
            f"| {found['multiview'][0]:,} of {found['multiview'][1]:,} |"
        )
    return lines


def _object(key: str) -> str:
    """The registry object a photo's key names (a demo record's photos share one)."""
    return key.split("_")[0] if key.startswith("LW-DEMO") else key


def _registries(registry: list[tuple[str, dict]], base: int):
    """(size, registries): ``DRAWS`` random registries of each ``SMALL`` size from the ``base`` photos
    (always holding the multiview registry photos, so their queries can be found), then the base with the
    first N distractors for each of ``SIZES``."""
    rng = np.random.default_rng(2199)
    multiview = [i for i, (key, _) in enumerate(registry[:base]) if key.startswith(("ukbench/", "holidays/"))]
    rest = [i for i in range(base) if i not in multiview]
    for size in SMALL:
        parts = []
        for _ in range(DRAWS):
            keep = multiview[: max(1, size // 5)] + sorted(
                rng.choice(rest, size - min(len(multiview), max(1, size // 5)), replace=False).tolist()
            )
            parts.append([registry[i] for i in keep])
        yield size, parts
    for extra in SIZES:
        yield base + extra, [registry[: base + extra]]


def decide(
    index: EmbeddingIndex, keys: list[str], vectors: dict[str, np.ndarray]
) -> tuple[str, float, float]:
    """(key, cosine, cosine of the best other object) of the most similar registry object."""
    near = index.nearest(vectors)
    ranked = near.ranked()
    top = keys[ranked[0][0]]
    others = [c for p, c in ranked if keys[p] != top]
    return top, ranked[0][1], max([FLOOR, near.bound, *others])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--distractors", type=int, default=10_000)
    ap.add_argument("--negatives", type=int, default=556, help="calibration objects (x9 transforms each)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--cosine", type=float, default=0.7, help="the cosine the margins by size are read at")
    args = ap.parse_args()
    started = time.perf_counter()
    photos = accuracy.registry_photos(False, [])
    multiview = accuracy._multiview_registry()
    keys: list[str] = []
    rows: list[tuple[int, np.ndarray]] = []
    registry = [(k, embed_views(views(decode(d)))) for k, d in photos + multiview["registry"]]
    base = len(registry)
    registry += [
        (f"distractor/{i}", v) for i, v in enumerate(accuracy.distractor_embeddings(args.distractors))
    ]
    for key, vectors in registry:
        keys.append(key.split("_")[0] if key.startswith("LW-DEMO") else key)
        rows += [(len(keys) - 1, v) for v in vectors.values()]
    index = EmbeddingIndex(rows)
    print(
        f"{len(keys)} registry photos, {len(rows)} rows ({time.perf_counter() - started:.0f} s)",
        file=sys.stderr,
    )
    negatives, twins, again, mv = _queries(args.negatives, args.workers, multiview["queries"])
    outcomes = {
        "negative": [decide(index, keys, v) for v in negatives],
        "twin": [decide(index, keys, v) for _, v in twins],
    }
    found = {
        "redrawn": [(key, decide(index, keys, v)) for key, v in again],
        "multiview": [(key, decide(index, keys, v)) for key, v in mv],
    }
    print(
        f"`python bench/embed_calibrate.py --distractors {args.distractors} --negatives {args.negatives}`: "
        f"{len(keys):,} registry photos; {len(negatives):,} calibration negative queries, "
        f"{len(twins)} twins, "
        f"{len(again)} new drawings of registry objects, {len(mv)} multiview queries "
        f"({(time.perf_counter() - started) / 60:.0f} min)\n"
    )
    print(
        "| cosine | margin | negative queries with a candidate | twins with a candidate "
        "| new drawings found | multiview found |"
    )
    print("|---|---|---|---|---|---|")
    for c in COSINES:
        for m in MARGINS:
            neg = sum(top >= c and top - nxt >= m for _, top, nxt in outcomes["negative"])
            tw = sum(top >= c and top - nxt >= m for _, top, nxt in outcomes["twin"])
            hits = {
                name: sum(k == key and top >= c and top - nxt >= m for key, (k, top, nxt) in v)
                for name, v in found.items()
            }
            print(
                f"| {c} | {m} | {neg} of {len(negatives)} | {tw} of {len(twins)} "
                f"| {hits['redrawn']} of {len(again)} | {hits['multiview']} of {len(mv)} |"
            )
    for name, v in {**outcomes}.items():
        tops = np.array([t for _, t, _ in v])
        gaps = np.array([t - n for _, t, n in v])
        print(
            f"{name}: best cosine p50/p99/max {np.percentile(tops, [50, 99, 100]).round(3)}, "
            f"margin p50/p99/max {np.percentile(gaps, [50, 99, 100]).round(3)}"
        )
    for name, v in found.items():
        right = [(t, t - n) for key, (k, t, n) in v if k == key]
        print(
            f"{name}: most similar object is the right one in {len(right)} of {len(v)}; "
            f"margins {sorted(round(g, 3) for _, g in right)[:12]} ..."
        )
    print()
    print("\n".join(by_size(registry, base, (negatives, twins, again, mv), args.cosine)))


if __name__ == "__main__":
    main()
