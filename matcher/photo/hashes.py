"""Perceptual hashes of a canonically decoded picture, one function per algorithm.

- PDQ: Meta's 256-bit hash with a quality score (https://github.com/facebook/ThreatExchange/tree/main/pdq),
  computed by ``matcher.photo.pdq``, a numpy form of the reference that gives the C++ code's bits, faster.
- pHash and dHash: 64-bit DCT and gradient hashes from ``imagehash``
  (https://github.com/JohannesBuchner/imagehash).

Hashes are stored as lowercase hex strings. Implementations differ by a few bits, so the version of the
hashing code is stored with every hash (HASH_VERSION) and registry and listings are hashed by the same code.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from importlib.metadata import version

import imagehash
import numpy as np
from PIL import Image

from .pdq import pdq_of_luma

__all__ = [
    "HASH_VERSION",
    "MIN_QUALITY",
    "Signals",
    "sha256",
    "pdq",
    "phash",
    "dhash",
    "signals",
    "dihedral_signals",
    "DIHEDRAL",
]

# lw8: PDQ by matcher.photo.pdq, not the pdqhash bindings (the same bits but for float rounding).
HASH_VERSION = f"lw8;pdq=numpy1;imagehash={version('imagehash')}"
MIN_QUALITY = 50  # PDQ's own advice: hashes below this quality are too featureless to match on


@dataclass(frozen=True)
class Signals:
    """Every hash of one picture."""

    pdq: str
    quality: int
    phash: str
    dhash: str

    def as_dict(self) -> dict:
        return asdict(self)


def sha256(data: bytes) -> str:
    """SHA-256 of the original bytes, the identity of an exact copy."""
    return hashlib.sha256(data).hexdigest()


def pdq(im: Image.Image) -> tuple[str, int]:
    """PDQ hash (64 hex digits) and quality 0-100 of an RGB picture."""
    # Pillow's "F" is 0.299 R + 0.587 G + 0.114 B in float, the luma of the reference PDQ.
    return pdq_of_luma(np.asarray(_rgb(im).convert("F")))


def phash(im: Image.Image) -> str:
    """64-bit DCT perceptual hash (imagehash.phash) as 16 hex digits."""
    return str(imagehash.phash(_grey_small(_rgb(im).convert("L"))))


def dhash(im: Image.Image) -> str:
    """64-bit difference hash (imagehash.dhash) as 16 hex digits."""
    return str(imagehash.dhash(_grey_small(_rgb(im).convert("L"))))


def signals(im: Image.Image) -> Signals:
    """All hashes of one decoded picture."""
    rgb = _rgb(im)
    return _signals(np.asarray(rgb.convert("F")), _grey_small(rgb.convert("L")))


def dihedral_signals(im: Image.Image) -> list[tuple[str, Signals]]:
    """All hashes of the 8 rotations and mirror images of a picture (``DIHEDRAL``), each computed from
    the turned pixels."""
    rgb = _rgb(im)
    luma, grey = np.asarray(rgb.convert("F")), rgb.convert("L")
    return [
        (name, _signals(turn(luma), _grey_small(grey if pil is None else grey.transpose(pil))))
        for name, turn, pil in _TURNS
    ]


def _signals(luma: np.ndarray, grey_small: Image.Image) -> Signals:
    pdq_hex, quality = pdq_of_luma(luma)
    return Signals(
        pdq=pdq_hex,
        quality=quality,
        phash=str(imagehash.phash(grey_small)),
        dhash=str(imagehash.dhash(grey_small)),
    )


def _rgb(im: Image.Image) -> Image.Image:
    return im if im.mode == "RGB" else im.convert("RGB")


def _grey_small(grey: Image.Image) -> Image.Image:
    # imagehash shrinks to 32x32 (pHash) or 9x8 (dHash) with Lanczos; a box-averaged grey copy of about
    # 128 px first makes that 5-10x cheaper and changes no more than a bit or two.
    factor = max(1, max(grey.size) // 128)
    return grey.reduce(factor) if factor > 1 else grey


# The 8 rotations and mirror images (m: mirrored, then rotated), each as a numpy view of an array and as
# Pillow's transpose; tests/test_hashes.py holds them equal.
_TURNS = [
    ("r0", lambda a: a, None),
    ("r90", lambda a: np.rot90(a, 1), Image.Transpose.ROTATE_90),
    ("r180", lambda a: np.rot90(a, 2), Image.Transpose.ROTATE_180),
    ("r270", lambda a: np.rot90(a, 3), Image.Transpose.ROTATE_270),
    ("m0", lambda a: a[:, ::-1], Image.Transpose.FLIP_LEFT_RIGHT),
    ("m90", lambda a: np.rot90(a[:, ::-1], 1), Image.Transpose.TRANSPOSE),
    ("m180", lambda a: a[::-1], Image.Transpose.FLIP_TOP_BOTTOM),
    ("m270", lambda a: np.rot90(a[:, ::-1], 3), Image.Transpose.TRANSVERSE),
]
DIHEDRAL = tuple(name for name, _, _ in _TURNS)
