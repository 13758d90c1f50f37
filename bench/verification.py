"""Which local features should confirm a new photo of a registered object: lootwatch's ORB or RootSIFT?

    python bench/verification.py

A different photo of an object (another angle, light, backdrop) can reach the review tier through the
learned embedding alone; only geometric verification makes it ``strong`` (30 inliers,
``Thresholds.strong_inliers``). This measures, on the same pairs and with the same RANSAC similarity fit
and judgement (``matcher.decide.verify``: ratio 0.8, 4 px, scale 0.1-10, at most ``MAX_TILT`` degrees off a
quarter turn), how many inliers each kind of local feature finds:

- ORB as lootwatch stores it (``fingerprint``: 400 stability-ranked keypoints of the registry photo, the
  lot photo's own), matched by Hamming distance;
- RootSIFT (Arandjelovic and Zisserman, "Three things everyone should know to improve object retrieval",
  CVPR 2012: SIFT descriptors L1-normalised and square-rooted, compared by L2), OpenCV's SIFT with its
  defaults on the same decoded picture, at most 1,000 keypoints, matched by L2.

Pairs: same object, different photo (../shared/images/multiview: each other ukbench photo against the
object's first, and the Holidays scene); different objects, real photos (each multiview query against the
other objects' registry photos); different objects, same house style (the accuracy benchmark's twins:
another drawn object on the registry photo's backdrop, pose and light). Each pair is also fitted without
the tilt rule, to show what the rule costs new photos turned in the frame. Prints a table, writes it into
docs/benchmarks.md.
"""

from __future__ import annotations

import sys
import time
from datetime import date
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import accuracy  # noqa: E402
from bench.report import write_section  # noqa: E402
from matcher.decide import verify as verify_module  # noqa: E402
from matcher.photo.decode import decode  # noqa: E402
from matcher.photo.features import Features  # noqa: E402
from matcher.photo.fingerprint import fingerprint  # noqa: E402

SIFT_KEYPOINTS = 1000
STRONG = 30  # evidence.Thresholds.strong_inliers


def rootsift(data: bytes) -> tuple[np.ndarray, np.ndarray] | None:
    """(keypoint xy (n, 2) float32, RootSIFT descriptors (n, 128) float32) of the canonical decode."""
    grey = np.asarray(decode(data).convert("L"))
    points, desc = cv2.SIFT_create(nfeatures=SIFT_KEYPOINTS).detectAndCompute(grey, None)
    if desc is None or len(points) < verify_module.MIN_MATCHES:
        return None
    desc = desc / (np.abs(desc).sum(axis=1, keepdims=True) + 1e-7)
    return np.float32([p.pt for p in points]), np.sqrt(desc).astype(np.float32)


def inliers_sift(query, reference, tilt: bool) -> int:
    """Inliers of the best similarity transform between two RootSIFT sets, judged as ``verify`` does."""
    if query is None or reference is None:
        return 0
    best: dict[int, cv2.DMatch] = {}
    for pair in cv2.BFMatcher(cv2.NORM_L2).knnMatch(query[1], reference[1], k=2):
        if len(pair) == 2 and pair[0].distance < verify_module.RATIO * pair[1].distance:
            m = pair[0]
            if m.trainIdx not in best or m.distance < best[m.trainIdx].distance:
                best[m.trainIdx] = m
    if len(best) < verify_module.MIN_MATCHES:
        return 0
    src = np.float32([query[0][m.queryIdx] for m in best.values()])
    dst = np.float32([reference[0][m.trainIdx] for m in best.values()])
    return _judge(src, dst, tilt)


def inliers_orb(query: Features | None, reference: Features | None, tilt: bool) -> int:
    """``matcher.decide.verify``'s inliers, within the tilt rule or at any angle."""
    if query is None or reference is None:
        return 0
    found = verify_module.verify(query, reference, verify_module.ANY_TILT)
    return (verify_module.within(found) if tilt else found).inliers


def _judge(src: np.ndarray, dst: np.ndarray, tilt: bool) -> int:
    model, keep = cv2.estimateAffinePartial2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=verify_module.REPROJECTION_PX
    )
    if model is None:
        return 0
    scale = float(np.sqrt(abs(np.linalg.det(model[:2, :2]))))
    angle = float(np.degrees(np.arctan2(model[1, 0], model[0, 0])))
    if not 0.1 < scale < 10 or (tilt and abs((angle + 45) % 90 - 45) > verify_module.MAX_TILT):
        return 0
    return len(np.unique(np.round(src[keep.ravel().astype(bool)]), axis=0))


def pairs() -> dict[str, list[tuple[bytes, bytes]]]:
    """(query, registry photo) pairs of each kind."""
    mv = accuracy._multiview_registry()
    registry = dict(mv["registry"])
    same = [(q, registry[key]) for key, q in mv["queries"]]
    other = [(q, r) for key, q in mv["queries"] for k, r in registry.items() if k != key]
    demo = accuracy.build(accuracy.CACHE / "demo")
    photos = {p.name: p.read_bytes() for p in (demo.root / "registry" / "photos").glob("*.jpg")}
    twins = []
    for (_, twin), name in zip(accuracy._twins(), _registry_names(demo), strict=True):
        twins.append((twin, photos[name]))
    return {
        "same object, another photo (multiview)": same,
        "different objects, real photos (multiview)": other,
        "different objects, same house style (twins)": twins,
    }


def _registry_names(demo) -> list[str]:
    """The demo registry photo each of ``accuracy._twins()`` copies the backdrop, pose and light of."""
    import csv

    return [
        Path(image).name
        for row in csv.DictReader(open(demo.registry_csv, encoding="utf-8"))
        for image in row["images"].split("|")
    ]


class Signals:
    """Each photo's ORB features (as lootwatch stores them) and RootSIFT set, computed once."""

    def __init__(self) -> None:
        self.orb_cache: dict[tuple[bytes, bool], Features | None] = {}
        self.sift_cache: dict[bytes, tuple | None] = {}

    def orb(self, data: bytes, registry: bool) -> Features | None:
        if (data, registry) not in self.orb_cache:
            fp = fingerprint(data, thumbnail=False, all_transforms=registry)
            self.orb_cache[data, registry] = fp.features
        return self.orb_cache[data, registry]

    def sift(self, data: bytes):
        if data not in self.sift_cache:
            self.sift_cache[data] = rootsift(data)
        return self.sift_cache[data]

    def inliers(self, method: str, items: list[tuple[bytes, bytes]], tilt: bool) -> np.ndarray:
        if method == "ORB":
            found = [inliers_orb(self.orb(q, False), self.orb(r, True), tilt) for q, r in items]
        else:
            found = [inliers_sift(self.sift(q), self.sift(r), tilt) for q, r in items]
        return np.array(found)


def table(rows: list[tuple[str, int, dict]], seconds: float) -> list[str]:
    lines = [
        f"`python bench/verification.py` ({date.today()}, {seconds:.0f} s): inliers of one similarity "
        "transform (RANSAC, 4 px) between a query and a registry photo, by the local features that found "
        f"them; 'at {STRONG}+' counts the pairs that reach the inliers that make evidence `strong`. With "
        "the tilt rule (at most 12 degrees off a quarter turn, as lootwatch verifies) and without it.",
        "",
        "| pairs | n | features | inliers (median, max) | at 30+ | without the tilt rule: median, max "
        "| at 30+ |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, n, result in rows:
        for method in ("ORB", "RootSIFT"):
            a, b = result[method, True], result[method, False]
            lines.append(
                f"| {kind} | {n} | {method} | {int(np.median(a))}, {a.max()} | {(a >= STRONG).sum()} "
                f"| {int(np.median(b))}, {b.max()} | {(b >= STRONG).sum()} |"
            )
    for kind, _, result in rows:
        if kind.startswith("same"):
            for method in ("ORB", "RootSIFT"):
                lines.append(f"- {method}, same object, each pair: {sorted(result[method, True].tolist())}")
    return lines


def main() -> None:
    started = time.perf_counter()
    signals = Signals()
    rows = [
        (
            kind,
            len(items),
            {
                (m, tilt): signals.inliers(m, items, tilt)
                for m in ("ORB", "RootSIFT")
                for tilt in (True, False)
            },
        )
        for kind, items in pairs().items()
        if items
    ]
    lines = table(rows, time.perf_counter() - started)
    print("\n".join(lines))
    write_section("verification.py", "Verifying new photos: ORB against RootSIFT", lines)


if __name__ == "__main__":
    main()
