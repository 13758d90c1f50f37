"""Everything known about the registry's photos, in memory, and the search of one photo against it.

Built once per process from the database: the PDQ of every registry photo variant as FAISS binary codes
(exact nearest-row search, ``index.FlatCodes``), their pHash and dHash as numpy columns, and a spread
share of the ORB descriptors of every registry photo (``DescriptorIndex``); the full features are read
back for verification only for the few photos a query shortlists (``StoredFeatures``), and the learned
embedding of every view of every registry photo (``embindex.EmbeddingIndex``, exact cosine search).
``find`` searches it for one photo's hashes, features and embeddings; ``decide.rank`` judges what it
found (``rank_photo`` does both).

One photo, many records: registry photos identical to the byte (SHA-256) are indexed once and stand for
every record that holds them; near-identical ones (re-crops, re-encodes) are told apart from different
pictures by ``twins.Twins``, so no copy masks another in the votes or in the competition between objects,
and a match on a shared photo raises every record that holds it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Protocol

import numpy as np
from sqlite_utils import Database

from ..db import store
from ..decide.evidence import Hit, Thresholds
from ..decide.rank import rank
from ..photo import embed, hashes
from ..photo.features import FEATURE_VERSION, Features
from .descindex import PER_PHOTO, DescriptorIndex
from .embindex import FLOOR, SHORTLIST, EmbeddingIndex, Nearest
from .index import FlatCodes, hex_to_words
from .twins import Twins

__all__ = [
    "RegistryIndex",
    "StoredFeatures",
    "Found",
    "find",
    "rank_photo",
    "vote_shortlist",
    "HASH_SHORTLIST",
    "VOTE_SHORTLIST",
]

HASH_SHORTLIST = 5  # registry photos closest by PDQ that go on to verification
VOTE_SHORTLIST = 5  # registry photos with most shared descriptors that go on to verification
SEARCH_RADIUS = 90  # PDQ bits: beyond this a hash says nothing
_CHUNK = 50_000
TWIN_ASK = 5  # inliers under which local features neither confirm nor contradict (contradict_inliers)
_ROWS_PER_PHOTO = 2 * len(hashes.DIHEDRAL)  # hash variants of a registry photo: 2 views x 8 turns/mirrors


class FeatureLookup(Protocol):
    """Local features by registry photo id: a dict, or ``StoredFeatures`` reading them from the database."""

    def get(self, image_id: int, /) -> Features | None: ...


class RegistryIndex:
    """Hashes (one row per registry photo variant, sorted by photo) and local features of every photo."""

    def __init__(
        self,
        columns: dict[str, np.ndarray],
        variants: list[str],
        features: FeatureLookup,
        mirror_features: FeatureLookup,
        descriptors: DescriptorIndex,
        holders: dict[int, list[tuple[int, int]]] | None = None,
        embeddings: EmbeddingIndex | None = None,
    ):
        """``holders``: for a photo of the index, ``[(registry photo id, object id)]`` of every record that
        holds the same bytes (itself included); a photo not in it is held by its own record only.
        ``embeddings``: the indexed photos' view embeddings (none: no embedding evidence)."""
        self.pdq = FlatCodes(columns["pdq"])
        self.phash, self.dhash = columns["phash"], columns["dhash"]
        self.quality, self.variant = columns["quality"], columns["variant"]
        self.image, self.object = columns["image"], columns["object"]
        self.variants = variants
        ids, starts = np.unique(self.image, return_index=True)
        ends = np.append(starts[1:], len(self.image))[: len(starts)]
        self._span = {int(i): (int(s), int(e)) for i, s, e in zip(ids, starts, ends, strict=True)}
        self.features = features
        self.mirror_features = mirror_features
        self.descriptors = descriptors
        self.holders = holders or {}
        self._indexed_as = {img: photo for photo, held in self.holders.items() for img, _ in held}
        self._photos_of: dict[int, set[int]] = {}  # object -> the indexed photos it holds
        for photo, obj in dict(zip(self.image.tolist(), self.object.tolist(), strict=True)).items():
            self._photos_of.setdefault(obj, set()).add(photo)
        for photo, held in self.holders.items():
            for _, obj in held:
                self._photos_of.setdefault(obj, set()).add(photo)
        self.objects_of: dict[int, set[int]] = {}  # indexed photo -> every object holding it
        for obj, photos in self._photos_of.items():
            for photo in photos:
                self.objects_of.setdefault(photo, set()).add(obj)
        self.twins = Twins(features, mirror_features)
        self.embeddings = embeddings

    @classmethod
    def from_rows(
        cls,
        rows: Iterable[dict],
        features: dict[int, Features],
        mirror_features: dict[int, Features] | None = None,
        per_photo: int = PER_PHOTO,
        embeddings: dict[int, dict[str, np.ndarray]] | None = None,
    ) -> RegistryIndex:
        """Build from dicts with pdq, phash, dhash (hex), quality, variant, registry_image_id, object_id
        and optionally sha256 (photos with the same one are indexed once); ``per_photo`` descriptors of
        each photo go into the vote index; ``embeddings``: registry photo id -> {view: embedding}."""
        builder = _Columns()
        for r in rows:
            builder.add(r)
        columns, variants = builder.finish()
        indexed = set(builder.indexed.values())
        photos = ((i, f) for i, f in features.items() if i in indexed)
        descriptors = DescriptorIndex(photos, per_photo=per_photo)
        vectors = EmbeddingIndex(
            (i, v) for i, views in sorted((embeddings or {}).items()) if i in indexed for v in views.values()
        )
        return cls(columns, variants, features, mirror_features or {}, descriptors, builder.shared(), vectors)

    @classmethod
    def from_db(cls, db: Database) -> RegistryIndex:
        """Load every matchable registry photo (withdrawn records and disabled banks left out), streaming
        rows into arrays."""
        cursor = db.execute(
            f"""
            SELECT h.pdq, h.phash, h.dhash, h.quality, h.variant, ri.id, ri.object_id, ri.sha256
            FROM image_hashes h
            JOIN registry_images ri ON ri.sha256 = h.sha256
            JOIN registry_objects o ON o.id = ri.object_id
            WHERE ri.error IS NULL AND ri.matchable = 1 AND h.hash_version = ?
              AND {store.ACTIVE_RECORD}
            ORDER BY ri.id, h.variant
            """,
            [hashes.HASH_VERSION],
        )
        builder = _Columns()
        while batch := cursor.fetchmany(_CHUNK):
            for pdq, phash, dhash, quality, variant, image, obj, sha in batch:
                builder.add(
                    {
                        "pdq": pdq,
                        "phash": phash,
                        "dhash": dhash,
                        "quality": quality,
                        "variant": variant,
                        "registry_image_id": image,
                        "object_id": obj,
                        "sha256": sha,
                    }
                )
        columns, variants = builder.finish()
        wanted = set(np.unique(columns["image"]).tolist())
        rows = db.execute(
            "SELECT ri.id, f.xy, f.desc FROM registry_images ri "
            "JOIN image_features f ON f.sha256 = ri.sha256 WHERE f.feature_version = ? ORDER BY ri.id",
            [FEATURE_VERSION],
        )
        descriptors = DescriptorIndex(
            (image, Features.from_blobs(xy, desc)) for image, xy, desc in rows if image in wanted
        )
        stored = StoredFeatures(db)
        vectors = db.execute(
            "SELECT ri.id, e.vector FROM registry_images ri JOIN image_embeddings e ON e.sha256 = ri.sha256 "
            "WHERE e.embed_version = ? ORDER BY ri.id, e.view",
            [embed.EMBED_VERSION],
        )
        embeddings = EmbeddingIndex(
            (image, np.frombuffer(vector, dtype=np.float16)) for image, vector in vectors if image in wanted
        )
        return cls(columns, variants, stored, stored.mirrors, descriptors, builder.shared(), embeddings)

    def __len__(self) -> int:
        return len(self.image)

    def same_picture(self, a: Hit, b: Hit) -> bool:
        """Do two hits rest on the same picture: one photo held by two records, or twins? Twins are
        asked only of hits whose local features both agree with the query (``TWIN_ASK`` inliers): an
        answer costs up to three verifications, and a copy of a matched photo matches too."""
        pa = self._indexed_as.get(a.registry_image_id, a.registry_image_id)
        pb = self._indexed_as.get(b.registry_image_id, b.registry_image_id)
        if pa == pb:
            return True
        return min(a.inliers or 0, b.inliers or 0) >= TWIN_ASK and self.twins.same(pa, pb)

    def same_object(self, a: Hit, b: Hit) -> bool:
        """Do two hits' records show the same object as far as their photos tell: the same picture, or
        one record holds a copy of a photo the other one's hit does not rest on (one object listed by two
        registries, each with its own choice of photos)? Asked, like twins, of agreeing hits only."""
        if self.same_picture(a, b):
            return True
        if min(a.inliers or 0, b.inliers or 0) < TWIN_ASK:
            return False
        pa = self._indexed_as.get(a.registry_image_id, a.registry_image_id)
        pb = self._indexed_as.get(b.registry_image_id, b.registry_image_id)
        return any(self.twins.same(p, pb) for p in self._photos_of.get(a.object_id, ()) if p != pa) or any(
            self.twins.same(p, pa) for p in self._photos_of.get(b.object_id, ()) if p != pb
        )

    def held(self, hit: Hit) -> list[Hit]:
        """The hit on an indexed photo as evidence for every record that holds the photo."""
        holders = self.holders.get(hit.registry_image_id)
        if not holders:
            return [hit]
        return [replace(hit, registry_image_id=img, object_id=obj) for img, obj in holders]

    def hit(self, registry_image_id: int, views: dict[str, dict]) -> Hit | None:
        """Hash distances between a photo's views and one registry photo's closest variant."""
        span = self._span.get(registry_image_id)
        if span is None:
            return None
        lo, hi = span
        best: Hit | None = None
        for name, h in views.items():
            pdq = self.pdq.distances(h["pdq"], lo, hi)
            ph = np.bitwise_count(self.phash[lo:hi] ^ np.uint64(int(h["phash"], 16))).astype(np.int32)
            dh = np.bitwise_count(self.dhash[lo:hi] ^ np.uint64(int(h["dhash"], 16))).astype(np.int32)
            for k in np.lexsort((ph, pdq))[:1]:
                cand = Hit(
                    int(self.object[lo + k]),
                    registry_image_id,
                    self.variants[self.variant[lo + k]],
                    int(pdq[k]),
                    int(ph[k]),
                    int(dh[k]),
                    min(int(h["quality"]), int(self.quality[lo + k])),
                    name.split("/")[0],
                )
                if best is None or (cand.pdq, cand.phash, cand.view != "full") < (
                    best.pdq,
                    best.phash,
                    best.view != "full",
                ):
                    best = cand
        return best

    def shortlist(self, views: dict[str, dict], limit: int) -> list[int]:
        """Registry photos whose variants come closest to any view, by PDQ (within ``SEARCH_RADIUS``), at
        most ``limit``: exactly those a scan of every row would pick."""
        queries = [h["pdq"] for h in views.values()]
        k = min(len(self), _ROWS_PER_PHOTO * (limit + 1))
        dist, pos = self.pdq.nearest(queries, k)
        # A row closer to a query than that query's k-th row was found. Where a query's k nearest all lie
        # within the radius, rows at its k-th distance or beyond may be missing: only photos closer than
        # that are known exactly, and they must fill the shortlist.
        cut = SEARCH_RADIUS + 1
        if k < len(self):
            cut = min(cut, *(int(row[-1]) for row in dist))
        closest = self._closest_images(zip(dist.ravel().tolist(), pos.ravel().tolist(), strict=True), cut)
        if len(closest) < limit and cut <= SEARCH_RADIUS:  # rare: many rows this close
            rows = (row[::-1] for q in queries for row in self.pdq.search(q, SEARCH_RADIUS).tolist())
            closest = self._closest_images(rows, SEARCH_RADIUS + 1)
        return sorted(closest, key=lambda i: (closest[i], i))[:limit]

    def _closest_images(self, rows: Iterable[tuple[int, int]], cut: int) -> dict[int, int]:
        """Registry photo -> its smallest distance among ``(distance, position)`` rows closer than ``cut``."""
        closest: dict[int, int] = {}
        for d, p in rows:
            if p >= 0 and d < cut:
                image = int(self.image[p])
                closest[image] = min(d, closest.get(image, d))
        return closest


def vote_shortlist(index: RegistryIndex, features: Features | None) -> list[tuple[int, int]]:
    """``[(registry photo id, votes)]``: the photos the descriptor votes send on to verification, most
    votes first (twin-aware ratio test, ``twins.Twins``)."""
    if features is None or not len(index):
        return []
    return index.descriptors.votes(features, top=VOTE_SHORTLIST, same=index.twins.same)


@dataclass
class Found:
    """What the registry's searches found for one photo, before anything is judged (``decide.rank``).

    ``hits``: one per registry photo a search shortlisted (the PDQ shortlist, the descriptor votes, the
    embedding's nearest), each with its hash distances, its votes, whether only the embedding brought it,
    and its cosine, with its rank among the registry's photos where the cosine reaches ``FLOOR``.
    ``nearest``: registry photo -> cosine for the photos the embedding search found nearest, and
    ``beyond``: no photo outside them comes closer (at least ``FLOOR``); both empty without embeddings.
    ``refs``: registry photo -> its local features and those of its mirror image (``True``), those known.
    """

    hits: list[Hit]
    nearest: dict[int, float] = field(default_factory=dict)
    beyond: float = FLOOR
    refs: dict[int, list[tuple[Features, bool]]] = field(default_factory=dict)


def find(
    index: RegistryIndex,
    views: dict[str, dict],
    features: Features | None,
    votes: list[tuple[int, int]] | None = None,
    embeddings: dict[str, np.ndarray] | None = None,
) -> Found:
    """Search the registry for one photo: its views' hashes (``views``), its local features and its view
    embeddings (``Fingerprint.embeddings``). ``votes``: the photo's ``vote_shortlist`` where the caller
    already has it (it is searched otherwise)."""
    if not len(index):
        return Found([])
    images = set(index.shortlist(views, HASH_SHORTLIST))
    votes_of = dict(vote_shortlist(index, features) if votes is None else votes)
    images |= set(votes_of)
    searched = set(images)  # what the hashes and the votes found
    near = index.embeddings.nearest(embeddings or {}) if index.embeddings is not None else None
    if near is not None:
        images |= {p for p, c in near.ranked()[:SHORTLIST] if c >= FLOOR}
    queries = (
        np.stack([np.asarray(v, dtype=np.float32) for v in embeddings.values()]) if near is not None else None
    )
    hits = [h for h in (index.hit(i, views) for i in sorted(images)) if h is not None]
    refs = {}
    for h in hits:
        h.votes = votes_of.get(h.registry_image_id, 0)
        h.embedding_only = h.registry_image_id not in searched
        if near is not None:
            _similarity(index, h, near, queries)
        if features is None:
            continue  # nothing to verify: the registry photo's features are not read
        # The registry photo as it is and as its mirror image (ORB is not mirror-invariant).
        refs[h.registry_image_id] = [
            (r, mirrored)
            for r, mirrored in (
                (index.features.get(h.registry_image_id), False),
                (index.mirror_features.get(h.registry_image_id), True),
            )
            if r is not None
        ]
    if near is None:
        return Found(hits, refs=refs)
    return Found(hits, dict(near.cosine), max(FLOOR, near.bound), refs)


def _similarity(index: RegistryIndex, hit: Hit, near: Nearest, queries: np.ndarray) -> None:
    """Set a hit's ``cosine`` and, where it reaches the index's floor, its rank among the registry's
    photos and how many were searched."""
    assert index.embeddings is not None
    cosine = index.embeddings.cosine(hit.registry_image_id, queries)
    if cosine is None:
        return
    hit.cosine = round(cosine, 4)
    if hit.cosine >= FLOOR:
        hit.cosine_rank, hit.cosine_of = near.rank(hit.cosine), near.photos


def rank_photo(
    index: RegistryIndex,
    views: dict[str, dict],
    features: Features | None,
    t: Thresholds,
    votes: list[tuple[int, int]] | None = None,
    embeddings: dict[str, np.ndarray] | None = None,
) -> list[Hit]:
    """The best evidence per registry object for one photo, best first (including hits with no tier):
    ``find`` here, then ``decide.rank.rank``."""
    return rank(index, find(index, views, features, votes, embeddings), views, features, t)


class StoredFeatures:
    """Registry photos' local features, read from the database when verification asks for them: at a
    million photos they would take 30 GB of memory. The last few thousand read are kept."""

    def __init__(self, db: Database, cached: int = 4096):
        self.db = db
        self.both = lru_cache(maxsize=cached)(self._load)
        self.mirrors = _Mirrors(self)

    def get(self, image_id: int) -> Features | None:
        return self.both(image_id)[0]

    def _load(self, image_id: int) -> tuple[Features | None, Features | None]:
        """A photo's features and those of its mirror image, read together."""
        row = self.db.execute(
            "SELECT f.xy, f.desc, f.colour, f.xy_m, f.desc_m FROM registry_images ri "
            "JOIN image_features f ON f.sha256 = ri.sha256 WHERE ri.id = ? AND f.feature_version = ?",
            [image_id, FEATURE_VERSION],
        ).fetchone()
        if row is None:
            return None, None
        xy, desc, colour, xy_m, desc_m = row
        mirror = Features.from_blobs(xy_m, desc_m) if desc_m is not None else None
        return Features.from_blobs(xy, desc, colour), mirror


class _Mirrors:
    """The mirror-image features of ``StoredFeatures``, read with them."""

    def __init__(self, stored: StoredFeatures):
        self.stored = stored

    def get(self, image_id: int) -> Features | None:
        return self.stored.both(image_id)[1]


class _Columns:
    """Accumulates variant rows and packs them into numpy columns, sorted by registry photo."""

    def __init__(self):
        self.pdq: list[str] = []
        self.phash: list[int] = []
        self.dhash: list[int] = []
        self.quality: list[int] = []
        self.variant: list[int] = []
        self.image: list[int] = []
        self.object: list[int] = []
        self.codes: dict[str, int] = {}
        self.indexed: dict[str, int] = {}  # photo bytes (SHA-256) -> the registry photo indexed for them
        self.holders: dict[int, list[tuple[int, int]]] = {}

    def add(self, r: dict) -> None:
        image, obj = int(r["registry_image_id"]), int(r["object_id"])
        photo = self.indexed.setdefault(r.get("sha256") or f"id:{image}", image)
        held = self.holders.setdefault(photo, [])
        if (image, obj) not in held:
            held.append((image, obj))
        if photo != image:
            return  # the same bytes under another record: indexed once, found for both
        self.pdq.append(r["pdq"])
        self.phash.append(int(r["phash"], 16))
        self.dhash.append(int(r["dhash"], 16))
        self.quality.append(int(r["quality"] or 0))
        self.variant.append(self.codes.setdefault(r["variant"], len(self.codes)))
        self.image.append(image)
        self.object.append(obj)

    def shared(self) -> dict[int, list[tuple[int, int]]]:
        """The holders of the photos that more than one registry photo row holds."""
        return {photo: held for photo, held in self.holders.items() if len(held) > 1}

    def finish(self) -> tuple[dict[str, np.ndarray], list[str]]:
        image = np.array(self.image, dtype=np.int64)
        order = np.argsort(image, kind="stable")
        words = (
            np.concatenate(
                [hex_to_words(self.pdq[i : i + _CHUNK], 256) for i in range(0, len(self.pdq), _CHUNK)]
            )
            if self.pdq
            else np.zeros((0, 4), np.uint64)
        )
        columns = {
            "pdq": words[order],
            "phash": np.array(self.phash, dtype=np.uint64)[order],
            "dhash": np.array(self.dhash, dtype=np.uint64)[order],
            "quality": np.array(self.quality, dtype=np.uint8)[order],
            "variant": np.array(self.variant, dtype=np.uint8)[order],
            "image": image[order],
            "object": np.array(self.object, dtype=np.int64)[order],
        }
        return columns, sorted(self.codes, key=self.codes.get)
