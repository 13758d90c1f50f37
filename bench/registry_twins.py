"""The accuracy benchmark's registry with twins: a share of its photos also held by another record.

Real registries hold one photo under several records (two agencies list one object, a bulletin re-reports
last year's object with its photo re-cropped, one photo shows two objects). One registry photo in
``SHARE`` gets a second record: every other one holds the same bytes, the rest a re-cropped, re-encoded
copy. The positive and negative queries run against the registry with and without these records; the
matcher is right on twins when recall per edit and the false-candidate rate are the same in both, and
when a query of a twinned photo also raises the copy's record.
"""

from __future__ import annotations

import io
from collections import defaultdict

import numpy as np
from PIL import Image

__all__ = ["SHARE", "COPY", "twin_records", "report_lines"]

SHARE = 4
COPY = "copy:"  # the key of the second record holding a registry photo


def twin_records(photos: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """``(COPY + object key, photo bytes)`` for one photo in ``SHARE``: alternately the same bytes and a
    copy cut by 3-8 % on each side and re-encoded at JPEG quality 80 (a bulletin's re-crop)."""
    out = []
    for n, (key, data) in enumerate(photos[::SHARE]):
        out.append((COPY + key, data if n % 2 == 0 else recrop(data, n)))
    return out


def recrop(data: bytes, seed: int) -> bytes:
    """A re-cropped, re-encoded copy of a photo."""
    rng = np.random.default_rng([17, seed])
    im = Image.open(io.BytesIO(data)).convert("RGB")
    w, h = im.size
    left, top, right, bottom = rng.uniform(0.03, 0.08, 4)
    box = (int(w * left), int(h * top), int(w * (1 - right)), int(h * (1 - bottom)))
    buf = io.BytesIO()
    im.crop(box).save(buf, "JPEG", quality=80)
    return buf.getvalue()


def report_lines(results: dict) -> list[str]:
    """The table comparing the registry without and with twins, per transform."""
    plain: dict[str, list] = defaultdict(list)
    for name, outcome, *_ in results["positive"]:
        plain[name].append(outcome)
    twinned: dict[str, list] = defaultdict(list)
    for name, outcome, copied, both in results["positive_twins"]:
        twinned[name].append((outcome, copied, both))
    neg = results["negative"]
    neg_twins = results["negative_twins"]

    def share(values) -> str:
        values = list(values)
        return f"{np.mean(values):.3f}" if values else "-"

    lines = [
        f"Registry with twins: one registry photo in {SHARE} also held by a second record (half the same "
        "bytes, half re-cropped by 3-8 % a side and re-encoded). Recall finds the photo's own record; "
        "'both records' is the share of twinned photos whose query raised the original and the copy.",
        "",
        "| transform | recall without twins | recall with twins | strong without | strong with "
        "| both records raised |",
        "|---|---|---|---|---|---|",
    ]
    for name, v in plain.items():
        w = twinned.get(name, [])
        lines.append(
            f"| {name} | {share(o['any_found'] for o in v)} | {share(o['any_found'] for o, _, _ in w)} "
            f"| {share(o['strong_found'] for o in v)} | {share(o['strong_found'] for o, _, _ in w)} "
            f"| {share(b for _, c, b in w if c)} |"
        )
    lines += [
        "",
        f"Negative queries with a candidate: {sum(o['any_wrong'] for _, o, _ in neg)} of {len(neg)} without "
        f"twins, {sum(o['any_wrong'] for _, o in neg_twins)} of {len(neg_twins)} with twins (strong: "
        f"{sum(o['strong_wrong'] for _, o, _ in neg)} and {sum(o['strong_wrong'] for _, o in neg_twins)}).",
        "",
    ]
    return lines
