"""The ways dealers edit a photo they reuse, one function each: ``edit(picture, rng) -> picture``.

Parameters are drawn from fixed ranges by the generator's seed; they are never tuned to suit the matcher.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFont

Edit = Callable[[Image.Image, np.random.Generator], Image.Image]

__all__ = ["EDITS", "jpeg_quality"]

WATERMARKS = (
    "© Galerie Antika",
    "ANCIENT-ART.EXAMPLE",
    "Collection privée",
    "© www.dealer.example",
    "SOLD AS SEEN",
    "Kunsthandel",
)


def resize(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Scale to 30-70 % of each side."""
    f = rng.uniform(0.3, 0.7)
    return im.resize((max(8, int(im.width * f)), max(8, int(im.height * f))), Image.Resampling.BILINEAR)


def recompress(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Unchanged pixels; the saved JPEG quality (see ``jpeg_quality``) does the damage."""
    return im.copy()


def crop(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Cut 5-20 % of the width and of the height, split at random between the two sides."""
    fw, fh = rng.uniform(0.05, 0.2), rng.uniform(0.05, 0.2)
    lw, th = rng.uniform(0, 1), rng.uniform(0, 1)
    left, top = int(im.width * fw * lw), int(im.height * fh * th)
    right, bottom = im.width - int(im.width * fw * (1 - lw)), im.height - int(im.height * fh * (1 - th))
    return im.crop((left, top, right, bottom))


def pad(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Place on a white page with 5-30 % margins, sometimes inside a thin grey frame."""
    mx, my = int(im.width * rng.uniform(0.05, 0.3)), int(im.height * rng.uniform(0.05, 0.3))
    page = Image.new("RGB", (im.width + 2 * mx, im.height + 2 * my), (255, 255, 255))
    page.paste(im, (mx, my))
    if rng.random() < 0.5:
        ImageDraw.Draw(page).rectangle(
            [mx - 6, my - 6, mx + im.width + 5, my + im.height + 5], outline=(120, 120, 120), width=2
        )
    return page


def watermark(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Semi-transparent dealer text, across the middle or in a corner."""
    out = im.convert("RGBA")
    layer = Image.new("RGBA", out.size, (0, 0, 0, 0))
    text = WATERMARKS[int(rng.integers(len(WATERMARKS)))]
    size = int(out.width * rng.uniform(0.04, 0.09))
    font = ImageFont.load_default(size=size)
    draw = ImageDraw.Draw(layer)
    box = draw.textbbox((0, 0), text, font=font)
    tw, th = box[2] - box[0], box[3] - box[1]
    if rng.random() < 0.5:
        xy = ((out.width - tw) / 2, (out.height - th) / 2 + rng.uniform(-0.2, 0.2) * out.height)
    else:
        xy = (out.width - tw - size, out.height - th - size)
    shade = int(rng.choice([255, 0]))
    draw.text(xy, text, font=font, fill=(shade, shade, shade, int(rng.uniform(90, 170))))
    return Image.alpha_composite(out, layer).convert("RGB")


def mirror(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Left-right mirror image."""
    return im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def rotate(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A quarter turn, either way."""
    return im.transpose(Image.Transpose.ROTATE_90 if rng.random() < 0.5 else Image.Transpose.ROTATE_270)


def collage(
    im: Image.Image, rng: np.random.Generator, others: list[Image.Image] | None = None
) -> Image.Image:
    """The photo as one tile of a 2x2 or 1x3 sheet with other objects' photos."""
    others = others or []
    cols, rows = (2, 2) if rng.random() < 0.5 else (3, 1)
    tiles = list(others[: cols * rows - 1])
    slot = int(rng.integers(0, len(tiles) + 1))
    tiles.insert(slot, im)
    tw, th = im.width // 2, im.height // 2
    gap = 12
    sheet = Image.new("RGB", (cols * tw + (cols + 1) * gap, rows * th + (rows + 1) * gap), (255, 255, 255))
    for i, tile in enumerate(tiles):
        t = tile.resize((tw, th), Image.Resampling.LANCZOS)
        sheet.paste(t, (gap + (i % cols) * (tw + gap), gap + (i // cols) * (th + gap)))
    return sheet


def jpeg_quality(edit: str, rng: np.random.Generator) -> int:
    """The JPEG quality a dealer's re-save uses: low for ``recompress``, ordinary otherwise."""
    return int(rng.integers(12, 35)) if edit == "recompress" else int(rng.integers(70, 93))


EDITS: dict[str, Edit] = {
    "resize": resize,
    "recompress": recompress,
    "crop": crop,
    "pad": pad,
    "watermark": watermark,
    "mirror": mirror,
    "rotate": rotate,
    "collage": collage,
}
