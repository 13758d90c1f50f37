"""Accuracy of the matcher on a transform suite, against a registry padded with distractors.

    python bench/accuracy.py [--distractors 10000] [--negatives 300] [--photos DIR ...] [--no-shared]

Registry: the demo registry's photos (drawn by seeds/demo), plus the real photos in ../shared/images when
present, plus N distractor photos drawn in the same house style. Positive queries: every registry photo
(not the distractors) under every transform of bench/transforms.py. Negative queries: photos of objects
that are in no registry, under a subset of the transforms, and a "twin" of every demo registry object
(same type, material, backdrop, pose and light; a different object). A false positive is any candidate
(strong or review) for an object the query does not show.

Baseline, measured in the same run: imagehash.phash (64 bits) of the photo as opened, against the
registry photos as opened, a match at Hamming distance <= 10 (its customary threshold).
Multiview: object-level top-1 / top-10 on ../shared/images/multiview (different photos of one object).
Twins: every positive and negative query also runs against the registry with a share of its photos held
by a second record (bench/registry_twins.py); recall and false candidates must not change.
Writes its tables into docs/benchmarks.md.
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
from collections import defaultdict
from datetime import date
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import registry_twins, transforms  # noqa: E402
from bench.report import write_section  # noqa: E402
from matcher.decide.evidence import Thresholds, rank_key, tier  # noqa: E402
from matcher.photo.decode import decode  # noqa: E402
from matcher.photo.embed import EMBED_VERSION  # noqa: E402
from matcher.photo.features import FEATURE_VERSION  # noqa: E402
from matcher.photo.fingerprint import embed_views, fingerprint, views  # noqa: E402
from matcher.photo.hashes import HASH_VERSION  # noqa: E402
from matcher.search.descindex import PER_PHOTO  # noqa: E402
from matcher.search.registry_index import RegistryIndex, rank_photo  # noqa: E402
from seeds.demo import draw  # noqa: E402
from seeds.demo.build import build  # noqa: E402

SHARED = ROOT.parent / "shared" / "images"
CACHE = ROOT / "bench" / ".cache"
BASELINE_RADIUS = 10
NEGATIVE_TRANSFORMS = (
    "jpeg q50",
    "resize 0.5x",
    "crop 10%",
    "pad 30% white",
    "text watermark",
    "mirror",
    "rotate 90",
    "collage of 4",
    "screenshot",
)
VERSION = 2  # 2: registry photos keep the ORB features of their mirror image, as lootwatch stores them


def drawn(seed: int) -> bytes:
    """A photo of an object in no registry, in the demo's house style."""
    rng = np.random.default_rng(seed)
    kind = draw.TYPES[int(rng.integers(len(draw.TYPES)))]
    material = draw.TYPE_MATERIALS[kind][int(rng.integers(len(draw.TYPE_MATERIALS[kind])))]
    backdrop = list(draw.BACKDROPS)[int(rng.integers(3))]
    return _jpeg(draw.photo(draw.sprite(kind, material, seed), backdrop, seed), 90)


def _jpeg(im: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _signature(data: bytes, embeddings: bool = True) -> dict:
    fp = fingerprint(data, all_transforms=True, embeddings=embeddings)
    return {
        "sha256": fp.sha256,
        "hashes": fp.hashes,
        "embeddings": fp.embeddings,
        "features": (*fp.features.to_blobs(), fp.features.colour),
        "mirror": fp.mirror_features.to_blobs() if fp.mirror_features is not None else None,
        "naive_phash": _naive_phash(data),
    }


def _distractor(seed: int) -> dict:
    return _signature(drawn(seed), embeddings=False)  # embedded apart: distractor_embeddings


def _distractor_embedding(seed: int) -> dict[str, np.ndarray]:
    """The embeddings of a distractor's views, as ``fingerprint`` makes them for a registry photo."""
    return embed_views(views(decode(drawn(seed))))


def _naive_phash(data: bytes) -> int:
    return int(str(imagehash.phash(Image.open(io.BytesIO(data)))), 16)


def distractors(n: int) -> list[dict]:
    """Hashes, features and embeddings of ``n`` drawn distractors, cached under bench/.cache."""
    code = hashlib.sha256(f"{VERSION};{HASH_VERSION};{FEATURE_VERSION}".encode()).hexdigest()[:12]
    # Hashes from older code are never reused; embeddings are cached apart, by the embedding's version.
    out = _cached(CACHE / f"distractors-{n}-{code}.pkl", _distractor, n, "distractors")
    for sig, vectors in zip(out, distractor_embeddings(n), strict=True):
        sig["embeddings"] = vectors
    return out


def distractor_embeddings(n: int) -> list[dict[str, np.ndarray]]:
    """The embeddings of the first ``n`` drawn distractors' views, cached under bench/.cache."""
    code = hashlib.sha256(EMBED_VERSION.encode()).hexdigest()[:12]
    return _cached(CACHE / f"distractor-embeddings-{n}-{code}.pkl", _distractor_embedding, n, "embeddings")


def _cached(path: Path, fn, n: int, what: str) -> list:
    """``fn`` of every distractor seed, computed on every core once and kept in ``path``; the first
    ``n`` of a larger run's cache (the same seeds, the same code) serve as well."""
    if path.exists():
        return pickle.loads(path.read_bytes())
    prefix, _, code = path.stem.rpartition("-")
    stem = prefix.rpartition("-")[0]
    for larger in sorted(path.parent.glob(f"{stem}-*-{code}.pkl")):
        size = larger.stem.removeprefix(f"{stem}-").partition("-")[0]
        if size.isdigit() and int(size) >= n:
            return pickle.loads(larger.read_bytes())[:n]
    CACHE.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(os.cpu_count() or 1) as pool:
        out = []
        for i, item in enumerate(pool.imap(fn, range(50_000_000, 50_000_000 + n), chunksize=16), 1):
            out.append(item)
            if i % 500 == 0:
                print(f"  {what} {i}/{n} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    path.write_bytes(pickle.dumps(out))
    return out


def registry_photos(no_shared: bool, extra: list[str]) -> list[tuple[str, bytes]]:
    """(object key, bytes) of every photo the registry holds besides distractors."""
    demo = build(CACHE / "demo")
    photos = [
        (p.name.rsplit("_", 1)[0], p.read_bytes())
        for p in sorted((demo.root / "registry" / "photos").glob("*.jpg"))
    ]
    folders = [Path(e) for e in extra]
    if not no_shared and SHARED.is_dir():
        folders += [
            SHARED / "perception/perception/testing/images",
            SHARED / "imagededup/tests/data/base_images",
        ]
    for folder in folders:
        photos += [(f"{folder.name}/{p.name}", p.read_bytes()) for p in sorted(folder.glob("*.jpg"))]
    return photos


class Registry:
    """An in-memory registry: a RegistryIndex plus the naive pHashes of the baseline."""

    def __init__(self, signatures: list[tuple[str, dict]], per_photo: int = PER_PHOTO):
        from matcher.photo.features import Features

        self.keys: list[str] = []  # object id -> key; photos of one object share a key
        object_of: dict[str, int] = {}
        self.photo_keys: list[str] = []
        rows, features, mirrors, naive, vectors = [], {}, {}, [], {}
        for image_id, (key, sig) in enumerate(signatures):
            if key not in object_of:
                object_of[key] = len(self.keys)
                self.keys.append(key)
            self.photo_keys.append(key)
            for variant, h in sig["hashes"].items():
                rows.append(
                    {
                        **h,
                        "variant": variant,
                        "registry_image_id": image_id,
                        "object_id": object_of[key],
                        "sha256": sig.get("sha256"),
                    }
                )
            features[image_id] = Features.from_blobs(*sig["features"])
            if sig.get("mirror"):
                mirrors[image_id] = Features.from_blobs(*sig["mirror"])
            naive.append(sig["naive_phash"])
            if sig.get("embeddings"):
                vectors[image_id] = sig["embeddings"]
        self.index = RegistryIndex.from_rows(rows, features, mirrors, per_photo, vectors)
        self.naive = np.array(naive, dtype=np.uint64)

    def ours(
        self, data: bytes | object, t: Thresholds, embeddings: bool = True
    ) -> list[tuple[str, str | None]]:
        """(object key, tier) of every ranked hit for a query, best first."""
        return [(key, tr) for key, tr, _ in self.hits(data, t, embeddings)]

    def hits(
        self, data: bytes | object, t: Thresholds, embeddings: bool = True
    ) -> list[tuple[str, str | None, dict]]:
        """(object key, tier, evidence) of every ranked hit for a query (bytes or its fingerprint),
        best first; ``embeddings`` False leaves the learned embedding out (the matcher before it)."""
        fp = fingerprint(data) if isinstance(data, bytes) else data
        if not fp.matchable:
            return []
        return [
            (self.keys[h.object_id], tier(h, t), h.evidence())
            for h in rank_photo(
                self.index, fp.hashes, fp.features, t, embeddings=self._embeddings(fp) if embeddings else None
            )
        ]

    def _embeddings(self, fp) -> dict | None:
        """The query's embeddings, unless this run leaves the embedding out (``--no-embedding``)."""
        return None if _no_embedding else fp.embeddings

    def baseline(self, data: bytes) -> set[str]:
        q = np.uint64(_naive_phash(data))
        near = np.flatnonzero(np.bitwise_count(self.naive ^ q) <= BASELINE_RADIUS)
        return {self.photo_keys[i] for i in near}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--distractors", type=int, default=10_000)
    ap.add_argument("--negatives", type=int, default=1112, help="outsider objects (x9 transforms each)")
    ap.add_argument("--photos", nargs="*", default=[], help="more folders of registry photos (*.jpg)")
    ap.add_argument("--no-shared", action="store_true", help="leave out ../shared/images")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--only-negatives", action="store_true", help="skip the positive queries (diagnosis)")
    ap.add_argument(
        "--no-embedding", action="store_true", help="queries leave the learned embedding out (a baseline)"
    )
    ap.add_argument(
        "--vote-features", type=int, metavar="N", help="descriptors per registry photo in the vote index"
    )
    ap.add_argument(
        "--transforms", nargs="+", metavar="NAME", help="only these transforms of the positives (diagnosis)"
    )
    args = ap.parse_args()
    started = time.perf_counter()
    photos = registry_photos(args.no_shared, args.photos)
    print(
        f"{len(photos)} registry photos; drawing and hashing {args.distractors} distractors", file=sys.stderr
    )
    sigs = [(key, _signature(data)) for key, data in photos]
    sigs += [(f"distractor/{i}", s) for i, s in enumerate(distractors(args.distractors))]
    multiview = _multiview_registry()
    sigs += [(key, _signature(data)) for key, data in multiview["registry"]]
    registry_file = CACHE / f"registry-{os.getpid()}.pkl"
    registry_file.write_bytes(pickle.dumps(sigs))
    copies = [(key, _signature(data)) for key, data in registry_twins.twin_records(photos)]
    twins_file = CACHE / f"registry-twins-{os.getpid()}.pkl"
    twins_file.write_bytes(pickle.dumps(sigs + copies))
    tasks = (
        [] if args.only_negatives else [("positive", i, key, data) for i, (key, data) in enumerate(photos)]
    )
    tasks += [("negative", i, "", b"") for i in range(args.negatives)]
    tasks += [("twin", i, key, data) for i, (key, data) in enumerate(_twins())]
    tasks += [("multiview", i, key, data) for i, (key, data) in enumerate(multiview["queries"])]
    results: dict[str, list] = defaultdict(list)
    try:
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(
            args.workers,
            initializer=_worker_init,
            initargs=(
                str(registry_file),
                str(twins_file),
                args.transforms,
                args.vote_features,
                args.no_embedding,
            ),
        ) as pool:
            for done, (kind, rows, twinned) in enumerate(pool.imap_unordered(_run_task, tasks), 1):
                results[kind] += rows
                results[f"{kind}_twins"] += twinned
                if done % 100 == 0 or done == len(tasks):
                    elapsed = time.perf_counter() - started
                    print(f"  queries: {done}/{len(tasks)} tasks ({elapsed:.0f} s)", file=sys.stderr)
    finally:
        registry_file.unlink(missing_ok=True)
        twins_file.unlink(missing_ok=True)
    (CACHE / "last-results.pkl").write_bytes(pickle.dumps(dict(results)))  # for diagnosis
    if args.only_negatives or args.transforms or args.vote_features:
        _summary(results)
        return
    _report(photos, args, results, time.perf_counter() - started)


def _summary(results: dict) -> None:
    """A diagnosis run's figures, printed and not written to docs/benchmarks.md."""
    by_name: dict[str, list] = defaultdict(list)
    for name, outcome, *_ in results.get("positive", []):
        by_name[name].append(outcome)
    for name, v in by_name.items():
        found = np.mean([o["any_found"] for o in v])
        strong = np.mean([o["strong_found"] for o in v])
        print(f"  {name:16s} recall {found:.3f}, strong {strong:.3f}")
    twins = results.get("twin", [])
    print(f"twins with a candidate: {sum(o['any_wrong'] for o in twins)} of {len(twins)}")
    false = [(n, o["evidence"]) for n, o, _ in results["negative"] if o["any_wrong"]]
    print(f"{len(false)} of {len(results['negative'])} negative queries with a candidate:")
    for name, evidence in false:
        print(f"  {name}: {evidence}")


_registry: Registry | None = None
_no_embedding = False
_twinned: Registry | None = None
_suite: dict = {}
_positive_names: list[str] = []


def _worker_init(
    path: str, twins_path: str, only: list[str] | None, vote_features: int | None, no_embedding: bool
) -> None:
    global _registry, _twinned, _suite, _no_embedding
    _no_embedding = no_embedding
    import faiss

    faiss.omp_set_num_threads(1)  # one process per core: OpenMP threads in each would fight over them
    _registry = Registry(pickle.loads(Path(path).read_bytes()), vote_features or PER_PHOTO)
    _twinned = Registry(pickle.loads(Path(twins_path).read_bytes()), vote_features or PER_PHOTO)
    others = [Image.open(io.BytesIO(drawn(70_000_000 + i))).convert("RGB") for i in range(3)]
    logo_path = SHARED / "perception/perception/testing/logos/logoipsum.png"
    _suite = transforms.suite(Image.open(logo_path) if logo_path.exists() else None, others)
    unknown = set(only or []) - set(_suite)
    if unknown:
        raise SystemExit(f"unknown transforms {sorted(unknown)}; known: {', '.join(_suite)}")
    _positive_names[:] = only or list(_suite)


def _run_task(task: tuple) -> tuple[str, list, list]:
    """One registry photo under every transform, one outsider under some, one twin or multiview query.

    Each task seeds its own random generator, so results do not depend on how tasks reach workers.
    """
    kind, i, key, data = task
    assert _registry is not None and _twinned is not None
    t = Thresholds()
    rng = np.random.default_rng([2199, i, len(kind)])
    rows, twinned = [], []
    if kind == "positive":
        im = Image.open(io.BytesIO(data)).convert("RGB")
        copied = (registry_twins.COPY + key) in _twinned.keys and i % registry_twins.SHARE == 0
        for name in _positive_names:
            fn = _suite[name]
            q = _jpeg(fn(im, rng), 90)
            fp = fingerprint(q)
            hits = _registry.hits(fp, t)
            outcome = _outcome([(k, tr) for k, tr, _ in hits if tr], key)
            outcome["hits"] = [(k == key, e) for k, _, e in hits[:10]]  # for replaying other tier rules
            outcome["plain"] = _outcome([(k, tr) for k, tr in _registry.ours(fp, t, False) if tr], key)
            found = _registry.baseline(q)
            rows.append((name, outcome, key in found, bool(found - {key})))
            raised = [(k, tr) for k, tr, _ in _twinned.hits(fp, t) if tr]
            both = {key, registry_twins.COPY + key} <= {k for k, _ in raised}
            same = [(k.removeprefix(registry_twins.COPY), tr) for k, tr in raised]
            twinned.append((name, _outcome(same, key), copied, both))
    elif kind == "negative":
        im = Image.open(io.BytesIO(drawn(60_000_000 + i))).convert("RGB")
        for name in NEGATIVE_TRANSFORMS:
            q = _jpeg(_suite[name](im, rng), 90)
            fp = fingerprint(q)
            hits = _registry.hits(fp, t)
            outcome = _outcome([(k, tr) for k, tr, _ in hits], None)
            outcome["evidence"] = [(k, tr, e) for k, tr, e in hits if tr]  # what a false candidate rests on
            outcome["hits"] = [(False, e) for _, _, e in hits[:10]]
            outcome["plain"] = _outcome(_registry.ours(fp, t, False), None)
            rows.append((name, outcome, bool(_registry.baseline(q))))
            twinned.append((name, _outcome([(k, tr) for k, tr, _ in _twinned.hits(fp, t)], None)))
    elif kind == "twin":
        fp = fingerprint(data)
        plain = _outcome(_registry.ours(fp, t, False), None)
        rows.append({**_outcome(_registry.ours(fp, t), None), "plain": plain})
    else:
        fp = fingerprint(data)
        outcome = []
        for vectors in (_registry._embeddings(fp), None):  # with the embedding, then without it
            found = rank_photo(_registry.index, fp.hashes, fp.features, t, embeddings=vectors)
            ranked = sorted(found, key=lambda h: rank_key(h, t))
            keys = [_registry.keys[h.object_id] for h in ranked]
            outcome += [keys[:1] == [key], key in keys[:10]]
        rows.append(tuple(outcome))
    return kind, rows, twinned


def _outcome(ranked: list[tuple[str, str | None]], key: str | None) -> dict:
    """Did the query find its object, and did it get a candidate for any other, per operating point."""
    tiers = {"any": ("strong", "review"), "strong": ("strong",)}
    return {
        f"{point}_{what}": any(tr in allowed and (k == key) == (what == "found") for k, tr in ranked)
        for point, allowed in tiers.items()
        for what in ("found", "wrong")
    }


def _twins() -> list[tuple[str, bytes]]:
    """A photo of a twin of every demo registry photo: same type, material, backdrop, pose and light."""
    demo = build(CACHE / "demo")
    out = []
    for row in csv.DictReader(open(demo.registry_csv, encoding="utf-8")):
        n = int(row["source_id"].rsplit("-", 1)[1]) - 1
        kind = draw.TYPES[n % len(draw.TYPES)]
        twin = draw.sprite(kind, row["materials"], 80_000_000 + n)
        for p, image in enumerate(row["images"].split("|")):
            seed = (2199 * 1000 + n) * 10 + p  # the registry photo's seed: same backdrop, pose and light
            backdrop = _backdrop_of(demo.root / "registry" / image)
            out.append((f"twin/{n}", _jpeg(draw.photo(twin, backdrop, seed), 90)))
    return out


def _backdrop_of(path: Path) -> str:
    corner = np.asarray(Image.open(path).convert("L"))[:20, :20].mean()
    return "white" if corner > 200 else "black" if corner < 60 else "grey"


def _multiview_registry() -> dict:
    folder = SHARED / "multiview" / "ukbench"
    if not folder.is_dir():
        return {"registry": [], "queries": []}
    files = sorted(folder.glob("ukbench*.jpg"))
    groups = defaultdict(list)
    for f in files:
        groups[int(f.stem[7:]) // 4].append(f)
    registry = [(f"ukbench/{g}", fs[0].read_bytes()) for g, fs in groups.items()]
    queries = [(f"ukbench/{g}", f.read_bytes()) for g, fs in groups.items() for f in fs[1:]]
    holidays = sorted((SHARED / "multiview" / "holidays").glob("*.jpg"))
    if len(holidays) > 1:
        registry.append(("holidays/1000", holidays[0].read_bytes()))
        queries += [("holidays/1000", f.read_bytes()) for f in holidays[1:]]
    return {"registry": registry, "queries": queries}


def _report(photos, args, results, seconds) -> None:
    positives, negatives = results["positive"], results["negative"]
    by_name: dict[str, list] = defaultdict(list)
    for name, outcome, base_found, _ in positives:
        by_name[name].append((outcome, base_found))
    n_neg = len(negatives)
    neg_any = sum(o["any_wrong"] for _, o, _ in negatives)
    neg_strong = sum(o["strong_wrong"] for _, o, _ in negatives)
    neg_base = sum(b for _, _, b in negatives)
    neg_plain = sum(o["plain"]["any_wrong"] for _, o, _ in negatives)
    neg_plain_strong = sum(o["plain"]["strong_wrong"] for _, o, _ in negatives)
    pos_plain = sum(o["plain"]["any_wrong"] for _, o, _, _ in positives)
    pos_any = sum(o["any_wrong"] for _, o, _, _ in positives)
    pos_strong = sum(o["strong_wrong"] for _, o, _, _ in positives)
    pos_base = sum(b for *_, b in positives)

    def rate(k: int, n: int) -> str:
        return f"{k / n:.1e}" if k else f"0 (< {3 / n:.0e} at 95 %)"

    lines = [
        f"`python bench/accuracy.py --distractors {args.distractors} --negatives {args.negatives}` "
        f"({date.today()}, {os.cpu_count()} cores, {args.workers} workers, {seconds / 60:.0f} min): "
        f"{len(photos)} registry photos under {len(by_name)} transforms, in a registry padded with "
        f"{args.distractors:,} distractor photos drawn in the same house style; {n_neg:,} negative "
        f"queries ({args.negatives:,} objects in no registry, {len(NEGATIVE_TRANSFORMS)} transforms each).",
        "",
        "| transform | recall, strong or review | recall, strong only | without the embedding: "
        "strong or review | strong only | pHash <= 10 recall |",
        "|---|---|---|---|---|---|",
        *[
            f"| {name} | {np.mean([o['any_found'] for o, _ in v]):.3f} "
            f"| {np.mean([o['strong_found'] for o, _ in v]):.3f} "
            f"| {np.mean([o['plain']['any_found'] for o, _ in v]):.3f} "
            f"| {np.mean([o['plain']['strong_found'] for o, _ in v]):.3f} "
            f"| {np.mean([b for _, b in v]):.3f} |"
            for name, v in by_name.items()
        ],
        "",
        "False-positive rate per query (a candidate for an object the query does not show):",
        "",
        "| operating point | negative queries with a candidate | FPR | positive queries with a candidate "
        "for another object |",
        "|---|---|---|---|",
        f"| strong or review | {neg_any} of {n_neg} | {rate(neg_any, n_neg)} "
        f"| {pos_any} of {len(positives)} |",
        f"| strong only | {neg_strong} of {n_neg} | {rate(neg_strong, n_neg)} "
        f"| {pos_strong} of {len(positives)} |",
        f"| strong or review, without the embedding | {neg_plain} of {n_neg} | {rate(neg_plain, n_neg)} "
        f"| {pos_plain} of {len(positives)} |",
        f"| strong only, without the embedding | {neg_plain_strong} of {n_neg} "
        f"| {rate(neg_plain_strong, n_neg)} | |",
        f"| pHash <= 10 (baseline) | {neg_base} of {n_neg} | {rate(neg_base, n_neg)} "
        f"| {pos_base} of {len(positives)} |",
        "",
    ]
    twins = results["twin"]
    lines.append(
        f"House-style twins (same type, material, backdrop, pose and light; another object): "
        f"{sum(o['any_wrong'] for o in twins)} of {len(twins)} with a candidate, "
        f"{sum(o['strong_wrong'] for o in twins)} strong (without the embedding: "
        f"{sum(o['plain']['any_wrong'] for o in twins)} and "
        f"{sum(o['plain']['strong_wrong'] for o in twins)})."
    )
    mv = results["multiview"]
    if mv:
        lines.append(
            f"Multiview (different photos of one object, ../shared/images/multiview): top-1 "
            f"{sum(r[0] for r in mv)} of {len(mv)}, top-10 {sum(r[1] for r in mv)} of {len(mv)}; "
            f"without the embedding top-1 {sum(r[2] for r in mv)}, top-10 {sum(r[3] for r in mv)}."
        )
    lines += ["", *registry_twins.report_lines(results)]
    print("\n".join(lines))
    write_section("accuracy.py", "Matcher accuracy", lines)


if __name__ == "__main__":
    main()
