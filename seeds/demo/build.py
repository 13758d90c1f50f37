"""Generate the demo: a registry of stolen/looted objects and three auction houses' lots, with ground truth.

Deterministic in ``seed``: the same arguments give the same registry, lots and photos. Nothing is
downloaded. ``python -m seeds.demo.build OUT`` writes it without running the pipeline.
"""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from PIL import Image

from . import draw, edits, houses, texts

__all__ = ["Demo", "build", "SOURCE"]

SOURCE = "demo-registry"
HOUSES = ("demo_aurora", "demo_meridian", "demo_bazaar")
VERSION = 7  # bump when the generator changes, so built demos are redrawn
HOUSE_BACKDROP = {"demo_aurora": "white", "demo_meridian": "grey", "demo_bazaar": "black"}


@dataclass
class Demo:
    """Where the generated demo lives and how big it is."""

    root: Path
    registry_csv: Path
    market_dir: Path
    ground_truth: Path
    objects: int = 0
    lots: int = 0
    per_edit: dict[str, int] = field(default_factory=dict)


def build(
    out: Path,
    objects: int = 64,
    per_edit: int = 17,
    flag_only: int = 30,
    distractors: int = 200,
    rephoto: int = 20,
    relist: int = 10,
    seed: int = 2199,
    today: date | None = None,
    workers: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> Demo:
    """Write the demo registry, marketplace pages and ground truth under ``out``.

    A folder already built with the same arguments is reused as it is. ``progress``, when given, is
    called as ``progress("registry objects", done, total)`` and ``progress("lots", done, total)``.
    """
    progress = progress or (lambda what, done, total: None)
    today = today or date.today()
    out = Path(out)
    params = {
        "objects": objects,
        "per_edit": per_edit,
        "flag_only": flag_only,
        "distractors": distractors,
        "rephoto": rephoto,
        "relist": relist,
        "seed": seed,
        "today": today.isoformat(),
        "version": VERSION,
    }
    gt = out / "ground_truth.json"
    if gt.exists() and json.loads(gt.read_text()).get("params") == params:
        return _demo(out, json.loads(gt.read_text()))
    rng = np.random.default_rng(seed)
    with multiprocessing.get_context("spawn").Pool(workers or os.cpu_count() or 1) as pool:
        registry = []
        for obj in pool.imap(_registry_object, [(out / "registry", seed, i) for i in range(objects)]):
            registry.append(obj)
            progress("registry objects", len(registry), objects)
        _write_registry_csv(out / "registry", registry)
        specs = _lot_specs(registry, per_edit, flag_only, distractors, rephoto, rng)
        counters = dict.fromkeys(HOUSES, 100)
        jobs = []
        for n, spec in enumerate(specs):
            house = HOUSES[int(rng.integers(len(HOUSES)))]
            counters[house] += 1
            reg = registry[spec["object"]] if "object" in spec else None
            jobs.append((spec, house, str(counters[house]), reg, out / "registry", seed, n, today))
        made = []
        for lot in pool.imap(_make_lot, jobs, chunksize=4):
            made.append(lot)
            progress("lots", len(made), len(jobs) + relist)
    made += _relistings(
        [(job[1], lot, entry) for job, (lot, entry) in zip(jobs, made, strict=True)], relist, rng, counters
    )
    progress("lots", len(made), len(made))
    lots_by_house: dict[str, list[dict]] = {h: [] for h in HOUSES}
    for lot, entry in made:
        lots_by_house[entry["site"]].append(lot)
    houses.render(out / "market", lots_by_house)
    truth = {"params": params, "source": SOURCE, "lots": [entry for _, entry in made]}
    gt.write_text(json.dumps(truth, indent=1))
    return _demo(out, truth)


def _demo(out: Path, truth: dict) -> Demo:
    counts = {e: sum(1 for t in truth["lots"] if t.get("edit") == e) for e in edits.EDITS}
    return Demo(
        out,
        out / "registry" / "registry.csv",
        out / "market",
        out / "ground_truth.json",
        truth["params"]["objects"],
        len(truth["lots"]),
        counts,
    )


def _registry_object(job: tuple[Path, int, int]) -> dict:
    folder, seed, i = job
    rng = np.random.default_rng([seed, 1, i])
    kind = draw.TYPES[i % len(draw.TYPES)]
    material = draw.TYPE_MATERIALS[kind][int(rng.integers(len(draw.TYPE_MATERIALS[kind])))]
    sprite_seed = seed * 1000 + i
    obj = draw.sprite(kind, material, sprite_seed)
    source_id = f"LW-DEMO-{i + 1:04d}"
    (folder / "photos").mkdir(parents=True, exist_ok=True)
    names, backdrops = [], []
    for p in range(int(rng.integers(1, 4))):
        backdrop = list(draw.BACKDROPS)[int(rng.integers(3))]
        name = f"photos/{source_id}_{p + 1}.jpg"
        draw.photo(obj, backdrop, sprite_seed * 10 + p).save(folder / name, "JPEG", quality=92)
        names.append(name)
        backdrops.append(backdrop)
    record = texts.registry_record(kind, material, rng, i + 1)
    record.update(
        source=SOURCE,
        source_id=source_id,
        images="|".join(names),
        source_url=f"https://registry.example/objects/{source_id}",
    )
    return {
        "record": record,
        "kind": kind,
        "material": material,
        "sprite_seed": sprite_seed,
        "photos": names,
        "backdrops": backdrops,
    }


def _write_registry_csv(folder: Path, registry: list[dict]) -> None:
    cols = [
        "source",
        "source_id",
        "object_type",
        "materials",
        "period",
        "measurements",
        "inscriptions",
        "title",
        "description",
        "place_of_origin",
        "inventory_number",
        "status",
        "source_url",
        "images",
    ]
    with open(folder / "registry.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=cols)
        writer.writeheader()
        for r in registry:
            writer.writerow({c: r["record"].get(c, "") for c in cols})


def _lot_specs(
    registry: list[dict],
    per_edit: int,
    flag_only: int,
    distractors: int,
    rephoto: int,
    rng: np.random.Generator,
) -> list[dict]:
    specs = []
    for edit in edits.EDITS:
        for _ in range(per_edit):
            obj = int(rng.integers(len(registry)))
            specs.append(
                {
                    "kind": "registry_edit",
                    "edit": edit,
                    "object": obj,
                    "photo": int(rng.integers(len(registry[obj]["photos"]))),
                }
            )
    specs += [{"kind": "rephoto", "object": int(rng.integers(len(registry)))} for _ in range(rephoto)]
    specs += [{"kind": "flag_only"} for _ in range(flag_only)]
    specs += [{"kind": "distractor"} for _ in range(distractors)]
    order = rng.permutation(len(specs))
    return [specs[i] for i in order]


def _make_lot(job: tuple) -> tuple[dict, dict]:
    spec, house, lot_id, reg, registry_dir, seed, n, today = job
    rng = np.random.default_rng([seed, 2, n])
    photo_seed = seed * 7919 + n
    backdrop = HOUSE_BACKDROP[house] if rng.random() < 0.8 else list(draw.BACKDROPS)[int(rng.integers(3))]
    entry = {"site": house, "lot_id": lot_id, "kind": spec["kind"]}
    images: list[bytes] = []
    if reg is not None and spec["kind"] == "rephoto":
        # The dealer's own new photo of a registry object, described with the record's name and size: the
        # object in another pose (turned up to 20 degrees) and light, on a backdrop none of the registry's
        # photos of it has where there is one (or the house's own).
        obj = draw.sprite(reg["kind"], reg["material"], reg["sprite_seed"])
        fresh = [b for b in draw.BACKDROPS if b not in reg["backdrops"]]
        backdrop = fresh[int(rng.integers(len(fresh)))] if fresh else backdrop
        images.append(_jpeg(draw.photo(obj, backdrop, photo_seed * 10 + 7, tilt=20.0), 88))
        entry.update(
            source=SOURCE, source_id=reg["record"]["source_id"], text_copy=True, new_backdrop=bool(fresh)
        )
        flagged = bool(rng.random() < 0.3)
        text = texts.lot_text(reg["kind"], reg["material"], rng, flagged=flagged, record=reg["record"])
    elif reg is not None:
        kind, material, edit = reg["kind"], reg["material"], spec["edit"]
        # Dealers copy the published registry JPEG, so the edit starts from the file's own pixels.
        with Image.open(registry_dir / reg["photos"][spec["photo"]]) as f:
            pic = f.convert("RGB")
        if edit == "collage":
            others = [_fresh_photo(rng, backdrop, photo_seed * 10 + k)[0] for k in range(3)]
            edited = edits.collage(pic, rng, others)
        else:
            edited = edits.EDITS[edit](pic, rng)
        images.append(_jpeg(edited, edits.jpeg_quality(edit, rng)))
        if rng.random() < 0.3:  # the dealer's own new photo of the same object: no copy of a registry photo
            obj = draw.sprite(kind, material, reg["sprite_seed"])
            images.append(_jpeg(draw.photo(obj, backdrop, photo_seed * 10 + 7), 88))
        entry.update(
            edit=edit, source=SOURCE, source_id=reg["record"]["source_id"], registry_photo=spec["photo"] + 1
        )
        flagged = bool(rng.random() < 0.3)
        copy = bool(rng.random() < 0.6)  # most dealers also give the object's name and size
        entry["text_copy"] = copy
        text = texts.lot_text(kind, material, rng, flagged=flagged, record=reg["record"] if copy else None)
    else:
        pic, kind, material = _fresh_photo(rng, backdrop, photo_seed * 10)
        images.append(_jpeg(pic, int(rng.integers(80, 93))))
        for k in range(int(rng.integers(0, 2))):
            images.append(_jpeg(_fresh_photo(rng, backdrop, photo_seed * 10 + 3 + k)[0], 85))
        flagged = spec["kind"] == "flag_only"
        text = texts.lot_text(kind, material, rng, flagged=flagged)
    entry["flag_text"] = flagged
    low = float(int(rng.integers(2, 60)) * 50)
    lot = {
        "lot_id": lot_id,
        **text,
        "estimate_low": low,
        "estimate_high": low * 1.5,
        "currency": "EUR",
        "sale_date": (today + timedelta(days=int(rng.integers(2, 30)))).isoformat(),
        "seller": f"dealer{int(rng.integers(1, 40)):02d}",
        "images": images,
    }
    return lot, entry


def _relistings(
    lots: list[tuple[str, dict, dict]], count: int, rng: np.random.Generator, counters: dict[str, int]
) -> list[tuple[dict, dict]]:
    """Lots offered again at another house: the same photos, as the same file or re-saved."""
    out = []
    for i in rng.choice(len(lots), size=min(count, len(lots)), replace=False):
        house, lot, entry = lots[int(i)]
        other = [h for h in HOUSES if h != house][int(rng.integers(len(HOUSES) - 1))]
        counters[other] += 1
        resave = bool(rng.random() < 0.5)
        images = [_jpeg(Image.open(io.BytesIO(b)), 75) if resave else b for b in lot["images"]]
        again = {**lot, "lot_id": str(counters[other]), "images": images}
        again_entry = {**entry, "site": other, "lot_id": again["lot_id"], "relist_of": [house, lot["lot_id"]]}
        out.append((again, again_entry))
    return out


def _fresh_photo(rng: np.random.Generator, backdrop: str, seed: int) -> tuple[Image.Image, str, str]:
    """A photo of an object that is in no registry, drawn in the same house style."""
    kind = draw.TYPES[int(rng.integers(len(draw.TYPES)))]
    material = draw.TYPE_MATERIALS[kind][int(rng.integers(len(draw.TYPE_MATERIALS[kind])))]
    return draw.photo(draw.sprite(kind, material, 10_000_000 + seed), backdrop, seed), kind, material


def _jpeg(im: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


if __name__ == "__main__":
    demo = build(Path(sys.argv[1] if len(sys.argv) > 1 else "demo-output/demo"))
    print(f"{demo.objects} registry objects, {demo.lots} lots under {demo.root}")
