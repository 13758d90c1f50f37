"""Retro-matching: which stored listings a registry change can affect, found from their stored signals.

A listing photo's matches depend only on the registry photos its search shortlists and on those photos'
own signals (``registry_index.rank_photo``): the hash shortlist holds the registry photos closest by
PDQ within ``SEARCH_RADIUS``, the vote shortlist the photos with most descriptor votes. Registry photos
added, replaced or taken out of matching (a record withdrawn, a bank switched off or on) can therefore
change a listing photo's matches only if

- a changed photo, as it is or as it was, has a hash variant within ``SEARCH_RADIUS`` of one of the
  listing photo's views: otherwise the photos within the radius, and so the hash shortlist, are the
  same; or
- a changed photo, as it is or as it was, has a view embedding at a cosine of at least
  ``embindex.FLOOR`` to one of the listing photo's: the embedding shortlist, ranks and the best other
  object's similarity record nothing under that floor (``embindex``), so a photo further away changes
  none of them (only the count of photos searched, written into the evidence by
  ``match.apply_registry_size``); or
- the photo's vote shortlist now differs from the one it got at its last match (``listing_votes``) in
  what the evidence depends on, or holds a changed photo (or one with the same bytes as a changed photo:
  the index holds those bytes once, for every record that has them). The ratio test makes each vote
  depend on the whole registry, so the shortlist is asked again of the full descriptor index: one
  search per stored listing photo, which is how a match begins, without the geometric verification
  that makes matching cost. A tier depends on a photo's votes only through "any" and "at least
  ``sure_votes``" (``evidence.tier``; tests/test_retro_match.py holds it to that), so a shortlist
  that names the same photos, each on the same side of ``sure_votes``, gives the same candidates; only
  the counts their evidence records change, and those are written into it without matching (in a
  small registry a new photo moves a vote or two of most listing photos).

A listing that passes both tests for every photo is matched exactly as a full re-match would match it,
and is marked up to date without matching. Listings holding a candidate (any tier, NULL included: it may
revive) on a changed record are re-matched whatever the tests say: a candidate on a withdrawn record must
lose its tier even where the index is otherwise unchanged.

This holds with the approximate descriptor index too (``IndexBinaryIVF``, above
``descindex.EXACT_LIMIT`` descriptors), whose coarse quantizer is trained anew on the changed registry:
the shortlists are asked of the same index a full re-match would use.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
from sqlite_utils import Database

from ..db import connect, store
from ..photo import embed, hashes
from ..photo.features import FEATURE_VERSION, Features
from . import registry_index
from .embindex import FLOOR
from .index import FlatCodes, hex_to_words
from .registry_index import SEARCH_RADIUS, RegistryIndex

__all__ = [
    "RetroPlan",
    "ChangedPhotos",
    "plan_retro",
    "apply_revotes",
    "vote_shortlist",
    "remember_votes",
    "FULL_SHARE",
]

# Above this share of the registry's records changed, every stored listing is simply re-matched: the
# check then finds most listings affected anyway (docs/benchmarks.md, retro-matching).
FULL_SHARE = 0.25
_BATCH = 256  # listing photos read and searched at once


@dataclass
class RetroPlan:
    """Which stored listings a match run checks against the changed records and which it re-matches."""

    checked: set[int] = field(default_factory=set)
    affected: set[int] = field(default_factory=set)
    changed: set[int] = field(default_factory=set)  # registry records changed since the listings' match
    full: bool = False  # so many records changed that every checked listing is re-matched
    # Listing photos whose vote counts moved without changing their evidence but for the counts it
    # records: the new shortlist, written into their candidates' evidence without matching.
    revotes: dict[str, list[list[int]]] = field(default_factory=dict)


class ChangedPhotos:
    """The changed records' photos: every hash variant of them as they are and as they were, and the
    registry photo ids that stand for those bytes in the index."""

    def __init__(self, pdq: list[str], ids: set[int], vectors: np.ndarray | None = None):
        self.codes = FlatCodes(hex_to_words(pdq, 256) if pdq else np.zeros((0, 4), np.uint64))
        self.ids = ids
        self.vectors = vectors if vectors is not None else np.zeros((0, embed.DIM), np.float32)

    @classmethod
    def from_db(cls, db: Database, objects: set[int], old_photos: set[str]) -> ChangedPhotos:
        """Load the photos of ``objects`` (in matching or not) and the ``old_photos`` they replaced."""
        shas, ids = set(old_photos), set()
        for chunk in _chunks(sorted(objects)):
            rows = _in(db, "SELECT id, sha256 FROM registry_images WHERE object_id IN ({})", chunk)
            ids.update(i for i, _ in rows)
            shas.update(sha for _, sha in rows if sha)
        pdq: list[str] = []
        vectors: list[np.ndarray] = []
        for chunk in _chunks(sorted(shas)):
            ids.update(i for (i,) in _in(db, "SELECT id FROM registry_images WHERE sha256 IN ({})", chunk))
            pdq += [p for (p,) in _in(db, _HASHES, chunk, [hashes.HASH_VERSION])]
            vectors += [
                np.frombuffer(v, dtype=np.float16).astype(np.float32)
                for (v,) in _in(db, _EMBEDDINGS, chunk, [embed.EMBED_VERSION])
            ]
        return cls(pdq, ids, np.stack(vectors) if vectors else None)

    def near_embedding(self, embeddings: dict[str, np.ndarray]) -> set[str]:
        """The photos (keys) with a view embedding (stacked, shape (m, 1280)) at a cosine of at least
        ``FLOOR`` to a changed photo's."""
        if not len(self.vectors):
            return set()
        return {
            sha
            for sha, queries in embeddings.items()
            if len(queries) and round(float((queries @ self.vectors.T).max()), 4) >= FLOOR
        }

    def near_hash(self, views: dict[str, list[str]]) -> set[str]:
        """The photos (keys) with a view (PDQ hashes) within ``SEARCH_RADIUS`` of a changed variant."""
        queries = [(sha, code) for sha, codes in views.items() for code in codes]
        if not queries or not len(self.codes):
            return set()
        dist, _ = self.codes.nearest([code for _, code in queries], 1)
        return {sha for (sha, _), d in zip(queries, dist[:, 0].tolist(), strict=True) if d <= SEARCH_RADIUS}


_HASHES = "SELECT pdq FROM image_hashes WHERE sha256 IN ({}) AND hash_version = ?"
_EMBEDDINGS = "SELECT vector FROM image_embeddings WHERE sha256 IN ({}) AND embed_version = ?"


def vote_shortlist(index: RegistryIndex, features: Features | None) -> list[list[int]]:
    """The descriptor vote shortlist ``rank_photo`` gets for a photo, as ``[[registry photo, votes]]``
    (``registry_index.vote_shortlist``, the one call both use)."""
    return [[int(p), int(c)] for p, c in registry_index.vote_shortlist(index, features)]


def remember_votes(db: Database, sha256: str, votes: list[list[int]]) -> None:
    """Keep the vote shortlist a listing photo got at its match."""
    db.execute(
        "INSERT OR REPLACE INTO listing_votes (sha256, votes) VALUES (?, ?)", [sha256, json.dumps(votes)]
    )


def plan_retro(
    db: Database,
    index: RegistryIndex,
    version: str,
    through: int,
    sure_votes: int,
    progress: Callable[[int, int], None] | None = None,
) -> RetroPlan:
    """Check the listings matched by this ``version`` of the matcher but not through registry change
    ``through`` against the records changed since: which must be matched again."""
    rows = db.execute(
        "SELECT listing_id, sha256, error IS NULL AND matchable = 1, COALESCE(matched_change, 0) "
        "FROM listing_images WHERE matched_version = ? AND COALESCE(matched_change, 0) < ?",
        [version, through],
    ).fetchall()
    if not rows:
        return RetroPlan()
    # Since the earliest: a listing matched later is checked against a few changes twice, which is safe.
    objects, old_photos = store.registry_changes(db, min(r[3] for r in rows), through)
    plan = RetroPlan(checked={r[0] for r in rows}, changed=objects)
    total = db.execute("SELECT count(*) FROM registry_objects").fetchone()[0]
    if len(objects) > FULL_SHARE * max(total, 1):
        plan.full, plan.affected = True, set(plan.checked)
        return plan
    plan.affected = _holders(db, objects) & plan.checked
    changed = ChangedPhotos.from_db(db, objects, old_photos)
    photos: dict[str, set[int]] = {}
    for listing_id, sha, usable, _ in rows:
        if usable and sha and listing_id not in plan.affected:
            photos.setdefault(sha, set()).add(listing_id)
    for sha in _affected_photos(db, index, changed, photos, sure_votes, plan.revotes, progress):
        plan.affected |= photos[sha]
    return plan


def apply_revotes(db: Database, revotes: dict[str, list[list[int]]]) -> None:
    """Write the new vote counts into the evidence of the candidates that rest on these listing photos,
    as matching them again would, and keep the new shortlists."""
    for sha, votes in revotes.items():
        counts = dict(map(tuple, votes))
        rows = db.execute(
            "SELECT c.id, c.evidence_json, (SELECT group_concat(same.id) FROM registry_images same "
            "WHERE same.sha256 = ri.sha256 OR same.id = ri.id) FROM candidates c "
            "JOIN listing_images li ON li.id = c.listing_image_id "
            "JOIN registry_images ri ON ri.id = c.registry_image_id "
            "WHERE li.sha256 = ? AND c.kind = 'image' AND c.tier IS NOT NULL",
            [sha],
        ).fetchall()
        for cid, evidence_json, same in rows:
            evidence = json.loads(evidence_json)
            # The votes a hit carries are those of the photo the index holds for its bytes.
            new = next((counts[int(i)] for i in same.split(",") if int(i) in counts), 0)
            if evidence.get("votes") != new:
                evidence["votes"] = new
                db.execute(
                    "UPDATE candidates SET evidence_json = ?, updated_at = ? WHERE id = ?",
                    [json.dumps(evidence, sort_keys=True), connect.now(), cid],
                )
        remember_votes(db, sha, votes)


def _affected_photos(
    db: Database,
    index: RegistryIndex,
    changed: ChangedPhotos,
    photos: dict[str, set[int]],
    sure_votes: int,
    revotes: dict[str, list[list[int]]],
    progress: Callable[[int, int], None] | None,
) -> Iterable[str]:
    """The listing photos (SHA-256) a changed photo comes near by hash, or whose vote shortlist changed
    or holds a changed photo."""
    shas = sorted(photos)
    for done, chunk in enumerate(_chunks(shas), start=1):
        views, features, stored = _signals(db, chunk)
        near = changed.near_hash(views) | changed.near_embedding(_embeddings(db, chunk))
        for sha in chunk:
            if sha in near or sha not in views:  # no hashes by this code: the match skips the photo
                continue
            votes = vote_shortlist(index, features.get(sha))
            if any(p in changed.ids for p, _ in votes) or not _same_votes(stored.get(sha), votes, sure_votes):
                near.add(sha)
            elif votes != stored.get(sha):
                revotes[sha] = votes
        yield from sorted(near)
        if progress:
            progress(min(done * _BATCH, len(shas)), len(shas))


def _same_votes(before: list[list[int]] | None, now: list[list[int]], sure: int) -> bool:
    """Would the vote shortlist ``now`` give the tiers that ``before`` gave? The same photos, each on
    the same side of ``sure`` votes (the counts themselves go into the evidence: ``apply_revotes``)."""
    if before is None:
        return False
    a, b = dict(map(tuple, before)), dict(map(tuple, now))
    return a.keys() == b.keys() and all((a[p] >= sure) == (b[p] >= sure) for p in a)


def _signals(
    db: Database, shas: list[str]
) -> tuple[dict[str, list[str]], dict[str, Features], dict[str, list[list[int]]]]:
    """The PDQ hashes of the views a match queries with, the local features and the stored vote
    shortlists of some listing photos, by this code's versions."""
    views: dict[str, list[str]] = {}
    for sha, code in _in(
        db,
        "SELECT sha256, pdq FROM image_hashes WHERE sha256 IN ({}) AND hash_version = ? "
        "AND variant LIKE '%/r0' ORDER BY sha256, variant",
        shas,
        [hashes.HASH_VERSION],
    ):
        views.setdefault(sha, []).append(code)
    features = {
        sha: Features.from_blobs(xy, desc)
        for sha, xy, desc in _in(
            db,
            "SELECT sha256, xy, desc FROM image_features WHERE sha256 IN ({}) AND feature_version = ?",
            shas,
            [FEATURE_VERSION],
        )
        if desc is not None
    }
    stored = {
        sha: json.loads(votes)
        for sha, votes in _in(db, "SELECT sha256, votes FROM listing_votes WHERE sha256 IN ({})", shas)
    }
    return views, features, stored


def _embeddings(db: Database, shas: list[str]) -> dict[str, np.ndarray]:
    """The view embeddings of some listing photos by this code, stacked per photo (float32)."""
    rows: dict[str, list[np.ndarray]] = {}
    for sha, vector in _in(
        db,
        "SELECT sha256, vector FROM image_embeddings WHERE sha256 IN ({}) AND embed_version = ? "
        "ORDER BY sha256, view",
        shas,
        [embed.EMBED_VERSION],
    ):
        rows.setdefault(sha, []).append(np.frombuffer(vector, dtype=np.float16).astype(np.float32))
    return {sha: np.stack(v) for sha, v in rows.items()}


def _holders(db: Database, objects: set[int]) -> set[int]:
    """Listings with an image candidate (any tier, NULL included: it may revive) on one of ``objects``."""
    sql = "SELECT DISTINCT listing_id FROM candidates WHERE kind = 'image' AND registry_object_id IN ({})"
    return {r[0] for chunk in _chunks(sorted(objects)) for r in _in(db, sql, chunk)}


def _in(db: Database, sql: str, values: list, extra: list | None = None) -> list[tuple]:
    """Run ``sql`` with its ``IN ({})`` filled with one placeholder per value."""
    return db.execute(sql.format(",".join("?" * len(values))), [*values, *(extra or [])]).fetchall()


def _chunks(items: list, size: int = _BATCH) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
