"""One photo under several registry records: every record is raised, none masks another.

Real registries repeat photos (two agencies list one object, a bulletin re-reports it with the photo
re-cropped, one photo shows two objects). The registry here is drawn in the demo's house style; record
"X" holds the same bytes as object 0's photo, record "Y" a re-cropped, re-encoded copy of it.
"""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from bench import transforms
from matcher.decide.evidence import Thresholds, tier
from matcher.photo.fingerprint import fingerprint
from matcher.search.descindex import DescriptorIndex
from matcher.search.registry_index import RegistryIndex, rank_photo
from matcher.search.twins import Twins
from seeds.demo import draw

from .conftest import run_cli

T = Thresholds()
OBJECTS = 8


def jpeg(im: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def recrop(data: bytes, left: float, top: float, quality: int = 80) -> bytes:
    im = Image.open(io.BytesIO(data)).convert("RGB")
    w, h = im.size
    return jpeg(im.crop((int(w * left), int(h * top), int(w * (1 - top)), int(h * (1 - left)))), quality)


@pytest.fixture(scope="module")
def photos() -> dict[str, bytes]:
    """Object 0..7's photos (one type in two, the house style's hardest case) and two copies of photo 0."""
    out = {}
    for n in range(OBJECTS):
        kind = draw.TYPES[n % 3]
        material = draw.TYPE_MATERIALS[kind][0]
        out[str(n)] = jpeg(draw.photo(draw.sprite(kind, material, 500 + n), "white", 900 + n))
    out["X"] = out["0"]
    out["Y"] = recrop(out["0"], 0.05, 0.07)
    return out


@pytest.fixture(scope="module")
def signatures(photos) -> dict[str, object]:
    seen: dict[bytes, object] = {}
    return {k: seen.setdefault(v, fingerprint(v, all_transforms=True)) for k, v in photos.items()}


def build(signatures, records: list[tuple[str, str]]) -> tuple[RegistryIndex, dict[int, str]]:
    """An index of ``(record, photo key)`` rows; returns it and record names by object id."""
    rows, features, mirrors, names = [], {}, {}, {}
    for image_id, (record, key) in enumerate(records):
        fp = signatures[key]
        object_id = next((o for o, n in names.items() if n == record), len(names))
        names[object_id] = record
        for variant, h in fp.hashes.items():
            rows.append(
                {
                    **h,
                    "variant": variant,
                    "registry_image_id": image_id,
                    "object_id": object_id,
                    "sha256": fp.sha256,
                }
            )
        features[image_id], mirrors[image_id] = fp.features, fp.mirror_features
    return RegistryIndex.from_rows(rows, features, mirrors), names


def raised(index, names, query: bytes) -> dict[str, object]:
    fp = fingerprint(query)
    return {names[h.object_id]: h for h in rank_photo(index, fp.hashes, fp.features, T) if tier(h, T)}


def edits(data: bytes) -> dict[str, bytes]:
    im = Image.open(io.BytesIO(data)).convert("RGB")
    w, h = im.size
    rng = np.random.default_rng(3)
    return {
        "turned 3 degrees": jpeg(im.rotate(3, expand=True, fillcolor="white")),
        "cropped to 80 %": jpeg(im.crop((w // 10, h // 10, w - w // 10, h - h // 10))),
        "padded 25 %": jpeg(transforms.pad(0.25, (255, 255, 255))(im, rng)),
        "in a screenshot": jpeg(transforms.screenshot(im, rng)),
    }


PLAIN = [(str(n), str(n)) for n in range(OBJECTS)]


@pytest.mark.parametrize("edit", ["turned 3 degrees", "cropped to 80 %", "padded 25 %", "in a screenshot"])
def test_a_photo_held_by_three_records_raises_all_three(signatures, photos, edit):
    index, names = build(signatures, [*PLAIN, ("X", "X"), ("Y", "Y")])
    found = raised(index, names, edits(photos["0"])[edit])
    assert {"0", "X", "Y"} <= set(found), edit
    by_id = {n: o for o, n in names.items()}
    assert set(found["0"].shared) == {by_id["X"], by_id["Y"]}
    assert set(found["X"].shared) == {by_id["0"], by_id["Y"]}


def test_the_same_bytes_are_indexed_once(signatures):
    plain, _ = build(signatures, PLAIN)
    doubled, _ = build(signatures, [*PLAIN, ("X", "X")])
    assert len(doubled) == len(plain)
    assert len(doubled.descriptors) == len(plain.descriptors)


def test_twins_are_copies_not_house_style_neighbours(signatures):
    twins = Twins({k: signatures[k].features for k in ("0", "Y", "3", "6")})
    assert twins.same("0", "Y")  # the re-crop
    assert not twins.same("0", "3")  # another object of the same type, backdrop and light
    assert not twins.same("0", "6")


def test_ratio_test_skips_a_copy_of_the_first_neighbour(signatures, photos):
    """Without the twin rule the copy of photo 0 takes away part of its votes (Lowe's ratio test): a
    descriptor whose two nearest are the two copies fails the test. With it, both copies get them all."""
    ids = {"0": 0, "Y": 1, "3": 2, "5": 3}
    index = DescriptorIndex((i, signatures[k].features) for k, i in ids.items())
    query = fingerprint(edits(photos["0"])["cropped to 80 %"]).features
    plain = dict(index.votes(query))
    twins = Twins({i: signatures[k].features for k, i in ids.items()})
    fixed = dict(index.votes(query, same=twins.same))
    assert fixed[0] == fixed[1] > max(plain.get(0, 0), plain.get(1, 0))


QUERIES = ["0", "2", "5"]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["0", "2", "5"]), st.booleans()), min_size=1, max_size=3))
def test_adding_twins_never_removes_a_candidate(signatures, photos, twins):
    """Adding exact or re-cropped copies of registry photos under new records keeps every candidate."""
    records = list(PLAIN)
    for n, (key, exact) in enumerate(twins):
        copy = f"copy-{n}-{key}"
        if not exact and copy not in signatures:
            signatures[copy] = fingerprint(recrop(photos[key], 0.04 + 0.01 * n, 0.06), all_transforms=True)
        records.append((copy, key if exact else copy))
    before_index, before_names = build(signatures, PLAIN)
    after_index, after_names = build(signatures, records)
    for key in QUERIES:
        query = edits(photos[key])["padded 25 %"]
        before = {n: tier(h, T) for n, h in raised(before_index, before_names, query).items()}
        after = {n: tier(h, T) for n, h in raised(after_index, after_names, query).items()}
        assert set(before) <= set(after), (key, before, after)


def test_the_case_through_the_command_line(small_demo, tmp_path):
    """The case of ../shared/cases/README.md on the small demo: a second registry's record X-1 holds a
    copy of LW-DEMO-0012_1.jpg; ``check`` on the photo turned, cropped, padded or in a screenshot raises
    both records and says they share the photo."""
    shutil.copy(small_demo["db"], tmp_path / "lootwatch.db")
    (tmp_path / "photos").mkdir()
    original = small_demo["out"] / "demo" / "registry" / "photos" / "LW-DEMO-0012_1.jpg"
    shutil.copy(original, tmp_path / "photos" / "LW-DEMO-0012_1.jpg")
    (tmp_path / "second.csv").write_text(
        "source,source_id,title,status,images\n"
        "second-registry,X-1,Basalt panel,stolen,photos/LW-DEMO-0012_1.jpg\n"
    )
    db = str(tmp_path / "lootwatch.db")
    run_cli("--db", db, "registry", "import", str(tmp_path / "second.csv"), cwd=tmp_path)
    queries = []
    for name, data in edits(original.read_bytes()).items():
        queries.append(tmp_path / f"{name.replace(' ', '-')}.jpg")
        queries[-1].write_bytes(data)
    lines = run_cli("--db", db, "check", "--json", *map(str, queries), cwd=tmp_path).stdout.splitlines()
    assert len(lines) == len(queries)
    for line in lines:
        result = json.loads(line)
        ids = {c["source_id"]: c for c in result["candidates"]}
        assert {"LW-DEMO-0012", "X-1"} <= set(ids), result["image"]
        assert ids["X-1"]["same_photo_as"] == [f"{ids['LW-DEMO-0012']['source']}:LW-DEMO-0012"]
        assert "second-registry:X-1" in ids["LW-DEMO-0012"]["same_photo_as"]


def test_nine_near_copies_under_nine_records_are_all_raised(signatures, photos):
    """Past the 5 photos each shortlist takes: every copy of a chosen photo goes on with it."""
    im = Image.open(io.BytesIO(photos["0"])).convert("RGB")
    records = list(PLAIN)
    for quality in range(60, 100, 5):
        key = f"q{quality}"
        if key not in signatures:
            signatures[key] = fingerprint(jpeg(im, quality), all_transforms=True)
        records.append((key, key))
    index, names = build(signatures, records)
    found = raised(index, names, edits(photos["0"])["padded 25 %"])
    assert {"0", *(f"q{q}" for q in range(60, 100, 5))} <= set(found)
