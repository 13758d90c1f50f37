"""Retro-matching: which stored listings a registry change can affect, found from their stored signals.

A listing photo's matches depend only on the registry photos its search shortlists and on those photos'
own signals (``registry_index.rank_photo``): the hash shortlist holds the registry photos closest by
PDQ within ``SEARCH_RADIUS``, the vote shortlist the photos with most descriptor votes, each vote passing
Lowe's ratio test against the second-nearest registry descriptor. Registry photos added, replaced or
taken out of matching (a record withdrawn, a bank switched off) can therefore change a listing photo's
matches only if

- a changed photo, as it is or as it was, has a hash variant within ``SEARCH_RADIUS`` of one of the
  listing photo's views: otherwise the photos within the radius, and so the hash shortlist, are the
  same; or
- the listing photo's descriptor votes before the change differ from those after it. After: one search
  of the full descriptor index (the search a match begins with, without the verification that makes
  matching cost). Before: only descriptors with a changed descriptor within their ratio test's reach
  (their second-nearest neighbour) can have voted otherwise; for them the two nearest neighbours among
  the unchanged descriptors and the changed records' photos as the index held them then
  (``matched_photos``) give the old vote.

A listing that passes both tests for every photo is matched exactly as a full re-match would match it,
and is marked up to date without matching. Listings holding a candidate on a changed record, or on a
photo whose votes changed, are re-matched whatever the tests say (cheap, and a candidate withdrawn or
revived is then certain to be rewritten).

Where the descriptor index is approximate (``IndexBinaryIVF``, above ``descindex.EXACT_LIMIT``
descriptors), a full re-match retrains its coarse quantizer on the changed registry, so its votes for an
unaffected listing can differ slightly from those the listing got when it was matched; a retro-match
keeps the earlier answer. With the exact index the two are the same.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
from sqlite_utils import Database

from . import hashes, store
from .descindex import PER_PHOTO, DescriptorIndex, spread
from .features import FEATURE_VERSION
from .index import FlatCodes, hex_to_words
from .registry_index import SEARCH_RADIUS, VOTE_SHORTLIST

__all__ = ["RetroPlan", "ChangedPhotos", "plan_retro", "remember_index", "FULL_SHARE"]

# Above this share of the registry's records changed, every stored listing is simply re-matched: the
# check then finds most listings affected anyway (docs/benchmarks.md, retro-matching).
FULL_SHARE = 0.25
MIN_VOTES = 3  # as ``DescriptorIndex.votes``
_BATCH = 256  # listing photos read and searched at once
_FAR = np.iinfo(np.int32).max  # no descriptor to compare with: nothing is near
_SAME_AS_INDEX = f"""
    SELECT DISTINCT ri.id, ri.object_id, ri.sha256 FROM registry_images ri
    JOIN registry_objects o ON o.id = ri.object_id
    JOIN image_hashes h ON h.sha256 = ri.sha256 AND h.variant = 'full/r0' AND h.hash_version = ?
    WHERE ri.error IS NULL AND ri.matchable = 1 AND {store.ACTIVE_RECORD}"""  # RegistryIndex.from_db's


@dataclass
class RetroPlan:
    """Which stored listings a match run checks against the changed records and which it re-matches."""

    checked: set[int] = field(default_factory=set)
    affected: set[int] = field(default_factory=set)
    changed: set[int] = field(default_factory=set)  # registry records changed since the last run
    full: bool = False  # so many records changed that every checked listing is re-matched


class ChangedPhotos:
    """The changed records' photos: hash variants of all of them, as they are and as they were, and
    their vote-index descriptors as the index holds them now (``now``) and held them then (``then``)."""

    def __init__(self, pdq: list[str], now: dict[int, np.ndarray], then: dict[int, np.ndarray]):
        self.codes = FlatCodes(hex_to_words(pdq, 256) if pdq else np.zeros((0, 4), np.uint64))
        self.now_ids = set(now)
        self.then_ids, self.then = _flat(then)
        self.now_photo_ids = np.array(sorted(now), dtype=np.int64)
        _, self.now = _flat(now)
        self.photos = self.now_ids | set(then)

    @classmethod
    def from_db(
        cls, db: Database, objects: set[int], old_photos: set[str], indexed: set[int]
    ) -> ChangedPhotos:
        """Load the photos of ``objects`` now (those of them in the index: ``indexed``) and as the index
        held them at the last run (``matched_photos``), and the ``old_photos`` they replaced."""
        now_rows, then_rows = [], []
        for chunk in _chunks(sorted(objects)):
            marks = ",".join("?" * len(chunk))
            now_rows += db.execute(
                f"SELECT id, sha256 FROM registry_images WHERE object_id IN ({marks}) AND sha256 IS NOT NULL",
                chunk,
            ).fetchall()
            then_rows += db.execute(
                f"SELECT id, sha256 FROM matched_photos WHERE object_id IN ({marks})", chunk
            ).fetchall()
        now_rows = [(i, sha) for i, sha in now_rows if i in indexed]
        shas = sorted(old_photos | {sha for _, sha in now_rows + then_rows})
        pdq: list[str] = []
        desc: dict[str, np.ndarray] = {}
        for chunk in _chunks(shas):
            hashed, featured = _signals(db, chunk, "%", registry=True)
            pdq.extend(p for views in hashed.values() for p in views)
            desc.update(featured)
        return cls(
            pdq,
            {i: desc[sha] for i, sha in now_rows if sha in desc},
            {i: desc[sha] for i, sha in then_rows if sha in desc},
        )

    def near_hash(self, views: dict[str, list[str]]) -> set[str]:
        """The photos (keys) with a view (PDQ hashes) within ``SEARCH_RADIUS`` of a changed variant."""
        queries = [(sha, code) for sha, codes in views.items() for code in codes]
        if not queries or not len(self.codes):
            return set()
        dist, _ = self.codes.nearest([code for _, code in queries], 1)
        return {sha for (sha, _), d in zip(queries, dist[:, 0].tolist(), strict=True) if d <= SEARCH_RADIUS}


class VoteCheck:
    """Would a listing photo's descriptors have voted the same before the change as they do now?

    Follows ``DescriptorIndex.votes``: each query descriptor votes for the photo of its nearest registry
    descriptor when that is nearer than ``ratio`` times the second-nearest; the ``VOTE_SHORTLIST``
    photos with most votes, at least ``MIN_VOTES``, are shortlisted with their counts. Keep the two in
    step (tests/test_retro_match.py checks the "after" side against ``votes``).
    """

    def __init__(self, descriptors: DescriptorIndex, changed: ChangedPhotos):
        self.full, self.changed = descriptors, changed
        self.ids = descriptors.ids  # FAISS label (photo position) -> registry photo id
        # Descriptors of the changed photos in the index now, and in the index before the change.
        self.k_now = int(changed.now.ntotal)
        self.total_now = int(descriptors.index.ntotal)
        self.total_then = self.total_now - self.k_now + int(changed.then.ntotal)

    def same(self, queries: list[np.ndarray]) -> list[bool]:
        """For each photo's descriptors: is its vote shortlist (photos and counts) the same before and
        after, and free of changed photos? One search of each index for all the photos together."""
        sizes = [len(q) for q in queries]
        if not sum(sizes):
            return [True] * len(queries)
        query = np.concatenate([q for q in queries if len(q)])
        votes, reach = self._now(query)
        before = votes.copy()
        near = np.minimum(_nearest(self.changed.then, query), _nearest(self.changed.now, query)) <= reach
        if near.any():
            before[near] = self._then(query[near])
        ends = np.cumsum(sizes)[:-1]
        return [self._same(a, b) for a, b in zip(np.split(votes, ends), np.split(before, ends), strict=True)]

    def _same(self, votes: np.ndarray, before: np.ndarray) -> bool:
        after = _shortlist(votes) if self.total_now >= 2 else []
        then = _shortlist(before) if self.total_then >= 2 else []
        return after == then and not any(p in self.changed.photos for p, _ in after)

    def _now(self, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each descriptor's vote (registry photo id, -1 for none) and ratio-test reach, now."""
        if self.total_now < 2:
            return np.full(len(query), -1, np.int64), np.full(len(query), _FAR, np.int64)
        dist, label = self.full.index.search(np.ascontiguousarray(query), 2)
        second = label[:, 1] >= 0
        votes = np.where(
            second & (dist[:, 0] < self.full.ratio * dist[:, 1]), self.ids[np.maximum(label[:, 0], 0)], -1
        )
        return votes.astype(np.int64), np.where(second, dist[:, 1], _FAR).astype(np.int64)

    def _then(self, query: np.ndarray) -> np.ndarray:
        """The votes of ``query`` descriptors in the index before the change: the unchanged descriptors
        (the full index without the changed photos' current ones) and the changed photos as they were."""
        k = min(self.total_now, 2 + self.k_now)
        dist, label = self.full.index.search(np.ascontiguousarray(query), k)
        old_dist, old_label = (
            self.changed.then.search(np.ascontiguousarray(query), 2)
            if self.changed.then.ntotal
            else (np.zeros((len(query), 0), np.int32), np.zeros((len(query), 0), np.int64))
        )
        # The two nearest unchanged descriptors: the nearest not of a changed photo's current ones.
        photo = self.ids[np.maximum(label, 0)]
        keep = (label >= 0) & ~np.isin(photo, self.changed.now_photo_ids)
        rank = np.cumsum(keep, axis=1)
        cols = [np.argmax(keep & (rank == r), axis=1) for r in (1, 2)]
        rows = np.arange(len(query))
        dists = [np.where(rank[:, -1] >= r, dist[rows, c], _FAR) for r, c in zip((1, 2), cols, strict=True)]
        photos = [photo[rows, c] for c in cols]
        for c in range(old_dist.shape[1]):  # and the changed photos' descriptors as they were
            ok = old_label[:, c] >= 0
            dists.append(np.where(ok, old_dist[:, c], _FAR))
            photos.append(self.changed.then_ids[np.maximum(old_label[:, c], 0)] if ok.any() else photos[0])
        d, p = np.stack(dists, axis=1).astype(np.int64), np.stack(photos, axis=1)
        order = np.argsort(d, axis=1, kind="stable")
        d1, d2 = d[rows, order[:, 0]], d[rows, order[:, 1]]
        votes = np.where((d2 < _FAR) & (d1 < self.full.ratio * d2), p[rows, order[:, 0]], -1)
        return votes


def plan_retro(
    db: Database,
    descriptors: DescriptorIndex,
    version: str,
    through: int,
    progress: Callable[[int, int], None] | None = None,
) -> RetroPlan:
    """Check the listings matched by this ``version`` of the matcher but not through registry change
    ``through`` against the records changed since the last run: which must be matched again."""
    last = last_run(db)
    objects, old_photos = store.registry_changes(db, last, through)
    rows = db.execute(
        "SELECT listing_id, sha256, error IS NULL AND matchable = 1, COALESCE(matched_change, 0) "
        "FROM listing_images WHERE matched_version = ? AND COALESCE(matched_change, 0) < ?",
        [version, through],
    ).fetchall()
    plan = RetroPlan(checked={r[0] for r in rows}, changed=objects)
    total = db.execute("SELECT count(*) FROM registry_objects").fetchone()[0]
    if len(objects) > FULL_SHARE * max(total, 1) or not _has_snapshot(db, last):
        plan.full, plan.affected = True, set(plan.checked)
        return plan
    # Matched through another change than the last run's (a run stopped half-way): match again.
    plan.affected = {r[0] for r in rows if r[3] != last} | (_holders(db, objects) & plan.checked)
    if not objects:
        return plan
    changed = ChangedPhotos.from_db(db, objects, old_photos, set(descriptors.ids.tolist()))
    photos: dict[str, set[int]] = {}
    for listing_id, sha, usable, _ in rows:
        if usable and sha and listing_id not in plan.affected:
            photos.setdefault(sha, set()).add(listing_id)
    from threadpoolctl import threadpool_limits

    # Many small FAISS searches: OpenMP threads spin against each other and against the other matching
    # process on a busy machine (3-6x slower measured with two threads on two loaded cores).
    with threadpool_limits(limits=1, user_api="openmp"):
        for sha in _near(db, changed, VoteCheck(descriptors, changed), photos, progress):
            plan.affected |= photos[sha]
    return plan


def last_run(db: Database) -> int:
    """The registry change the last complete match run matched every stored listing through."""
    row = db.execute("SELECT through FROM retro_state WHERE id = 1").fetchone()
    return int(row[0]) if row else 0


def remember_index(db: Database, through: int, objects: set[int] | None) -> None:
    """After a complete run: the index's photos of the changed ``objects`` (all, if None) as they are
    now, and the change the stored listings are matched through."""
    if objects is None:
        db.execute("DELETE FROM matched_photos")
        db.execute(
            f"INSERT INTO matched_photos (id, object_id, sha256) {_SAME_AS_INDEX}", [hashes.HASH_VERSION]
        )
    for chunk in _chunks(sorted(objects or ())):
        marks = ",".join("?" * len(chunk))
        db.execute(f"DELETE FROM matched_photos WHERE object_id IN ({marks})", chunk)
        db.execute(
            f"INSERT OR REPLACE INTO matched_photos (id, object_id, sha256) {_SAME_AS_INDEX} "
            f"AND ri.object_id IN ({marks})",
            [hashes.HASH_VERSION, *chunk],
        )
    db.execute("INSERT OR REPLACE INTO retro_state (id, through) VALUES (1, ?)", [through])


def _has_snapshot(db: Database, last: int) -> bool:
    """Is there a record of the index of the last run (not before the first run of this code)?"""
    return db.execute("SELECT 1 FROM retro_state WHERE id = 1 AND through = ?", [last]).fetchone() is not None


def _near(
    db: Database,
    changed: ChangedPhotos,
    votes: VoteCheck,
    photos: dict[str, set[int]],
    progress: Callable[[int, int], None] | None,
) -> Iterable[str]:
    """The listing photos (SHA-256) a changed photo comes near by hash, or whose votes it changes."""
    shas = sorted(photos)
    for done, chunk in enumerate(_chunks(shas), start=1):
        views, featured = _signals(db, chunk, "%/r0", registry=False)  # what a match queries with
        near = changed.near_hash(views)
        rest = [sha for sha in chunk if sha not in near]
        same = votes.same([featured.get(sha, _NONE) for sha in rest])
        near.update(sha for sha, ok in zip(rest, same, strict=True) if not ok)
        yield from sorted(near)
        if progress:
            progress(min(done * _BATCH, len(shas)), len(shas))


_NONE = np.zeros((0, 32), np.uint8)


def _shortlist(votes: np.ndarray) -> list[tuple[int, int]]:
    """``DescriptorIndex.votes``' answer from each descriptor's vote: photos ranked by votes, then by
    position in the index (which follows the registry photo id)."""
    counts = Counter(votes[votes >= 0].tolist())
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:VOTE_SHORTLIST]
    return [(int(p), c) for p, c in ranked if c >= MIN_VOTES]


def _flat(photos: dict[int, np.ndarray]):
    """An exact FAISS index of some photos' descriptors, labelled by position in the returned ids."""
    import faiss  # as registry_index: only matching needs it

    index = faiss.IndexBinaryFlat(256)
    ids = np.array(sorted(photos), dtype=np.int64)
    if len(ids):
        parts = [photos[i] for i in ids.tolist()]
        index.add(np.ascontiguousarray(np.concatenate(parts)))
        ids = np.repeat(ids, [len(p) for p in parts])
    return ids, index


def _nearest(index, query: np.ndarray) -> np.ndarray:
    """Each descriptor's distance to the nearest in ``index`` (``_FAR`` if it is empty)."""
    if not index.ntotal:
        return np.full(len(query), _FAR, np.int64)
    dist, _ = index.search(np.ascontiguousarray(query), 1)
    return dist[:, 0].astype(np.int64)


def _signals(
    db: Database, shas: list[str], variants: str, registry: bool
) -> tuple[dict[str, list[str]], dict[str, np.ndarray]]:
    """PDQ hashes of the photos' ``variants`` (a LIKE pattern) and their descriptors: all of a listing
    photo's (it queries with all), those the vote index keeps of a ``registry`` photo. By this code's
    versions: a photo hashed or featured by other code takes no part in matching."""
    marks = ",".join("?" * len(shas))
    pdq: dict[str, list[str]] = {}
    for sha, code in db.execute(
        f"SELECT sha256, pdq FROM image_hashes WHERE sha256 IN ({marks}) AND hash_version = ? "
        "AND variant LIKE ? ORDER BY sha256, variant",
        [*shas, hashes.HASH_VERSION, variants],
    ):
        pdq.setdefault(sha, []).append(code)
    desc: dict[str, np.ndarray] = {}
    for sha, xy_blob, own in db.execute(
        f"SELECT sha256, xy, desc FROM image_features WHERE sha256 IN ({marks}) AND feature_version = ?",
        [*shas, FEATURE_VERSION],
    ):
        own_desc = np.frombuffer(own, np.uint8).reshape(-1, 32) if own else np.zeros((0, 32), np.uint8)
        if registry:  # a registry photo: the descriptors the vote index holds of it (``DescriptorIndex``)
            xy = np.frombuffer(xy_blob, np.float16).astype(np.float32).reshape(-1, 2)
            own_desc = own_desc[spread(xy, PER_PHOTO)]
        if len(own_desc):
            desc[sha] = own_desc
    return pdq, desc


def _holders(db: Database, objects: set[int]) -> set[int]:
    """Listings with an image candidate (any tier, NULL included: it may revive) on one of ``objects``."""
    found: set[int] = set()
    for chunk in _chunks(sorted(objects)):
        marks = ",".join("?" * len(chunk))
        found.update(
            r[0]
            for r in db.execute(
                f"SELECT DISTINCT listing_id FROM candidates WHERE kind = 'image' "
                f"AND registry_object_id IN ({marks})",
                chunk,
            )
        )
    return found


def _chunks(items: list, size: int = _BATCH) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
