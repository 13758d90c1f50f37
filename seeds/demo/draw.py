"""Seeded drawings of antiquities for the demo: one object is a sprite, a photo is that sprite posed on a
studio backdrop (white, grey or black) with its own lighting, scale, tilt and noise.

Everything is drawn from a ``numpy.random.Generator`` so the same seed gives the same pixels. Objects of one
type share a house style (material palette, backdrop, lighting), which is what makes unrelated lots hash
close together in real auction photos; each object still gets its own proportions, ornament and texture.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

TYPES = ("vessel", "coin", "tablet", "figurine", "relief", "seal", "lamp")
SPRITE = 512
PHOTO = (720, 576)
MATERIALS = {
    "terracotta": (184, 108, 70),
    "bronze": (96, 112, 84),
    "gold": (204, 168, 76),
    "alabaster": (226, 214, 192),
    "clay": (156, 124, 92),
    "basalt": (74, 74, 78),
    "silver": (172, 172, 178),
    "faience": (74, 150, 148),
    "limestone": (200, 190, 168),
}
TYPE_MATERIALS = {
    "vessel": ("terracotta", "clay", "faience", "alabaster"),
    "coin": ("bronze", "gold", "silver"),
    "tablet": ("clay", "terracotta"),
    "figurine": ("terracotta", "clay", "alabaster", "bronze"),
    "relief": ("limestone", "basalt", "alabaster"),
    "seal": ("basalt", "limestone", "faience"),
    "lamp": ("terracotta", "clay", "bronze"),
}
BACKDROPS = {"white": (246, 246, 244), "grey": (150, 152, 155), "black": (22, 22, 24)}

__all__ = ["TYPES", "MATERIALS", "TYPE_MATERIALS", "BACKDROPS", "sprite", "photo"]


def sprite(kind: str, material: str, seed: int) -> Image.Image:
    """The object itself, drawn on a transparent square, deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    mask = Image.new("L", (SPRITE, SPRITE), 0)
    carve = Image.new("L", (SPRITE, SPRITE), 0)
    DRAWERS[kind](rng, ImageDraw.Draw(mask), ImageDraw.Draw(carve))
    return _colour(rng, mask, carve, MATERIALS[material], round_body=kind in ("coin", "lamp", "vessel"))


def photo(obj: Image.Image, backdrop: str, seed: int, tilt: float = 12.0) -> Image.Image:
    """One studio photograph of a sprite: backdrop, shadow, pose and light all drawn from ``seed``; the
    object is turned by up to ``tilt`` degrees either way."""
    rng = np.random.default_rng(seed)
    w, h = PHOTO
    base = np.array(BACKDROPS[backdrop], dtype=np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    grad = ((xx / w - 0.5) * math.cos(angle) + (yy / h - 0.5) * math.sin(angle)) * rng.uniform(8, 30)
    bg = np.clip(base + grad[..., None] + rng.normal(0, 1.5, (h, w, 1)), 0, 255)
    canvas = Image.fromarray(bg.astype(np.uint8), "RGB")
    scale = rng.uniform(0.72, 0.98) * min(w, h) / SPRITE
    posed = obj.resize((int(SPRITE * scale), int(SPRITE * scale)), Image.Resampling.LANCZOS)
    posed = posed.rotate(rng.uniform(-tilt, tilt), Image.Resampling.BILINEAR, expand=True)
    posed = _light(posed, rng)
    x = int((w - posed.width) / 2 + rng.uniform(-0.08, 0.08) * w)
    y = int((h - posed.height) / 2 + rng.uniform(-0.06, 0.06) * h)
    shadow = Image.new("L", posed.size, 0)
    shadow.paste(posed.getchannel("A").point(lambda a: int(a * 0.45)), (0, 0))
    shadow = shadow.filter(ImageFilter.GaussianBlur(rng.uniform(6, 16)))
    dark = Image.new("RGB", posed.size, (0, 0, 0))
    off = (int(rng.uniform(-18, 18)), int(rng.uniform(6, 22)))
    canvas.paste(dark, (x + off[0], y + off[1]), shadow)
    canvas.paste(posed, (x, y), posed)
    return canvas


def _colour(
    rng: np.random.Generator,
    mask: Image.Image,
    carve: Image.Image,
    rgb: tuple[int, int, int],
    round_body: bool,
) -> Image.Image:
    m = np.asarray(mask.filter(ImageFilter.GaussianBlur(1.2)), dtype=np.float32) / 255
    tint = np.array(rgb, dtype=np.float32) * rng.uniform(0.9, 1.1) * rng.uniform(0.96, 1.04, 3)
    tex = _noise(rng, 6) * 0.6 + _noise(rng, 24) * 0.3 + _noise(rng, 96) * 0.1
    shade = 0.72 + 0.5 * (tex - 0.5)
    if round_body:
        ys, xs = np.nonzero(m > 0.5)
        cx, half = (xs.min() + xs.max()) / 2, max(1.0, (xs.max() - xs.min()) / 2)
        x = (np.arange(SPRITE, dtype=np.float32) - cx) / half
        shade = shade * (0.62 + 0.45 * np.sqrt(np.clip(1 - x**2, 0, 1)))[None, :]
    relief = np.asarray(carve.filter(ImageFilter.GaussianBlur(1.5)), dtype=np.float32) / 255
    gy, gx = np.gradient(relief)
    shade = shade * (1 - 0.35 * relief) + 2.2 * (gx + gy)
    rgb_arr = np.clip(tint[None, None, :] * shade[..., None], 0, 255)
    rgba = np.dstack([rgb_arr, m * 255]).astype(np.uint8)
    return Image.fromarray(rgba, "RGBA")


def _light(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    arr = np.asarray(im, dtype=np.float32)
    h, w = arr.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a = rng.uniform(0, 2 * math.pi)
    gain = 1 + rng.uniform(0.1, 0.3) * ((xx / w - 0.5) * math.cos(a) + (yy / h - 0.5) * math.sin(a))
    arr[..., :3] = np.clip(arr[..., :3] * gain[..., None] * rng.uniform(0.9, 1.1), 0, 255)
    return Image.fromarray(arr.astype(np.uint8), "RGBA")


def _noise(rng: np.random.Generator, cells: int) -> np.ndarray:
    small = Image.fromarray((rng.random((cells, cells)) * 255).astype(np.uint8), "L")
    return np.asarray(small.resize((SPRITE, SPRITE), Image.Resampling.BICUBIC), dtype=np.float32) / 255


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _vessel(rng, mask, carve) -> None:
    c, top, bottom = SPRITE / 2, _u(rng, 30, 90), _u(rng, 440, 490)
    ys = np.linspace(top, bottom, 60)
    knots = [_u(rng, 40, 90), _u(rng, 25, 60), _u(rng, 90, 200), _u(rng, 110, 215), _u(rng, 40, 110)]
    at = np.linspace(0, 1, len(knots))
    t = (ys - top) / (bottom - top)
    r = np.interp(t, at, knots)
    r = np.convolve(np.pad(r, 4, mode="edge"), np.ones(9) / 9, mode="valid")
    pts = [(c + ri, y) for ri, y in zip(r, ys, strict=True)] + [
        (c - ri, y) for ri, y in zip(r[::-1], ys[::-1], strict=True)
    ]
    mask.polygon(pts, fill=255)
    if rng.random() < 0.6:
        yh = top + (bottom - top) * _u(rng, 0.1, 0.3)
        for side in (-1, 1):
            x0 = c + side * knots[1]
            mask.arc(
                [min(x0, x0 + side * 70), yh, max(x0, x0 + side * 70), yh + _u(rng, 60, 140)],
                -90 if side > 0 else 90,
                90 if side > 0 else 270,
                fill=255,
                width=14,
            )
    for _ in range(int(rng.integers(1, 4))):
        y = top + (bottom - top) * _u(rng, 0.3, 0.8)
        width = int(np.interp((y - top) / (bottom - top), at, knots))
        _band(rng, carve, c - width, c + width, y, _u(rng, 14, 36))


def _band(rng, carve, x0: float, x1: float, y: float, height: float) -> None:
    carve.line([(x0, y), (x1, y)], fill=255, width=3)
    carve.line([(x0, y + height), (x1, y + height)], fill=255, width=3)
    step = _u(rng, 10, 28)
    style = int(rng.integers(0, 3))
    x = x0
    while x < x1 - step:
        if style == 0:
            carve.line([(x, y + height), (x + step / 2, y), (x + step, y + height)], fill=255, width=3)
        elif style == 1:
            carve.ellipse([x + 2, y + height / 2 - 4, x + 10, y + height / 2 + 4], fill=255)
        else:
            carve.rectangle([x + 2, y + 4, x + step - 4, y + height - 4], outline=255, width=2)
        x += step


def _coin(rng, mask, carve) -> None:
    c, r = SPRITE / 2, _u(rng, 190, 240)
    ang = np.linspace(0, 2 * math.pi, 90, endpoint=False)
    rad = r * (1 + 0.02 * rng.standard_normal(90).cumsum() / 6)
    mask.polygon(
        [(c + ri * math.cos(a), c + ri * math.sin(a)) for ri, a in zip(rad, ang, strict=True)], fill=255
    )
    carve.ellipse([c - r + 18, c - r + 18, c + r - 18, c + r - 18], outline=255, width=5)
    hx, hy, hr = c + _u(rng, -30, 30), c + _u(rng, -20, 20), _u(rng, 60, 110)
    carve.ellipse([hx - hr * 0.8, hy - hr, hx + hr * 0.8, hy + hr], fill=255)
    carve.polygon(
        [
            (hx - hr * 0.8, hy),
            (hx - hr * _u(rng, 1.0, 1.3), hy + _u(rng, 5, 30)),
            (hx - hr * 0.7, hy + hr * 0.3),
        ],
        fill=255,
    )
    carve.rectangle([hx - hr * 0.4, hy + hr * 0.8, hx + hr * 0.4, hy + hr * 1.5], fill=255)
    for a in np.linspace(0, 2 * math.pi, int(rng.integers(8, 20)), endpoint=False) + _u(rng, 0, 1):
        x, y = c + (r - 45) * math.cos(a), c + (r - 45) * math.sin(a)
        d = _u(rng, 6, 14)
        carve.line([(x - d, y - d), (x + d * rng.choice([-1, 1]), y + d)], fill=255, width=4)


def _tablet(rng, mask, carve) -> None:
    w, h = _u(rng, 280, 440), _u(rng, 220, 440)
    x0, y0 = (SPRITE - w) / 2, (SPRITE - h) / 2
    mask.rounded_rectangle([x0, y0, x0 + w, y0 + h], radius=_u(rng, 20, 60), fill=255)
    rows = int(rng.integers(5, 12))
    row_h = (h - 40) / rows
    for i in range(rows):
        y = y0 + 20 + i * row_h
        carve.line([(x0 + 15, y + row_h), (x0 + w - 15, y + row_h)], fill=160, width=2)
        x = x0 + 20 + _u(rng, 0, 15)
        while x < x0 + w - 30:
            s = _u(rng, 6, row_h * 0.45)
            if rng.random() < 0.7:
                carve.polygon([(x, y + 4), (x + s, y + 4), (x + s / 2, y + 4 + s)], fill=255)
                carve.line([(x + s / 2, y + 4 + s), (x + s / 2, y + row_h - 4)], fill=255, width=2)
            else:
                carve.polygon(
                    [(x, y + row_h / 2), (x + s, y + row_h / 2 - s / 2), (x + s, y + row_h / 2 + s / 2)],
                    fill=255,
                )
            x += s + _u(rng, 4, 16)


def _figurine(rng, mask, carve) -> None:
    c = SPRITE / 2
    head, neck = _u(rng, 30, 55), _u(rng, 90, 130)
    mask.ellipse([c - head, neck - 2 * head, c + head, neck], fill=255)
    sh, hip, waist = _u(rng, 60, 120), _u(rng, 80, 170), _u(rng, 40, 80)
    bottom = _u(rng, 420, 495)
    mid = (neck + bottom) / 2 + _u(rng, -30, 30)
    mask.polygon(
        [
            (c - sh, neck + 10),
            (c + sh, neck + 10),
            (c + waist, mid - 30),
            (c + hip, mid + 30),
            (c + hip * 0.6, bottom),
            (c - hip * 0.6, bottom),
            (c - hip, mid + 30),
            (c - waist, mid - 30),
        ],
        fill=255,
    )
    for side in (-1, 1):
        ang = _u(rng, 0.3, 1.3)
        mask.line(
            [
                (c + side * sh, neck + 20),
                (c + side * (sh + 90 * math.sin(ang)), neck + 20 + 90 * math.cos(ang)),
            ],
            fill=255,
            width=int(_u(rng, 18, 32)),
        )
    carve.ellipse([c - 18, neck - head * 1.2, c - 8, neck - head * 1.2 + 8], fill=255)
    carve.ellipse([c + 8, neck - head * 1.2, c + 18, neck - head * 1.2 + 8], fill=255)
    for _ in range(int(rng.integers(2, 7))):
        y = _u(rng, neck + 30, bottom - 30)
        carve.line([(c - _u(rng, 20, 60), y), (c + _u(rng, 20, 60), y + _u(rng, -20, 20))], fill=255, width=4)


def _relief(rng, mask, carve) -> None:
    w, h = _u(rng, 360, 490), _u(rng, 260, 460)
    x0, y0 = (SPRITE - w) / 2, (SPRITE - h) / 2
    pts = [
        (x0 + _u(rng, -8, 8), y0 + _u(rng, -8, 8)),
        (x0 + w + _u(rng, -8, 8), y0 + _u(rng, -8, 8)),
        (x0 + w + _u(rng, -15, 8), y0 + h + _u(rng, -15, 8)),
        (x0 + _u(rng, -8, 15), y0 + h + _u(rng, -8, 8)),
    ]
    mask.polygon(pts, fill=255)
    carve.rectangle([x0 + 14, y0 + 14, x0 + w - 14, y0 + h - 14], outline=200, width=4)
    n = int(rng.integers(1, 4))
    for i in range(n):
        fx = x0 + w * (i + 0.5) / n + _u(rng, -15, 15)
        fh = h * _u(rng, 0.55, 0.8)
        base = y0 + h - 25
        carve.ellipse([fx - 18, base - fh, fx + 18, base - fh + 36], fill=255)
        carve.polygon(
            [
                (fx - 30, base - fh + 40),
                (fx + 30, base - fh + 40),
                (fx + _u(rng, 20, 45), base),
                (fx - _u(rng, 20, 45), base),
            ],
            fill=255,
        )
        carve.line(
            [(fx, base - fh + 60), (fx + _u(rng, -70, 70), base - fh + _u(rng, 60, 140))], fill=255, width=10
        )


def _seal(rng, mask, carve) -> None:
    w, h = _u(rng, 150, 230), _u(rng, 300, 460)
    x0, y0 = (SPRITE - w) / 2 - _u(rng, 0, 100), (SPRITE - h) / 2
    mask.rectangle([x0, y0 + 20, x0 + w, y0 + h - 20], fill=255)
    mask.ellipse([x0, y0, x0 + w, y0 + 40], fill=255)
    mask.ellipse([x0, y0 + h - 40, x0 + w, y0 + h], fill=255)
    for _ in range(int(rng.integers(6, 16))):
        a, b = (
            (x0 + _u(rng, 10, w - 10), y0 + _u(rng, 40, h - 40)),
            (x0 + _u(rng, 10, w - 10), y0 + _u(rng, 40, h - 40)),
        )
        carve.line([a, b], fill=255, width=int(rng.integers(3, 7)))
    if rng.random() < 0.5:  # a modern impression rolled out beside the seal
        ix = x0 + w + 30
        mask.rectangle([ix, y0 + 40, min(SPRITE - 10, ix + 200), y0 + 40 + w], fill=255)
        for _ in range(int(rng.integers(4, 10))):
            carve.line(
                [
                    (ix + _u(rng, 10, 180), y0 + _u(rng, 50, 30 + w)),
                    (ix + _u(rng, 10, 180), y0 + _u(rng, 50, 30 + w)),
                ],
                fill=200,
                width=5,
            )


def _lamp(rng, mask, carve) -> None:
    c, r = SPRITE / 2 - _u(rng, 0, 40), _u(rng, 110, 170)
    mask.ellipse([c - r, c - r, c + r, c + r], fill=255)
    nl, nw = _u(rng, 90, 160), _u(rng, 35, 60)
    mask.polygon(
        [
            (c + r * 0.6, c - nw),
            (c + r + nl, c - nw * 0.6),
            (c + r + nl + 20, c),
            (c + r + nl, c + nw * 0.6),
            (c + r * 0.6, c + nw),
        ],
        fill=255,
    )
    if rng.random() < 0.7:
        mask.ellipse([c - r - 60, c - 25, c - r + 20, c + 25], fill=255)
    carve.ellipse([c - r * 0.55, c - r * 0.55, c + r * 0.55, c + r * 0.55], outline=255, width=5)
    carve.ellipse([c + r + nl - 12, c - 12, c + r + nl + 12, c + 12], fill=255)
    petals = int(rng.integers(5, 14))
    for k in range(petals):
        a = 2 * math.pi * k / petals + _u(rng, 0, 0.3)
        carve.line(
            [
                (c + 15 * math.cos(a), c + 15 * math.sin(a)),
                (c + r * 0.5 * math.cos(a), c + r * 0.5 * math.sin(a)),
            ],
            fill=255,
            width=6,
        )


DRAWERS = {
    "vessel": _vessel,
    "coin": _coin,
    "tablet": _tablet,
    "figurine": _figurine,
    "relief": _relief,
    "seal": _seal,
    "lamp": _lamp,
}
