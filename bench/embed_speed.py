"""What the learned embedding costs: time per photo, the check path's speed against a large registry with
and without it, memory per million registry photos, and what quantising the vectors costs in recall.

    python bench/embed_speed.py [--registry 100000] [--distractors 10000]

Every speed is quoted beside a baseline measured in the same process:
- per photo: a lot photo's fingerprint without the embedding (decode, every view's hashes, ORB
  features, thumbnail: what a lot photo cost before) against the same with every view embedded, and the
  embedding alone (its views, batched), on ~600 px demo registry photos;
- check path: ``rank_photo`` against ``--registry`` photos whose hashes and descriptors are random (as in
  bench/speed.py) and whose two view embeddings a photo are random unit vectors, with and without the
  query's embeddings; and the whole check path, fingerprinting the query included;
- quantising: FAISS ``IndexScalarQuantizer`` (float16, 8 bits a dimension) against the exact float32
  index over the accuracy benchmark's drawn distractors (their real embeddings), queried with new
  drawings of the demo registry's objects: the share of the exact 10 nearest a quantised search
  returns, and whether the most similar photo stays the same.
Writes its tables into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import accuracy, speed  # noqa: E402
from bench.embed_calibrate import query_views, redrawn  # noqa: E402
from bench.report import write_section  # noqa: E402
from matcher.decide.evidence import Thresholds  # noqa: E402
from matcher.photo.decode import decode  # noqa: E402
from matcher.photo.embed import DIM  # noqa: E402
from matcher.photo.fingerprint import embed_views, fingerprint, views  # noqa: E402
from matcher.photo.segments import segment_boxes  # noqa: E402
from matcher.search.embindex import EmbeddingIndex  # noqa: E402
from matcher.search.registry_index import rank_photo  # noqa: E402

ROUNDS = 5


def _median_ratio(rates: dict[str, list[float]], name: str, base: str) -> str:
    ratio = np.array(rates[name]) / np.array(rates[base])
    return f"{1000 / np.median(rates[name]):.1f} ms ({np.median(ratio):.2f}x the photos/s)"


def per_photo_rows() -> list[str]:
    data = [p.read_bytes() for p in speed.demo_photos(40)]

    def embedding_only(d: bytes) -> None:
        im = decode(d)
        embed_views(views(im, segment_boxes(im)))

    methods = {
        "without": lambda d: fingerprint(d, embeddings=False),
        "with": lambda d: fingerprint(d),
        "alone": embedding_only,
    }
    for fn in methods.values():
        fn(data[0])
    rates: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(ROUNDS):
        for name, fn in methods.items():
            rates[name].append(speed.rate(fn, data))
    n_views = np.mean([len(views(decode(d), segment_boxes(decode(d)))) for d in data])
    return [
        f"Per lot photo, {len(data)} demo registry photos (~600 px, {n_views:.1f} views each), one thread, "
        f"median of {ROUNDS} rounds (each times every method once, the baseline first):",
        "",
        "| what | time per photo (ratio of photos/s to the baseline) |",
        "|---|---|",
        f"| lot photo, all it stored before (every view's hashes, ORB, thumbnail): baseline "
        f"| {1000 / np.median(rates['without']):.1f} ms (1.00x) |",
        f"| lot photo with every view embedded | {_median_ratio(rates, 'with', 'without')} |",
        f"| the embedding alone (decode, views, one batch through the model) "
        f"| {_median_ratio(rates, 'alone', 'without')} |",
    ]


def check_rows(n: int) -> list[str]:
    folder = Path(tempfile.mkdtemp(prefix="lootwatch-embed-speed-"))
    started = time.perf_counter()
    index = speed.random_registry(n, folder)
    rng = np.random.default_rng(1)

    def unit_rows():
        for start in range(0, n, 10_000):
            block = rng.normal(size=(2 * min(10_000, n - start), DIM)).astype(np.float32)
            block /= np.linalg.norm(block, axis=1, keepdims=True)
            yield from zip(
                np.repeat(np.arange(start, start + len(block) // 2), 2).tolist(), block, strict=True
            )

    index.embeddings = EmbeddingIndex(unit_rows())
    built = time.perf_counter() - started
    photos = speed.demo_photos(30)
    prints = [fingerprint(p.read_bytes()) for p in photos]
    t = Thresholds()
    rates: dict[str, list[float]] = {"without": [], "with": [], "all_without": [], "all_with": []}
    for _ in range(3):
        rates["without"].append(speed.rate(lambda fp: rank_photo(index, fp.hashes, fp.features, t), prints))
        rates["with"].append(
            speed.rate(
                lambda fp: rank_photo(index, fp.hashes, fp.features, t, embeddings=fp.embeddings), prints
            )
        )
        rates["all_without"].append(
            speed.rate(
                lambda p: (lambda fp: rank_photo(index, fp.hashes, fp.features, t))(
                    fingerprint(p.read_bytes(), thumbnail=False, embeddings=False)
                ),
                photos,
            )
        )
        rates["all_with"].append(
            speed.rate(
                lambda p: (lambda fp: rank_photo(index, fp.hashes, fp.features, t, embeddings=fp.embeddings))(
                    fingerprint(p.read_bytes(), thumbnail=False)
                ),
                photos,
            )
        )
    shutil.rmtree(folder)
    per_million = index.embeddings.nbytes * 1_000_000 / n / 2**30

    def cell(name: str, base: str) -> str:
        ratio = np.median(np.array(rates[name]) / np.array(rates[base]))
        return f"{np.median(rates[name]):.1f} queries/s ({ratio:.2f}x)"

    return [
        f"Check path against {n:,} registry photos (random hashes and descriptors as in bench/speed.py, two "
        f"random unit embeddings a photo in a FAISS `IndexFlatIP`; built in {built:.0f} s), median of 3 "
        "passes over 30 demo photos, one thread:",
        "",
        "| what | without the embedding: baseline | with the embedding (ratio) |",
        "|---|---|---|",
        f"| rank_photo (hash search, votes, embedding search, verification) "
        f"| {np.median(rates['without']):.1f} queries/s | {cell('with', 'without')} |",
        f"| whole check path (decode, fingerprint without thumbnail, rank_photo) "
        f"| {np.median(rates['all_without']):.1f} queries/s | {cell('all_with', 'all_without')} |",
        f"| embedding index in memory, per million registry photos (two views each, float32) "
        f"| | {per_million:.2f} GiB |",
    ]


def quantise_rows(distractors: int) -> list[str]:
    import faiss

    vectors = accuracy.distractor_embeddings(distractors)
    base = np.stack([v.astype(np.float32) for views_ in vectors for v in views_.values()])
    queries = np.stack([v.astype(np.float32) for _, d in redrawn() for v in query_views(d).values()])
    exact = faiss.IndexFlatIP(DIM)
    exact.add(base)
    _, truth = exact.search(queries, 10)
    rows = [
        f"Quantising the embedding index: {len(base):,} rows (the views of {distractors:,} drawn "
        "distractors), "
        f"{len(queries)} query views (new drawings of the demo registry's objects), exact float32 "
        "`IndexFlatIP` as the reference:",
        "",
        "| index | bytes a vector | share of the exact 10 nearest found | same nearest row |",
        "|---|---|---|---|",
        f"| `IndexFlatIP` float32 (lootwatch) | {4 * DIM:,} | 1.000 | 1.000 |",
    ]
    for name, kind, size in (
        ("`IndexScalarQuantizer` float16", faiss.ScalarQuantizer.QT_fp16, 2 * DIM),
        ("`IndexScalarQuantizer` 8 bits", faiss.ScalarQuantizer.QT_8bit, DIM),
    ):
        index = faiss.IndexScalarQuantizer(DIM, kind, faiss.METRIC_INNER_PRODUCT)
        index.train(base)
        index.add(base)
        _, found = index.search(queries, 10)
        overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, found, strict=True)])
        same = np.mean(truth[:, 0] == found[:, 0])
        rows.append(f"| {name} | {size:,} | {overlap:.3f} | {same:.3f} |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--registry", type=int, default=100_000)
    ap.add_argument("--distractors", type=int, default=10_000)
    args = ap.parse_args()
    import faiss

    faiss.omp_set_num_threads(1)  # as lootwatch matches: one thread
    head = f"`python bench/embed_speed.py` ({date.today()}, {os.cpu_count()} cores, one process):"
    lines = [
        head,
        "",
        *per_photo_rows(),
        "",
        *check_rows(args.registry),
        "",
        *quantise_rows(args.distractors),
    ]
    print("\n".join(lines))
    write_section("embed_speed.py", "Embedding: cost", lines)


if __name__ == "__main__":
    main()
