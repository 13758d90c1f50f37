"""Canonical decode: turn untrusted image bytes into one small sRGB picture, the same way every time.

Every hash in lootwatch is computed from this decode, so a registry photo and a dealer's copy of it agree
on orientation, colour mode and size before any hash is taken. Neither imagehash nor the reference PDQ
applies EXIF orientation, so it is done here.
"""

from __future__ import annotations

import io
import re
import warnings

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

TARGET = 512  # longest side after decode; PDQ and the 64-bit hashes need no more
DRAFT_SLACK = 0.9  # JPEG draft may stop this far below TARGET: a 4032 px photo decodes at 1/8, 504 px
MAX_PIXELS = 50_000_000  # refuse larger canvases before any pixel is decoded (decompression bombs)
MAX_BYTES = 30 * 1024 * 1024
MIN_SIDE = 8  # pixels on the shorter side as published: less is a rule, a dot or a spacer, not a photo
TRIM_SIDE = 160  # trim_border looks for the border on a copy about this size

__all__ = ["DecodeError", "decode", "shrink", "trim_border", "TARGET", "MAX_PIXELS", "MIN_SIDE"]

_SRGB = ImageCms.createProfile("sRGB")


class DecodeError(ValueError):
    """The bytes are not an image lootwatch will decode; the message says why."""


def decode(data: bytes, target: int = TARGET) -> Image.Image:
    """Decode image bytes to an RGB picture whose longest side is at most ``target`` pixels (and, when
    the image is larger, at least 90 % of it).

    Applies EXIF orientation, converts CMYK/ICC to sRGB, 16-bit and float to 8-bit, palette and alpha onto
    white, keeps the first frame of an animation, and uses JPEG draft mode so large JPEGs decode fast.
    A picture of any shape within the pixel cap decodes: a strip (9 x 4000 px) becomes a picture a
    pixel or two wide. Raises DecodeError for anything it cannot or will not decode, among them a side
    under ``MIN_SIDE`` pixels as published.
    """
    if not data:
        raise DecodeError("empty file")
    if len(data) > MAX_BYTES:
        raise DecodeError(f"file too large ({len(data)} bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            if im.width * im.height > MAX_PIXELS:
                raise DecodeError(_too_many(f"{im.width} x {im.height} = {im.width * im.height:,} pixels"))
            # Judged on the size as published: after a JPEG draft a 9 x 4000 strip is 2 x 500, and a
            # PNG and a JPEG of one strip must be judged alike.
            if min(im.size) < MIN_SIDE:
                raise DecodeError(f"image too small ({im.width}x{im.height}; at least {MIN_SIDE} px a side)")
            if getattr(im, "n_frames", 1) > 1:
                im.seek(0)
            if im.format == "JPEG":
                # Ask for (nearly) the size the picture will have: the DCT scaling is the cheapest resize.
                scale = DRAFT_SLACK * target / max(im.size)
                im.draft("RGB", (max(1, int(im.width * scale)), max(1, int(im.height * scale))))
            ImageOps.exif_transpose(im, in_place=True)  # a copy of every picture would cost 1-2 ms
            im = to_rgb(im)
    except DecodeError:
        raise
    except UnidentifiedImageError as exc:
        raise DecodeError(f"not an image format lootwatch reads ({len(data):,} bytes)") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DecodeError(_bomb_words(exc)) from exc
    except (OSError, ValueError, SyntaxError, EOFError, TypeError) as exc:
        raise DecodeError(f"corrupt image: {exc}") from exc
    return shrink(im, target)


def _bomb_words(exc: Exception) -> str:
    """Pillow's decompression-bomb message ("Image size (N pixels) exceeds limit of M pixels, could be
    decompression bomb DOS attack.") in plain words."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    return _too_many(f"{int(found.group(1)):,} pixels" if found else "over Pillow's limit")


def _too_many(size: str) -> str:
    return (
        f"too many pixels to open safely ({size}; the most lootwatch opens is {MAX_PIXELS:,}): "
        "a picture this large may be made to exhaust memory (a decompression bomb)"
    )


def shrink(im: Image.Image, target: int) -> Image.Image:
    """Fit ``im`` within ``target`` pixels: box-reduce by a whole factor, then an antialiased bilinear
    resize."""
    if max(im.size) <= target:
        return im
    # OpenCV's bilinear is 7x faster but samples without a filter, and ORB notices: demo registry photos
    # shrunk with it verified their 0.5x copies with 36 inliers at worst (43 here), and 49 of 142
    # quarter-size copies with fewer than 20 (44 here).
    im = im.copy()
    im.thumbnail((target, target), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return im


def to_rgb(im: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit sRGB, flattening transparency onto white."""
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        arr = np.asarray(im, dtype=np.float64)
        if arr.max(initial=0) > 255:
            arr = arr / 257.0  # 16-bit samples
        im = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "L")
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, rgba)
    icc = im.info.get("icc_profile")
    if icc and im.mode in ("RGB", "CMYK"):
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            return ImageCms.profileToProfile(im, src, _SRGB, outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile is common; fall back to a plain conversion
    return im if im.mode == "RGB" else im.convert("RGB")


def trim_border(
    im: Image.Image, tolerance: int = 24, min_side: int = 16, passes: int = 3
) -> Image.Image | None:
    """Cut away uniform borders (white page, thin frame line, plain backdrop) around the picture.

    Each pass peels thin uniform lines off the edges (a frame drawn around a pasted photo), then crops to
    the rows and columns where more than 1 % of pixels differ from the median edge colour by more than
    ``tolerance``. Passes repeat so a photo padded onto a page, and the object on that photo's backdrop,
    end up cropped alike. Returns None when nothing worth trimming (2 % of a side) was found.
    """
    # The box is found on a copy of at most ~160 px (box-averaged, which also calms JPEG noise), then
    # scaled back: a few pixels of precision do not change a hash, and it is 10x faster.
    factor = max(1, -(-max(im.size) // TRIM_SIDE))
    small = im.reduce(factor) if factor > 1 else im
    arr = np.asarray(small, dtype=np.int16)
    min_side = max(4, min_side // factor)
    top, bottom, left, right = 0, arr.shape[0], 0, arr.shape[1]
    for _ in range(passes):
        box = _peel(arr[top:bottom, left:right], tolerance)
        box = _content_box(
            arr[top + box[0] : top + box[1], left + box[2] : left + box[3]], tolerance, base=box
        )
        if box is None:
            break
        t, b, l_, r = box
        if (t, b, l_, r) == (0, bottom - top, 0, right - left):
            break
        top, bottom, left, right = top + t, top + b, left + l_, left + r
        if bottom - top < min_side or right - left < min_side:
            return None
    h, w = arr.shape[:2]
    if (bottom - top) > 0.98 * h and (right - left) > 0.98 * w:
        return None
    box = (left * factor, top * factor, min(im.width, right * factor), min(im.height, bottom * factor))
    return im.crop(box)


def _peel(arr: np.ndarray, tolerance: int, max_lines: int = 12) -> tuple[int, int, int, int]:
    """Remove up to ``max_lines`` near-uniform rows/columns from each edge."""
    h, w = arr.shape[:2]
    rows, cols = min(max_lines, h // 4), min(max_lines, w // 4)
    # Opposite edges go through numpy together, each edge's lines outermost first.
    t, b = _uniform_lines(np.stack([arr[:rows], arr[::-1][:rows]]), tolerance)
    l_, r = _uniform_lines(np.stack([arr[:, :cols], arr[:, ::-1][:, :cols]]).swapaxes(1, 2), tolerance)
    return t, h - b, l_, w - r


def _uniform_lines(edges: np.ndarray, tolerance: int) -> list[int]:
    """For each edge (an array of lines), how many lines are uniform before the first that is not."""
    near = _twice_off(edges, np.median(edges, axis=2, keepdims=True)) <= 2 * tolerance
    uniform = near.mean(axis=2) > 0.95
    return [int(np.argmin(u)) if not u.all() else len(u) for u in uniform]


def _content_box(
    arr: np.ndarray, tolerance: int, base: tuple[int, int, int, int]
) -> tuple[int, int, int, int] | None:
    """Rows/columns (relative to the array ``base`` was cut from) that differ from the edge colour."""
    h, w = arr.shape[:2]
    if h < 8 or w < 8:
        return None
    edge = np.concatenate([arr[0], arr[-1], arr[:, 0], arr[:, -1]])
    differs = _twice_off(arr, np.median(edge, axis=0)) > 2 * tolerance
    rows = np.flatnonzero(differs.sum(axis=1) > max(1, w // 100))
    cols = np.flatnonzero(differs.sum(axis=0) > max(1, h // 100))
    if rows.size == 0 or cols.size == 0:
        return None
    return (
        base[0] + int(rows[0]),
        base[0] + int(rows[-1]) + 1,
        base[2] + int(cols[0]),
        base[2] + int(cols[-1]) + 1,
    )


def _twice_off(arr: np.ndarray, median: np.ndarray) -> np.ndarray:
    """Twice the largest channel difference between int16 pixels and a median colour: a median may end
    in .5, and whole numbers are 5x faster than floats."""
    return _channel_max(np.abs(2 * arr - (2 * median).astype(np.int16)))


def _channel_max(arr: np.ndarray) -> np.ndarray:
    # Largest of the three channels; 15x faster than arr.max(axis=-1) over an axis of length 3.
    return np.maximum(np.maximum(arr[..., 0], arr[..., 1]), arr[..., 2])
