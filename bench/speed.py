"""Speed of hashing, of the hash index and of the whole check path, and memory per registry photo.

    python bench/speed.py [--registry 100000] [--index-sizes 10000 100000 1000000]

Every speed is quoted beside a baseline measured in the same run:
- hashing: the signal set of one image (canonical decode with border trim, SHA-256, PDQ/pHash/dHash,
  colour signature), a lot photo's signals (every view: as published, trimmed, each part), then
  everything stored for it (with ORB features and thumbnail), then a registry photo's,
  against the naive ``imagehash.phash(Image.open(path))``, on photos of 1 megapixel and more
  (../shared/images/pdq) and on ~600 px photos (the demo registry);
- hash search: ``FlatCodes`` (FAISS, the check path's) and ``HammingIndex`` (numpy, relistings) against
  a pure-Python loop and ``pybktree`` at each index size;
- check path: ``rank_photo`` (hash search, descriptor votes, RANSAC verification) against a registry of
  ``--registry`` photos whose hashes and descriptors are random (the cost does not depend on content),
  their features in a SQLite file as lootwatch keeps them.
Writes its tables into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
import time
import tracemalloc
from datetime import date
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image
from sqlite_utils import Database

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import write_section  # noqa: E402
from matcher.decide.evidence import Thresholds  # noqa: E402
from matcher.photo import hashes  # noqa: E402
from matcher.photo.decode import decode, trim_border  # noqa: E402
from matcher.photo.features import FEATURE_VERSION, ORB_FEATURES, Features, colour_signature  # noqa: E402
from matcher.photo.fingerprint import fingerprint  # noqa: E402
from matcher.search.descindex import PER_PHOTO, DescriptorIndex  # noqa: E402
from matcher.search.index import FlatCodes, HammingIndex, hex_to_words  # noqa: E402
from matcher.search.registry_index import RegistryIndex, StoredFeatures, rank_photo  # noqa: E402
from seeds.demo.build import build  # noqa: E402

SHARED = ROOT.parent / "shared" / "images"
VARIANTS_PER_PHOTO = 16  # 2 views x 8 rotations/mirror images


def demo_photos(n: int) -> list[Path]:
    """The first ``n`` demo registry photos (~600 px), drawn once into bench/.cache."""
    return sorted((build(ROOT / "bench" / ".cache" / "demo").root / "registry" / "photos").glob("*.jpg"))[:n]


def rate(fn, items, repeat: int = 1) -> float:
    """Items per second."""
    start = time.perf_counter()
    for _ in range(repeat):
        for x in items:
            fn(x)
    return repeat * len(items) / (time.perf_counter() - start)


HASH_ROUNDS = 5  # the machine's speed drifts; each round times every method once, baseline first


def hashing_rows() -> list[str]:
    big = sorted((SHARED / "pdq/pdq/data/reg-test-input").rglob("*.jpg")) if SHARED.is_dir() else []
    big = [p for p in big if Image.open(p).width * Image.open(p).height >= 1_000_000]
    small = demo_photos(60)
    methods = {
        "naive": lambda d: imagehash.phash(Image.open(io.BytesIO(d))),
        "set": signal_set,
        "signals": lambda d: fingerprint(d, signals_only=True),
        "lot": lambda d: fingerprint(d),
        "registry": lambda d: fingerprint(d, all_transforms=True),
    }
    rows = []
    for label, files in (("photos >= 1 MP", big), ("~600 px photos (demo registry)", small)):
        if not files:
            rows.append(f"| {label} | not run (../shared/images absent) | | | | |")
            continue
        data = [f.read_bytes() for f in files]
        for fn in methods.values():  # warm up: imports, caches, OpenCV's first call
            fn(data[0])
        rates = {name: [] for name in methods}
        for _ in range(HASH_ROUNDS):
            for name, fn in methods.items():
                rates[name].append(rate(fn, data))
        cells = [_median_cell(rates[name], rates["naive"]) for name in ("set", "signals", "lot", "registry")]
        mp = np.mean([Image.open(f).width * Image.open(f).height for f in files]) / 1e6
        rows.append(
            f"| {label} ({len(files)} files, mean {mp:.1f} MP) | {np.median(rates['naive']):.1f} "
            f"| {' | '.join(cells)} |"
        )
    return [
        f"Hashing, median of {HASH_ROUNDS} rounds (each times every method once over all files):",
        "",
        "| photos | naive pHash, images/s | the signal set (canonical decode with border trim, SHA-256, "
        "PDQ + quality, pHash, dHash, colour), images/s "
        "| lot photo signals (+ the untrimmed view and each part), images/s "
        "| lot photo, all it stores (+ ORB features, thumbnail), images/s "
        "| registry photo (16 variants, ORB of it and its mirror image), images/s |",
        "|---|---|---|---|---|---|",
        *rows,
    ]


def pdq_rows() -> list[str]:
    """PDQ alone, from a decoded picture to hash and quality: matcher.photo.pdq against the pdqhash bindings
    of the C++ reference."""
    import pdqhash

    pictures = [decode(f.read_bytes()) for f in demo_photos(60)]
    methods = {
        "pdqhash": lambda im: pdqhash.compute(np.asarray(im)),
        "numpy": hashes.pdq,
    }
    rates = {name: [] for name in methods}
    for _ in range(HASH_ROUNDS):
        for name, fn in methods.items():
            rates[name].append(rate(fn, pictures))
    size = np.mean([max(im.size) for im in pictures])
    return [
        "| pictures | `pdqhash` (C++ reference), pictures/s | `matcher.photo.pdq` (numpy), pictures/s |",
        "|---|---|---|",
        f"| demo registry decodes ({len(pictures)}, mean longest side {size:.0f} px) "
        f"| {np.median(rates['pdqhash']):.0f} | {_median_cell(rates['numpy'], rates['pdqhash'])} |",
    ]


def signal_set(data: bytes) -> tuple:
    """The issue's signal set of one image: canonical decode (border trimmed), SHA-256, PDQ with quality,
    pHash, dHash and colour signature. A lot photo is hashed untrimmed and part by part too."""
    im = decode(data)
    picture = trim_border(im) or im
    return hashes.sha256(data), hashes.signals(picture), colour_signature(picture)


def _median_cell(rates: list[float], baseline: list[float]) -> str:
    # Median rate, and the median of each round's ratio to the baseline timed just before it.
    ratio = np.array(rates) / np.array(baseline)
    return f"{np.median(rates):.1f} ({np.median(ratio):.2f}x)"


def index_rows(sizes: list[int]) -> list[str]:
    import pybktree

    rng = np.random.default_rng(0)
    rows = [
        "| registry hashes | FAISS `FlatCodes` (the check path's index) ms/query "
        "| numpy `HammingIndex` (relistings) ms/query | pure-Python loop ms/query | pybktree ms/query |",
        "|---|---|---|---|---|",
    ]
    for n in sizes:
        raw = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
        hexes = [r.tobytes().hex() for r in raw]
        flat = FlatCodes(hex_to_words(hexes, 256))
        index = HammingIndex(hexes, 256)
        queries = hexes[:: max(1, n // 20)][:20]
        faiss_ms = _median_ms(lambda q, flat=flat: flat.search(q, 31), queries)
        numpy_ms = _median_ms(lambda q, index=index: index.search(q, radius=31), queries)
        ints = [int(h, 16) for h in hexes]
        loop_q = queries[:3]
        loop = 1000 / rate(
            lambda q, ints=ints: [i for i, v in enumerate(ints) if (v ^ int(q, 16)).bit_count() <= 31], loop_q
        )
        if n <= 100_000:
            tree = pybktree.BKTree(lambda a, b: (a ^ b).bit_count(), ints)
            bk = f"{1000 / rate(lambda q, tree=tree: tree.find(int(q, 16), 31), loop_q):.1f}"
        else:
            bk = "not run (tree build too slow)"
        rows.append(
            f"| {n:,} | {faiss_ms:.2f} | {numpy_ms:.2f} | {loop:.1f} ({loop / faiss_ms:.0f}x FAISS) | {bk} |"
        )
    return rows


def _median_ms(fn, queries: list[str], rounds: int = HASH_ROUNDS) -> float:
    """Milliseconds per query, the median of ``rounds`` passes over ``queries``."""
    return float(np.median([1000 / rate(fn, queries) for _ in range(rounds)]))


def random_registry(n: int, folder: Path, seed: int = 0) -> RegistryIndex:
    """A registry of ``n`` photos with random hashes (16 variants each) and random ORB descriptors, their
    features stored in a SQLite file in ``folder`` as lootwatch stores them, read back for verification."""
    rng = np.random.default_rng(seed)
    rows = VARIANTS_PER_PHOTO * n
    columns = {
        "pdq": rng.integers(0, 2**63, size=(rows, 4), dtype=np.uint64),
        "phash": rng.integers(0, 2**63, size=rows, dtype=np.uint64),
        "dhash": rng.integers(0, 2**63, size=rows, dtype=np.uint64),
        "quality": np.full(rows, 100, np.uint8),
        "variant": np.tile(np.arange(16, dtype=np.uint8), n),
        "image": np.repeat(np.arange(n, dtype=np.int64), VARIANTS_PER_PHOTO),
        "object": np.repeat(np.arange(n, dtype=np.int64), VARIANTS_PER_PHOTO),
    }
    variants = [
        f"{v}/{t}"
        for v in ("full", "trim")
        for t in ("r0", "r90", "r180", "r270", "m0", "m90", "m180", "m270")
    ]
    db = Database(folder / "registry.db")
    db.execute("CREATE TABLE registry_images (id INTEGER PRIMARY KEY, sha256 TEXT)")
    db.execute(
        "CREATE TABLE image_features (sha256 TEXT PRIMARY KEY, xy BLOB, desc BLOB, colour TEXT, "
        "xy_m BLOB, desc_m BLOB, feature_version TEXT)"
    )

    def photo() -> Features:
        return Features(
            rng.uniform(0, 512, (ORB_FEATURES, 2)).astype(np.float32),
            rng.integers(0, 256, (ORB_FEATURES, 32), dtype=np.uint8),
        )

    def stored():
        for start in range(0, n, 5000):
            batch = [(i, photo(), photo()) for i in range(start, min(n, start + 5000))]
            with db.conn:
                db.conn.executemany(
                    "INSERT INTO registry_images VALUES (?, ?)", [(i, f"{i:064x}") for i, _, _ in batch]
                )
                db.conn.executemany(
                    "INSERT INTO image_features VALUES (?, ?, ?, '', ?, ?, ?)",
                    [(f"{i:064x}", *f.to_blobs(), *m.to_blobs(), FEATURE_VERSION) for i, f, m in batch],
                )
            yield from ((i, f) for i, f, _ in batch)

    features = StoredFeatures(db)
    return RegistryIndex(columns, variants, features, features.mirrors, DescriptorIndex(stored()))


def check_rows(n: int) -> list[str]:
    tracemalloc.start()
    started = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="lootwatch-speed-"))
    index = random_registry(n, folder)
    built = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    hash_bytes = index.pdq.nbytes + sum(
        a.nbytes for a in (index.phash, index.dhash, index.quality, index.variant, index.image, index.object)
    )
    votes = index.descriptors
    vote_bytes = votes.nbytes
    disk_bytes = (folder / "registry.db").stat().st_size
    photos = demo_photos(30)
    prints = [fingerprint(p.read_bytes()) for p in photos]
    t = Thresholds()

    def ranked(fp):
        return rank_photo(index, fp.hashes, fp.features, t)

    def checked(p: Path):
        return ranked(fingerprint(p.read_bytes(), thumbnail=False))  # as check_photo does

    def passes(fn, items) -> float:
        # Each pass reads its registry photos' features from SQLite, as the first query would.
        rates = []
        for _ in range(HASH_ROUNDS):
            index.features.both.cache_clear()
            rates.append(rate(fn, items))
        return float(np.median(rates))

    qps_rank = passes(ranked, prints)
    qps_all = passes(checked, photos)
    shutil.rmtree(folder)
    scale = 1_000_000 / n
    memory = (hash_bytes + vote_bytes) * scale / 2**30
    return [
        f"Check path against {n:,} registry photos (random hashes, {ORB_FEATURES} random descriptors each "
        f"and as many for the mirror image, stored in SQLite; {PER_PHOTO} of them per photo in the vote "
        f"index; built in {built:.0f} s, peak traced memory while building {peak / 2**30:.2f} GiB); "
        f"queries/s the median of {HASH_ROUNDS} passes over {len(photos)} demo photos, each from SQLite:",
        "",
        "| what | figure |",
        "|---|---|",
        f"| rank_photo (hash search, descriptor votes, verification) | {qps_rank:.1f} queries/s |",
        f"| whole check path incl. decoding and hashing the query | {qps_all:.1f} queries/s |",
        "| hashes in memory (PDQ codes, pHash and dHash columns), per million registry photos "
        f"| {hash_bytes * scale / 2**30:.2f} GiB |",
        f"| descriptor vote index in memory (FAISS codes + photo ids), per million | "
        f"{vote_bytes * scale / 2**30:.2f} GiB |",
        f"| memory in all, per million registry photos | {memory:.2f} GiB |",
        f"| features on disk (SQLite, read for verification), per million "
        f"| {disk_bytes * scale / 2**30:.2f} GiB |",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--registry", type=int, default=100_000)
    ap.add_argument("--index-sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    args = ap.parse_args()
    head = f"`python bench/speed.py` ({date.today()}, {os.cpu_count()} cores, one process):"
    lines = [
        head,
        "",
        *hashing_rows(),
        "",
        f"PDQ alone, from the decoded picture (luma conversion included), median of {HASH_ROUNDS} rounds:",
        "",
        *pdq_rows(),
        "",
        f"Exact PDQ search, radius 31, median of {HASH_ROUNDS} passes over 20 queries:",
        "",
        *index_rows(args.index_sizes),
        "",
        *check_rows(args.registry),
    ]
    print("\n".join(lines))
    write_section("speed.py", "Speed and memory", lines)


if __name__ == "__main__":
    main()
