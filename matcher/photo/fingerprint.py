"""From image bytes to everything lootwatch keeps about an image: SHA-256, hashes, local features,
colour signature, embeddings, thumbnail.

The image is decoded once (``decode.decode``); every view and variant is derived from that decode.
Listing photos are hashed as they are ("full"), with any uniform border trimmed ("trim") and part by part
when they are made of several pictures ("part1", ...: collage tiles, the photo on a screenshot); registry
photos as they are and trimmed, each in its 8 rotations and mirror images, so a flipped or rotated copy
still matches. Every view (not its rotations: a new photo of an object is taken upright) is also
embedded (``embed.embed``), for finding new photos of a registered object.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from PIL import Image

from . import embed, hashes
from .decode import decode, trim_border
from .features import Features, colour_signature, orb
from .segments import Box, segment_boxes
from .stability import stable_first

__all__ = ["Fingerprint", "fingerprint", "thumbnail_jpeg", "THUMB_SIDE"]

THUMB_SIDE = 240


@dataclass
class Fingerprint:
    """What one image contributes to the database."""

    sha256: str
    width: int
    height: int
    size: int
    quality: int
    matchable: bool
    hashes: dict[str, dict] = field(default_factory=dict)
    features: Features | None = None
    mirror_features: Features | None = (
        None  # registry photos: ORB of the mirror image (ORB is not mirror-invariant)
    )
    thumbnail: bytes = b""
    thumb_size: tuple[int, int] = (0, 0)
    # view -> unit-length float16 embedding of shape (1280,) (``embed.embed``); empty when not computed
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)


def views(im: Image.Image, parts: Sequence[Box] = ()) -> dict[str, Image.Image]:
    """The picture as published, without its uniform border if it has one, and each of ``parts``."""
    out = {"full": im}
    trimmed = trim_border(im)
    if trimmed is not None:
        out["trim"] = trimmed
    out |= {f"part{n}": im.crop(box) for n, box in enumerate(parts, start=1)}
    return out


def fingerprint(
    data: bytes,
    all_transforms: bool = False,
    signals_only: bool = False,
    thumbnail: bool = True,
    embeddings: bool = True,
) -> Fingerprint:
    """Decode ``data`` once and compute its SHA-256, hashes, colour signature, local features, embeddings
    and thumbnail.

    :param all_transforms: also hash the 8 rotations/mirror images of each view (registry photos).
    :param signals_only: hashes and colour signature only, no local features, embeddings or thumbnail.
    :param thumbnail: make the thumbnail (a photo only checked, not stored, needs none).
    :param embeddings: embed every view (``embed.embed``).
    Raises ``decode.DecodeError`` for bytes that are not a usable image, ``embed.ModelError`` when the
    embedding model cannot be had.
    """
    im = decode(data)
    variants: dict[str, dict] = {}
    # A listing photo made of several pictures (collage tiles, the photo on a screenshot) is also hashed
    # part by part, each with its own hues; registry photos are single pictures.
    parts = [] if all_transforms else segment_boxes(im)
    pictures = views(im, parts)
    for view, pic in pictures.items():
        turns = hashes.dihedral_signals(pic) if all_transforms else [("r0", hashes.signals(pic))]
        colour = colour_signature(pic) if view.startswith("part") else None
        for name, s in turns:
            variants[f"{view}/{name}"] = s.as_dict() | {"colour": colour}
    quality = variants["full/r0"]["quality"]
    thumb, thumb_size = thumbnail_jpeg(im) if thumbnail and not signals_only else (b"", (0, 0))
    local = Features.empty() if signals_only else orb(im, parts)
    mirrored = all_transforms and not signals_only
    if mirrored:  # registry photos: the vote index keeps the keypoints that edited copies still show
        local = stable_first(np.asarray(im.convert("L")), local)
    return Fingerprint(
        sha256=hashes.sha256(data),
        width=im.width,
        height=im.height,
        size=len(data),
        quality=quality,
        matchable=not _featureless(im),
        hashes=variants,
        features=replace(local, colour=colour_signature(pictures.get("trim", im))),
        mirror_features=orb(im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)) if mirrored else None,
        thumbnail=thumb,
        thumb_size=thumb_size,
        embeddings=embed_views(pictures) if embeddings and not signals_only else {},
    )


def embed_views(pictures: dict[str, Image.Image]) -> dict[str, np.ndarray]:
    """view -> its embedding (float16, unit length, shape (1280,)), all views in one batch."""
    names = list(pictures)
    return dict(zip(names, embed.embed([pictures[n] for n in names]), strict=True))


def thumbnail_jpeg(im: Image.Image, side: int = THUMB_SIDE) -> tuple[bytes, tuple[int, int]]:
    """A small JPEG of the decoded picture for the review UI and the e-mail."""
    small = im.copy()
    small.thumbnail((side, side), Image.Resampling.BILINEAR, reducing_gap=2.0)
    buf = io.BytesIO()
    small.save(buf, "JPEG", quality=80)
    return buf.getvalue(), small.size


def _featureless(im: Image.Image) -> bool:
    # A near-uniform picture (blank placeholder, solid colour) would match every other blank picture.
    return float(np.asarray(im.convert("L"), dtype=np.float32).std()) < 4.0
