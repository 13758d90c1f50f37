"""The transform suite of bench/accuracy.py: how dealers and screenshots change a photo, one function each.

Every transform takes an RGB picture and a numpy Generator and returns the picture a query would show.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

Transform = Callable[[Image.Image, np.random.Generator], Image.Image]


def jpeg(quality: int) -> Transform:
    def f(im, rng):
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=quality)
        return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")

    return f


def resize(factor: float) -> Transform:
    return lambda im, rng: im.resize(
        (max(16, int(im.width * factor)), max(16, int(im.height * factor))), Image.Resampling.BILINEAR
    )


def crop(fraction: float) -> Transform:
    """Cut ``fraction`` of the width and of the height, split at random between the sides."""

    def f(im, rng):
        a, b = rng.uniform(0, 1, 2)
        dw, dh = im.width * fraction, im.height * fraction
        return im.crop(
            (int(dw * a), int(dh * b), im.width - int(dw * (1 - a)), im.height - int(dh * (1 - b)))
        )

    return f


def pad(fraction: float, colour: tuple[int, int, int]) -> Transform:
    def f(im, rng):
        mx, my = int(im.width * fraction), int(im.height * fraction)
        page = Image.new("RGB", (im.width + 2 * mx, im.height + 2 * my), colour)
        page.paste(im, (mx, my))
        return page

    return f


def text_watermark(im, rng):
    out = im.convert("RGBA")
    layer = Image.new("RGBA", out.size, (0, 0, 0, 0))
    font = ImageFont.load_default(size=max(12, out.width // 14))
    ImageDraw.Draw(layer).text(
        (out.width * 0.1, out.height * 0.45),
        "© www.antiquities-dealer.example",
        font=font,
        fill=(255, 255, 255, 140),
    )
    return Image.alpha_composite(out, layer).convert("RGB")


def logo_watermark(logo: Image.Image | None) -> Transform:
    def f(im, rng):
        mark = logo.copy() if logo is not None else _drawn_logo()
        mark.thumbnail((im.width // 3, im.height // 3))
        mark = mark.convert("RGBA")
        alpha = mark.getchannel("A").point(lambda a: int(a * 0.6))
        mark.putalpha(alpha)
        out = im.convert("RGBA")
        out.alpha_composite(mark, (im.width - mark.width - 10, im.height - mark.height - 10))
        return out.convert("RGB")

    return f


def _drawn_logo() -> Image.Image:
    logo = Image.new("RGBA", (300, 100), (0, 0, 0, 0))
    d = ImageDraw.Draw(logo)
    d.ellipse([5, 5, 95, 95], fill=(30, 60, 160, 255))
    d.text((110, 30), "GALLERY", font=ImageFont.load_default(size=36), fill=(30, 60, 160, 255))
    return logo


def mirror(im, rng):
    return im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def rotate(degrees: int) -> Transform:
    turns = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_270}
    if degrees in turns:
        return lambda im, rng: im.transpose(turns[degrees])
    return lambda im, rng: im.rotate(
        degrees, Image.Resampling.BICUBIC, expand=True, fillcolor=(255, 255, 255)
    )


def gamma(g: float) -> Transform:
    table = [int(255 * (i / 255) ** g) for i in range(256)] * 3
    return lambda im, rng: im.point(table)


def colour_shift(im, rng):
    return ImageEnhance.Color(ImageEnhance.Brightness(im).enhance(1.1)).enhance(1.5)


def collage(others: list[Image.Image]) -> Transform:
    def f(im, rng):
        tiles = [o for o in others if o is not im][:3]
        slot = int(rng.integers(0, 4))
        tiles.insert(slot, im)
        w, h = im.width // 2, im.height // 2
        sheet = Image.new("RGB", (2 * w + 30, 2 * h + 30), "white")
        for i, t in enumerate(tiles[:4]):
            sheet.paste(t.resize((w, h)), (10 + (i % 2) * (w + 10), 10 + (i // 2) * (h + 10)))
        return sheet

    return f


def screenshot(im, rng):
    """The photo shown on a listing page: browser bar, margins, title text, other page furniture."""
    shown = im.copy()
    shown.thumbnail((700, 560))
    page = Image.new("RGB", (1280, 800), (250, 250, 250))
    d = ImageDraw.Draw(page)
    d.rectangle([0, 0, 1280, 70], fill=(222, 225, 230))
    d.rounded_rectangle([120, 18, 900, 52], radius=14, fill="white")
    font = ImageFont.load_default(size=18)
    d.text((140, 24), "https://auctions.example/lot/48213", font=font, fill=(60, 60, 60))
    x, y = 60, 120
    page.paste(shown, (x, y))
    d.text((x + shown.width + 40, y), "Lot 48213", font=ImageFont.load_default(size=30), fill=(20, 20, 20))
    for i in range(8):
        d.text(
            (x + shown.width + 40, y + 60 + 28 * i),
            "Estimate EUR 800 - 1,200. Provenance: private coll.",
            font=font,
            fill=(90, 90, 90),
        )
    return page


def rephoto(im, rng):
    """A phone photo of a print: perspective, slight turn, blur, noise, uneven light."""
    arr = np.asarray(im.convert("RGB"))
    h, w = arr.shape[:2]
    jitter = 0.06
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = src + rng.uniform(-jitter, jitter, (4, 2)).astype(np.float32) * np.float32([w, h])
    matrix = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(
        arr, matrix, (w, h), borderMode=cv2.BORDER_CONSTANT, borderValue=(235, 235, 230)
    )
    out = Image.fromarray(warped).rotate(
        float(rng.uniform(-3, 3)), Image.Resampling.BICUBIC, fillcolor=(235, 235, 230)
    )
    out = out.filter(ImageFilter.GaussianBlur(1.2))
    noisy = np.asarray(out, dtype=np.float32) + rng.normal(0, 6, (h, w, 1))
    light = np.linspace(0.85, 1.1, w, dtype=np.float32)[None, :, None]
    return Image.fromarray(np.clip(noisy * light, 0, 255).astype(np.uint8))


def suite(logo: Image.Image | None, others: list[Image.Image]) -> dict[str, Transform]:
    """Every transform of the benchmark, by name."""
    return {
        "jpeg q20": jpeg(20),
        "jpeg q50": jpeg(50),
        "jpeg q95": jpeg(95),
        "resize 0.25x": resize(0.25),
        "resize 0.5x": resize(0.5),
        "resize 2x": resize(2.0),
        "crop 5%": crop(0.05),
        "crop 10%": crop(0.10),
        "crop 20%": crop(0.20),
        "pad 10% white": pad(0.10, (255, 255, 255)),
        "pad 30% white": pad(0.30, (255, 255, 255)),
        "pad 10% black": pad(0.10, (0, 0, 0)),
        "pad 30% black": pad(0.30, (0, 0, 0)),
        "text watermark": text_watermark,
        "logo watermark": logo_watermark(logo),
        "mirror": mirror,
        "rotate 90": rotate(90),
        "rotate 180": rotate(180),
        "rotate 270": rotate(270),
        "rotate +5": rotate(5),
        "rotate -5": rotate(-5),
        "gamma 0.7": gamma(0.7),
        "gamma 1.4": gamma(1.4),
        "colour shift": colour_shift,
        "collage of 4": collage(others),
        "screenshot": screenshot,
        "phone re-photo": rephoto,
    }
