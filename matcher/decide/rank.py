"""Judge what the registry's searches found for one photo (``search.registry_index.find``): verify each
shortlisted registry photo by its local features, set how far above every other record the embedding puts
it, let objects compete, and keep the best evidence per registry object.

Each hit is verified against the registry photo and its mirror image (ORB is not mirror-invariant), with
one fit per reference judged within the tilt rule; a photo the embedding ranks among its nearest is also
judged at any angle, where it counts only at ``strong_inliers`` (bench/verification.py). The index is
asked which records hold a photo and whether two registry photos are one picture (``RegistryIndex.held``,
``same_picture``, ``same_object``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..photo.features import Features, colour_similarity
from .evidence import Hit, Thresholds, better, by_embedding, hash_tier, near_by_embedding, rank_key
from .verify import ANY_TILT, Verification, verify, within

if TYPE_CHECKING:  # the index and what its searches found, as data
    from ..search.registry_index import Found, RegistryIndex

__all__ = ["rank"]


def rank(
    index: RegistryIndex, found: Found, views: dict[str, dict], features: Features | None, t: Thresholds
) -> list[Hit]:
    """The best evidence per registry object for one photo, best first (including hits with no tier).

    ``found``: what the searches found for the photo; ``views``: the photo's views' hashes (for the hues
    of the part compared); ``features``: its local features (None: nothing to verify)."""
    hits = found.hits
    shown = _same_photo_objects(index, hits, t)
    for h in hits:
        if h.cosine_of is not None:  # the embedding search ran and its cosine reached the index's floor
            h.cosine_next = _next_cosine(index, h, found, shown)
        refs = found.refs.get(h.registry_image_id, [])
        if features is not None and refs:
            # One fit a reference, judged within the tilt rule. A photo the embedding ranked among its
            # nearest may be a new photo of the object taken at any angle, which that rule refuses: judged
            # at any angle it counts only with strong_inliers or more (bench/verification.py: 5 of 9
            # multiview pairs reach 30 at any angle, 1 within the rule; different objects at most 24).
            checked = [(verify(features, r, ANY_TILT), m) for r, m in refs]
            best, mirrored = _best((within(v), m) for v, m in checked)
            if best.inliers < t.strong_inliers and near_by_embedding(h, t):
                turned, turned_mirrored = _best(checked)
                if turned.inliers >= t.strong_inliers:
                    best, mirrored, h.any_angle = turned, turned_mirrored, True
            h.inliers, h.overlap, h.region = best.inliers, best.overlap, best.region
            # How the points say the lot photo lies against the registry photo, in the variants' names.
            h.points_turn = f"{'m' if mirrored else 'r'}{90 * best.quarter}" if best.inliers else None
            own = views.get(f"{h.view}/r0", {}).get("colour")  # a part's hues, not the whole page's
            h.colour = round(colour_similarity(own or features.colour, refs[0][0].colour), 2)
    hits = [held for h in hits for held in index.held(h)]
    _compete(index, hits, shown, t)
    kept: dict[int, Hit] = {}
    for h in hits:
        if better(h, kept.get(h.object_id), t):
            kept[h.object_id] = h
    return sorted(kept.values(), key=lambda h: (*rank_key(h, t), h.object_id))


def _best(checked) -> tuple[Verification, bool]:
    """The better agreement of a photo and its mirror image: inliers, then their share."""
    return max(checked, key=lambda vm: vm[0][:2])


def _same_photo_objects(index: RegistryIndex, hits: list[Hit], t: Thresholds) -> set[int]:
    """The objects whose records hold the lot photo itself (the hashes say "same photo", as the review
    UI words it: on the whole photo, or near-exactly on a trimmed view or part)."""
    return {
        obj
        for h in hits
        if hash_tier(h, t) == "strong" and (h.view == "full" or h.pdq <= t.trim_exact_pdq)
        for obj in index.objects_of.get(h.registry_image_id, {h.object_id})
    }


def _next_cosine(index: RegistryIndex, hit: Hit, found: Found, shown: set[int] = frozenset()) -> float:
    """The best similarity of a registry photo that no record of the hit's object holds.

    ``shown``: objects whose records hold the lot photo itself. Their photos are not rivals of another
    record's different photo: when one registry holds an object by one photo and another registry by
    another, the lot photo that is the first is as near the first as a photo can be, and would otherwise
    hide the second record, the one whose photo only the embedding finds like it."""
    mine = index.objects_of.get(hit.registry_image_id, {hit.object_id}) | shown
    others = [c for p, c in found.nearest.items() if not index.objects_of.get(p, set()) & mine]
    return round(max([found.beyond, *others]), 4)


def _same_place(a: tuple | None, b: tuple | None) -> bool:
    """Do two inlier regions of a query overlap by at least a third of the smaller one (unknown: yes)?"""
    if a is None or b is None:
        return True
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return w > 0 and h > 0 and w * h >= smaller / 3


def _compete(
    index: RegistryIndex, hits: list[Hit], shown: set[int] = frozenset(), t: Thresholds | None = None
) -> None:
    """Set each hit's ``other_inliers`` and ``shared``. Only objects whose features agree in the same
    place compete (the other tiles of a collage show other objects), and never records that show the same
    object by the same picture: a copy of the photo under another record is the same evidence, named in
    ``shared``, not a rival; nor is a record holding a copy of another of the object's photos.
    Photos only the embedding's shortlist brought are rivals of evidence from that shortlist alone: the
    multiples of another object's inliers that evidence must reach were read with the rivals the hash and
    vote shortlists bring, and the embedding brings look-alikes of the same house style.
    Records holding the lot photo itself (``shown``) are no rivals of another record's photo that the
    embedding alone finds like it (``by_embedding`` with thresholds ``t``): as for the margin, the same
    photo outscores any other photo of the object, and would hide that record's different photo."""
    for h in hits:
        spared = shown if t is not None and h.object_id not in shown and by_embedding(h, t) else set()
        rivals = [
            o
            for o in hits
            if o.object_id != h.object_id
            and o.object_id not in spared
            and (o.inliers or 0) > 0
            and _same_place(h.region, o.region)
            and (h.embedding_only or not o.embedding_only)
        ]
        h.other_inliers = max((o.inliers or 0 for o in rivals if not index.same_object(h, o)), default=0)
        h.shared = sorted(
            {o.object_id for o in hits if o.object_id != h.object_id and index.same_picture(h, o)}
        )
