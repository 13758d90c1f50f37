"""What one piece of evidence is, and which tier it earns.

A ``Hit`` says how alike one lot photo and one registry photo are: PDQ, pHash and dHash distances of
their closest views/variants, the PDQ quality, and the result of geometric verification (inliers of the
best similarity transform, and the best inlier count of any *other* registry object, which tells a
distinctive match from a generic one), how alike their hues are, and how alike a learned embedding finds
the two photos (``cosine``: a different photo of the same object can come close there, where hashes and
local features see a different picture).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..photo.hashes import MIN_QUALITY

__all__ = [
    "Thresholds",
    "Hit",
    "tier",
    "hash_tier",
    "verified",
    "by_embedding",
    "near_by_embedding",
    "embed_margin",
    "score",
    "better",
    "rank_key",
]


@dataclass(frozen=True)
class Thresholds:
    """Bands in PDQ bits (of 256), pHash bits (of 64) and RANSAC inliers; docs/matching.md shows the
    distances they were read from.

    Hashes: Meta's PDQ bands (match <= 31, review up to about 52), with the pHash of the same variant
    agreeing; rotated/mirrored variants (7 more chances per photo to collide) and PDQ quality under 50
    need closer hashes. Verification: ``min_inliers`` distinct keypoints in one similarity transform, at least
    ``min_overlap`` of the query keypoints that fall inside the registry photo, and ``distinct`` times
    more inliers than any other registry object gets; or, for a match the hashes or at least
    ``sure_votes`` registry-wide descriptor votes also found, ``sure_inliers`` and ``sure_distinct`` times
    any other object's, whatever their share (a much smaller, padded or watermarked copy keeps few of its
    keypoints); for a match both the hashes and ``sure_votes`` votes found, the share is waived outright.
    Unverified evidence earns nothing when another object gets more inliers, at least
    ``outvoted_inliers``; evidence from local features alone needs ``lone_distinct`` times the inliers
    of any other object. Only objects whose inliers lie in the same place of the photo compete.
    Colour: unverified evidence between pictures whose hues overlap less than ``min_colour``
    (histogram intersection) earns nothing, verified evidence between them needs ``lone_distinct``
    times any other object's inliers, as evidence from local features alone does, and evidence from
    local features alone between them earns ``strong`` or nothing.
    Embeddings: a registry photo among the ``embed_near`` most similar by embedding, verified with
    ``strong_inliers``, is ``strong`` like one the descriptor votes found; the embedding alone earns
    ``review`` (never ``strong``) at a cosine of ``embed_cosine`` or more that stands a margin above
    every other registry object's: ``embed_margins`` gives it by the number of registry photos searched
    (at least that many photos: that margin), since among fewer photos the next one is further away; in
    a registry smaller than the smallest size listed the embedding alone raises nothing. Each margin was
    read as the smallest at which no calibration negative and no house-style twin got a candidate
    (docs/benchmarks.md, bench/embed_calibrate.py).
    """

    strong_pdq: int = 31
    strong_phash: int = 16
    review_pdq: int = 52
    review_phash: int = 10
    turned_strong_pdq: int = 24
    turned_review_pdq: int = 31
    turned_phash: int = 8
    low_quality_phash: int = 8
    min_inliers: int = 10
    strong_inliers: int = 30
    distinct: float = 2.0
    min_overlap: float = 0.1
    sure_inliers: int = 20
    sure_distinct: float = 4.0
    sure_votes: int = 9
    outvoted_inliers: int = 7
    lone_distinct: float = 3.0
    trim_exact_pdq: int = 16
    min_colour: float = 0.4
    unverified_strong_pdq: int = -1
    contradict_inliers: int = 5
    weakly_supported: str | None = "strong"
    contradicted: str | None = "review"
    embed_cosine: float = 0.7
    embed_margins: tuple[tuple[int, float], ...] = ((100, 0.21), (446, 0.13), (1_146, 0.09))
    embed_near: int = 5


@dataclass
class Hit:
    """How alike one lot photo and one registry photo are."""

    object_id: int
    registry_image_id: int
    variant: str
    pdq: int
    phash: int
    dhash: int
    quality: int = 100
    view: str = "full"
    inliers: int | None = None
    overlap: float = 0.0
    other_inliers: int = 0
    votes: int = 0
    colour: float = 1.0
    region: tuple[float, float, float, float] | None = None  # where in the photo the inliers are
    listing_image_id: int | None = None
    shared: list[int] = field(default_factory=list)  # other records' objects holding this same picture
    points_turn: str | None = None  # how the matching points lie: "r90", "m0" (the variants' names)
    # Learned embeddings (matcher/search/embindex.py): the best cosine between the two photos' views, this
    # registry photo's rank among the registry's photos by it (None: not among the nearest searched),
    # how many photos were searched, and the best cosine of any other object's photo (at least the
    # index's floor: values under it are not told apart).
    cosine: float | None = None
    cosine_rank: int | None = None
    cosine_of: int | None = None
    cosine_next: float | None = None
    embedding_only: bool = False  # only the embedding's shortlist sent this registry photo to verification
    any_angle: bool = False  # verified at any angle (a photo the embedding ranked among its nearest)

    @property
    def turned(self) -> bool:
        """The registry variant is rotated or mirrored."""
        return not self.variant.endswith("/r0")

    def evidence(self) -> dict:
        return asdict(self)


def hash_tier(hit: Hit, t: Thresholds) -> str | None:
    """The tier the hashes alone earn."""
    if hit.quality < MIN_QUALITY and hit.phash > t.low_quality_phash:
        return None
    if hit.turned:
        if hit.phash > t.turned_phash:
            return None
        return (
            "strong"
            if hit.pdq <= t.turned_strong_pdq
            else "review"
            if hit.pdq <= t.turned_review_pdq
            else None
        )
    if hit.pdq <= t.strong_pdq and hit.phash <= t.strong_phash:
        return "strong"
    if hit.pdq <= t.review_pdq and hit.phash <= t.review_phash:
        return "review"
    return None


def verified(hit: Hit, t: Thresholds, by_hash: str | None = None) -> bool:
    """Enough local features agree, clearly more than with any other registry object (further still
    for evidence from local features alone, ``by_hash`` None), and a fair share of those where the
    photos overlap. For a match the hashes or many registry-wide votes also found, many inliers will do
    whatever their share (a much smaller or watermarked copy keeps few of its keypoints); for one both
    found, the share does not count."""
    # Hues that disagree weigh against a match as much as hashes that do not find it.
    distinct = t.distinct if by_hash and hit.colour >= t.min_colour else t.lone_distinct
    supported = by_hash is not None or hit.votes >= t.sure_votes
    both = by_hash is not None and hit.votes >= t.sure_votes  # two independent searches agree
    return (
        hit.inliers is not None
        and hit.inliers >= max(t.min_inliers, distinct * hit.other_inliers)
        and (
            hit.overlap >= t.min_overlap
            or both
            or (supported and hit.inliers >= max(t.sure_inliers, t.sure_distinct * hit.other_inliers))
        )
    )


def by_embedding(hit: Hit, t: Thresholds) -> bool:
    """Does the embedding alone say "a different photo of what may be the same object": similar enough,
    and clearly more similar than any other registry object (the nearest-neighbour form of Lowe's ratio
    test)?"""
    margin = embed_margin(hit.cosine_of, t)
    return (
        margin is not None
        and hit.cosine is not None
        and hit.cosine_next is not None
        and hit.cosine >= t.embed_cosine
        and round(hit.cosine - hit.cosine_next, 4) >= margin
    )


def embed_margin(photos: int | None, t: Thresholds) -> float | None:
    """How far above every other object the embedding must put one, for a search over ``photos``
    registry photos; None below the smallest registry it was calibrated on."""
    if photos is None:
        return None
    return next((m for size, m in sorted(t.embed_margins, reverse=True) if photos >= size), None)


def near_by_embedding(hit: Hit, t: Thresholds) -> bool:
    """Is the registry photo among the few the embedding search found most similar?"""
    return hit.cosine_rank is not None and hit.cosine_rank <= t.embed_near


def tier(hit: Hit, t: Thresholds) -> str | None:
    """``strong``, ``review`` or None for one piece of evidence.

    Verification promotes (a crop, a collage tile, a weak hash match) and demotes: a hash match the local
    features contradict drops a tier. A match on the border-trimmed view or on one part of the photo
    compares a smaller picture, often little more than the object's outline, which objects of one type
    share, so unless it is near-exact it must be verified.
    Evidence from local features alone counts only for a registry photo that the descriptor votes over
    the whole registry also picked or, to be ``strong``, the embedding search. A photo without features
    to compare (``inliers`` None) keeps the hashes' word; mirrored variants are compared with the
    registry photo's mirror-image features. The embedding alone (``by_embedding``) earns ``review``
    where nothing else does, unless the hues or another object's local features speak against it; only
    verification makes such a match ``strong``.
    """
    by_hash = hash_tier(hit, t)
    ok = verified(hit, t, by_hash)
    near = near_by_embedding(hit, t)
    if ok and hit.inliers >= t.strong_inliers and (by_hash or hit.votes or near):
        return "strong"
    if not ok and hit.colour < t.min_colour:
        return None  # the hues disagree and no local features vouch for the match
    checkable = hit.inliers is not None
    if checkable and not ok and hit.other_inliers >= max(t.outvoted_inliers, hit.inliers + 1):
        return None  # the local features agree better with another registry object
    alone = by_embedding(hit, t)
    if by_hash and checkable and not ok and hit.view != "full" and hit.pdq > t.trim_exact_pdq:
        return "review" if alone else None
    if by_hash == "strong":
        if not checkable or ok or hit.pdq <= t.unverified_strong_pdq:
            return "strong"
        return t.weakly_supported if hit.inliers >= t.contradict_inliers else t.contradicted
    if by_hash == "review":
        return "review" if ok or not checkable or alone else None
    if ok and hit.votes and hit.colour >= t.min_colour:
        return "review"
    return "review" if alone else None


def score(hit: Hit) -> float:
    """0-100, higher is more alike: PDQ bits agreeing beyond chance, or verified inliers if more."""
    by_hash = max(0.0, 100.0 * (128 - hit.pdq) / 128)
    by_features = (
        min(100.0, 2.0 * (hit.inliers or 0)) if hit.inliers and hit.inliers > hit.other_inliers else 0
    )
    return round(max(by_hash, by_features), 1)


def better(hit: Hit, other: Hit | None, t: Thresholds) -> bool:
    """Is ``hit`` better evidence than ``other``? A total order, so ties resolve the same on every run."""
    return other is None or rank_key(hit, t) < rank_key(other, t)


def rank_key(hit: Hit, t: Thresholds) -> tuple:
    """Sort key of evidence, best first: tier, verified inliers, embedding similarity, then hash
    distances."""
    order = {"strong": 0, "review": 1, None: 2}[tier(hit, t)]
    return (
        order,
        -(hit.inliers or 0),
        -(hit.cosine or 0.0),
        hit.pdq,
        hit.phash,
        hit.dhash,
        hit.view != "full",
        hit.variant,
        hit.registry_image_id,
        hit.listing_image_id or 0,
    )
