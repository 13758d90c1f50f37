"""Distances between lot photos and registry photo variants on a demo run, true pairs against false.

    python bench/calibrate.py [DEMO_OUT]      (default demo-output, written by `make demo`)

For every lot photo, the best PDQ/pHash distance to each registry object within PDQ 70, split by
whether the lot really reuses that object's photo, and by the kind of registry variant (as published
or rotated/mirrored). Prints the table the thresholds in matcher.match.Thresholds were read from.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

from matcher.db.connect import open_db
from matcher.decide.evidence import Hit, Thresholds, hash_tier
from matcher.search.index import hamming
from matcher.search.registry_index import RegistryIndex

BANDS = [(0, 24), (25, 31), (32, 40), (41, 52), (53, 70)]


def pairs(out: Path) -> list[dict]:
    db = open_db(out / "lootwatch.db")
    truth = json.loads((out / "demo" / "ground_truth.json").read_text())
    expected = {
        (t["site"], t["lot_id"]): t["source_id"] for t in truth["lots"] if t["kind"] == "registry_edit"
    }
    index = RegistryIndex.from_db(db)
    source_id = {r["id"]: r["source_id"] for r in db.query("SELECT id, source_id FROM registry_objects")}
    rows = db.query(
        "SELECT li.id, l.site, l.lot_id, h.variant, h.pdq, h.phash, h.quality FROM listing_images li "
        "JOIN listings l ON l.id = li.listing_id JOIN image_hashes h ON h.sha256 = li.sha256 "
        "WHERE h.variant LIKE '%/r0'"
    )
    best: dict[tuple, dict] = {}
    for r in rows:
        for pos, d in index.pdq.search(r["pdq"], radius=70):
            variant = index.variants[index.variant[pos]]
            obj, turned = int(index.object[pos]), not variant.endswith("/r0")
            key = (r["id"], obj, turned)
            ph = hamming(r["phash"], f"{int(index.phash[pos]):016x}")
            if key not in best or (d, ph) < (best[key]["pdq"], best[key]["phash"]):
                quality = min(r["quality"], int(index.quality[pos]))
                hit = Hit(obj, int(index.image[pos]), variant, int(d), ph, 0, quality)
                best[key] = {
                    "pdq": int(d),
                    "phash": ph,
                    "turned": turned,
                    "hit": hit,
                    "true": expected.get((r["site"], r["lot_id"])) == source_id[obj],
                }
    return list(best.values())


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "demo-output")
    found = pairs(out)
    table = defaultdict(lambda: [0, 0, []])
    for p in found:
        band = next(f"{lo}-{hi}" for lo, hi in BANDS if lo <= p["pdq"] <= hi)
        cell = table[("rotated/mirrored" if p["turned"] else "as published", band)]
        cell[0 if p["true"] else 1] += 1
        if not p["true"]:
            cell[2].append(p["phash"])
    print("| registry variant | PDQ distance | true pairs | false pairs | pHash of false pairs (min) |")
    print("|---|---|---|---|---|")
    for (kind, band), (t, f, ph) in sorted(
        table.items(), key=lambda kv: (kv[0][0], int(kv[0][1].split("-")[0]))
    ):
        print(f"| {kind} | {band} | {t} | {f} | {min(ph) if ph else '-'} |")
    t = Thresholds()
    kept = [p for p in found if hash_tier(p["hit"], t)]
    print(
        f"\nWith the current hash bands alone: {sum(p['true'] for p in kept)} true and "
        f"{sum(not p['true'] for p in kept)} false (photo, object) pairs kept, of "
        f"{sum(p['true'] for p in found)} true pairs within PDQ 70."
    )


if __name__ == "__main__":
    main()
