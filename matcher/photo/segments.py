"""Split a picture into the pictures it is made of: the tiles of a collage, the photo on a screenshot of a
listing page, the objects of a group lot shot on one backdrop.

A recursive XY-cut (Nagy & Seth, 1984): the picture is cut along runs of blank lines, rows or columns of
one colour, such as the gutters between collage tiles or the margin between a page's photo and its text,
and each part is cut again. Every part large enough to be a photo is returned, so a registry photo pasted
into a page is hashed on its own, as it was published, and not as a quarter of someone else's picture; a
photo padded onto a blank page is one part, an object alone on a plain backdrop none.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

__all__ = ["segment_boxes"]

SIDE = 176  # parts are found on a copy about this size, then cut from the full decode
NOISE = 4.0  # standard deviation of a blank line's pixels in any channel (JPEG noise)
MIN_GAP = 2  # blank lines (on the small copy) that separate two parts
MIN_AREA = 0.04  # of the picture: smaller parts are text lines, buttons, icons
MIN_SIDE = 48  # pixels of the decoded picture
MAX_ASPECT = 4.0  # longer and thinner parts are text lines and rules
MAX_DEPTH = 4
MAX_SEGMENTS = 6
PASTED_EDGE = 0.8  # share of each edge line of a pasted photo that stands out from the page

Box = tuple[int, int, int, int]  # left, top, right, bottom


def segment_boxes(im: Image.Image) -> list[Box]:
    """Boxes, in the coordinates of ``im``, of its parts that could be photos on their own, tiles first
    (none for a plain photo)."""
    factor = max(1, -(-max(im.size) // SIDE))
    small = np.asarray(im.reduce(factor) if factor > 1 else im.convert("RGB"), dtype=np.float32)
    h, w = small.shape[:2]
    found: list[tuple[bool, Box]] = []
    _cut(small, (0, 0, w, h), 0, found)
    # The picture's content without its margin counts as a part only when it is not cut any further and
    # is a pasted photo, a rectangle whose edges stand out from the page all along: a photo padded or
    # framed on a page then gets features of its own at the size of a photo. An object on a plain
    # backdrop touches its box in a few places only; its trimmed view already serves it.
    if len(found) > 1:
        found = found[1:]
    elif found and not _pasted(small, found[0][1]):
        found = []
    if not found:
        return []
    full = np.asarray(im.convert("RGB"), dtype=np.float32)
    boxes: list[Box] = []
    # Tiles first, then the larger parts that hold several of them, each by size.
    for _, (left, top, right, bottom) in sorted(found, key=lambda f: (not f[0], -_area(f[1]))):
        box = _refine(full, (left * factor, top * factor, right * factor, bottom * factor), factor)
        bw, bh = box[2] - box[0], box[3] - box[1]
        if (
            bw * bh >= MIN_AREA * im.width * im.height
            and min(bw, bh) >= MIN_SIDE
            and max(bw, bh) <= MAX_ASPECT * min(bw, bh)
            and _iou(box, (0, 0, im.width, im.height)) < 0.8
            and all(_iou(box, b) < 0.8 for b in boxes)
        ):
            boxes.append(box)
    return boxes[:MAX_SEGMENTS]


def _cut(arr: np.ndarray, box: Box, depth: int, found: list[tuple[bool, Box]]) -> None:
    """Trim ``box`` to its content, cut it along its widest run of blank lines, and record it, marking
    the parts that were not cut again (the tiles themselves)."""
    left, top, right, bottom = box
    region = arr[top:bottom, left:right]
    rows, cols = _blank(region, 1), _blank(region, 0)
    if rows.all() or cols.all():
        return
    t, b = _first(~rows), len(rows) - _first(~rows[::-1])
    l_, r = _first(~cols), len(cols) - _first(~cols[::-1])
    box = (left + l_, top + t, left + r, top + b)
    region = arr[box[1] : box[3], box[0] : box[2]]
    gaps = [(length, 0, start) for start, length in _runs(_blank(region, 1))]
    gaps += [(length, 1, start) for start, length in _runs(_blank(region, 0))]
    found.append((not gaps or depth == MAX_DEPTH, box))
    if not gaps or depth == MAX_DEPTH:
        return
    _, axis, _ = max(gaps)
    cuts = sorted(start + length // 2 for length, a, start in gaps if a == axis)
    edges = [0, *cuts, (box[3] - box[1]) if axis == 0 else (box[2] - box[0])]
    for lo, hi in zip(edges, edges[1:], strict=False):
        if axis == 0:
            part = (box[0], box[1] + lo, box[2], box[1] + hi)
        else:
            part = (box[0] + lo, box[1], box[0] + hi, box[3])
        _cut(arr, part, depth + 1, found)


def _pasted(arr: np.ndarray, box: Box) -> bool:
    """Whether the content in ``box`` is a rectangle: each of its edge lines, one line in (the reduced
    copy blurs the boundary), differs from the margin's colour by more than NOISE almost all along."""
    left, top, right, bottom = box
    h, w = arr.shape[:2]
    if right - left < 8 or bottom - top < 8:
        return False
    outside = np.ones((h, w), bool)
    outside[top:bottom, left:right] = False
    if not outside.any():
        return False
    page = np.median(arr[outside], axis=0)
    edges = [
        arr[top + 1, left + 1 : right - 1],
        arr[bottom - 2, left + 1 : right - 1],
        arr[top + 1 : bottom - 1, left + 1],
        arr[top + 1 : bottom - 1, right - 2],
    ]
    return all((np.abs(e - page).max(axis=1) > NOISE).mean() >= PASTED_EDGE for e in edges)


def _refine(full: np.ndarray, box: Box, margin: int) -> Box:
    """A box found on the small copy, trimmed to its content on the full picture (a PDQ of a tile cut a
    few pixels too wide is a dozen bits off)."""
    h, w = full.shape[:2]
    left, top = max(0, box[0] - margin), max(0, box[1] - margin)
    right, bottom = min(w, box[2] + margin), min(h, box[3] + margin)
    region = full[top:bottom, left:right]
    rows, cols = ~_blank(region, 1), ~_blank(region, 0)
    if not rows.any() or not cols.any():
        return box
    return (
        left + _first(cols),
        top + _first(rows),
        right - _first(cols[::-1]),
        bottom - _first(rows[::-1]),
    )


def _blank(region: np.ndarray, axis: int) -> np.ndarray:
    """Which rows (axis 1) or columns (axis 0) are of one colour: every channel varies less than NOISE."""
    if axis == 1:  # numpy reduces over the first axis of a contiguous array 5x faster than a middle one
        region = np.ascontiguousarray(region.swapaxes(0, 1))
    return region.std(axis=0).max(axis=1) <= NOISE


def _runs(blank: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of the interior runs of at least MIN_GAP blank lines."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], blank.astype(np.int8), [0]])))
    starts, ends = edges[::2], edges[1::2]
    return [
        (int(s), int(e - s))
        for s, e in zip(starts, ends, strict=True)
        if e - s >= MIN_GAP and s > 0 and e < len(blank)
    ]


def _first(mask: np.ndarray) -> int:
    return int(np.argmax(mask))


def _area(b: Box) -> int:
    return (b[2] - b[0]) * (b[3] - b[1])


def _iou(a: Box, b: Box) -> float:
    w = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = _area(a) + _area(b) - inter
    return inter / union if union else 0.0
