"""Perceptual hashes of a canonically decoded picture, one function per algorithm.

- PDQ: Meta's 256-bit hash with a quality score (https://github.com/facebook/ThreatExchange/tree/main/pdq),
  computed with the ``pdqhash`` bindings of the reference C++ code.
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
import pdqhash
from PIL import Image

__all__ = [
    "HASH_VERSION",
    "MIN_QUALITY",
    "Signals",
    "sha256",
    "pdq",
    "phash",
    "dhash",
    "signals",
    "dihedral",
]

# lw7: JPEG draft may stop at 90 % of the decode size.
HASH_VERSION = f"lw7;pdqhash={version('pdqhash')};imagehash={version('imagehash')}"
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
    bits, quality = pdqhash.compute(np.asarray(im.convert("RGB")))
    return _bits_to_hex(bits), int(quality)


def phash(im: Image.Image) -> str:
    """64-bit DCT perceptual hash (imagehash.phash) as 16 hex digits."""
    return str(imagehash.phash(_grey_small(im)))


def dhash(im: Image.Image) -> str:
    """64-bit difference hash (imagehash.dhash) as 16 hex digits."""
    return str(imagehash.dhash(_grey_small(im)))


def signals(im: Image.Image) -> Signals:
    """All hashes of one decoded picture."""
    pdq_hex, quality = pdq(im)
    grey = _grey_small(im)
    return Signals(
        pdq=pdq_hex, quality=quality, phash=str(imagehash.phash(grey)), dhash=str(imagehash.dhash(grey))
    )


def _grey_small(im: Image.Image) -> Image.Image:
    # imagehash shrinks to 32x32 (pHash) or 9x8 (dHash) with Lanczos; a box-averaged grey copy of about
    # 128 px first makes that 5-10x cheaper and changes no more than a bit or two.
    grey = im.convert("L")
    factor = max(1, max(grey.size) // 128)
    return grey.reduce(factor) if factor > 1 else grey


DIHEDRAL = ("r0", "r90", "r180", "r270", "m0", "m90", "m180", "m270")


def dihedral(im: Image.Image) -> list[tuple[str, Image.Image]]:
    """The 8 rotations and mirror images of a picture, named r<deg> and m<deg> (mirrored, then rotated)."""
    mirrored = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    out = []
    for prefix, base in (("r", im), ("m", mirrored)):
        out.append((f"{prefix}0", base))
        out.append((f"{prefix}90", base.transpose(Image.Transpose.ROTATE_90)))
        out.append((f"{prefix}180", base.transpose(Image.Transpose.ROTATE_180)))
        out.append((f"{prefix}270", base.transpose(Image.Transpose.ROTATE_270)))
    return out


def _bits_to_hex(bits: np.ndarray) -> str:
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex()
