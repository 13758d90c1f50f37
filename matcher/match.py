"""Match listing photos against the registry and write object-level candidates.

Each listing photo is ranked against the registry (``registry_index.rank_photo``: hash search over every
registry photo variant, descriptor votes, geometric verification); the best evidence over all photos of
a lot, per registry object, decides the candidate's tier. Every distance and inlier count is stored.

A run matches the listings this code has not matched yet, then retro-matches: the stored listings are
checked against the registry records changed since they were matched (``retro.plan_retro``, from their
stored signals, without verification), and only those a change can affect are matched again.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
from sqlite_utils import Database

from .db import connect, store
from .decide.evidence import Hit, Thresholds, better, embed_margin, score, tier
from .photo import embed, hashes
from .photo.features import FEATURE_VERSION, Features
from .search.registry_index import RegistryIndex, rank_photo
from .search.retro import RetroPlan, apply_revotes, plan_retro, remember_votes, vote_shortlist

__all__ = ["MATCHER_VERSION", "Matching", "match_listings"]

# Changing the matcher, the hashes or the features makes every listing photo due for matching again
# (match-3: vote shortlists kept for retro-matching; one photo under several records, twins; match-5:
# learned embeddings).
MATCHER_VERSION = f"match-5;{hashes.HASH_VERSION};{FEATURE_VERSION};{embed.EMBED_VERSION}"

Progress = Callable[[int, int], None]


def match_listings(
    db: Database,
    rematch_all: bool = False,
    t: Thresholds | None = None,
    progress: Progress | None = None,
    check_progress: Progress | None = None,
) -> dict[str, int]:
    """Match listings not yet matched by this matcher, and retro-match those a registry change since
    their last match can affect (all of them with ``rematch_all``); see ``Matching``."""
    run = Matching(db, rematch_all, t)
    run.check(check_progress)
    return run.match(progress)


class Matching:
    """One match run, in two steps so each can show its own progress: ``check`` finds the stored
    listings that registry changes can affect, ``match`` matches them and the new ones.

    Candidates are keyed by (listing, registry object): re-running converges on the same rows, and a
    candidate that no longer holds keeps its row (and its verdicts) with ``tier`` NULL. Photos whose
    hashes predate the current code are skipped here; ``ingest.refresh`` brings them up to date first.
    Listing photos remember the matcher's code version (``matched_version``) and the registry change they
    are matched through (``matched_change``, a number in ``registry_changes``).
    """

    def __init__(self, db: Database, rematch_all: bool = False, t: Thresholds | None = None):
        self.db, self.t, self.rematch_all = db, t or Thresholds(), rematch_all
        # Read before the index is built: a change made meanwhile is in the index or comes next time.
        self.through = store.registry_change_seq(db)
        self.index = RegistryIndex.from_db(db)
        # The embedding's margin depends on the registry's size (evidence.embed_margin): when the size
        # crosses into another band every listing is matched again, as after a change of code.
        searched = len(self.index.embeddings) if self.index.embeddings is not None else 0
        self.version = f"{MATCHER_VERSION};margin-{embed_margin(searched, self.t)}"
        where = "1=1" if rematch_all else "COALESCE(matched_version, '') != :v"
        self.due = [
            r[0]
            for r in db.execute(
                f"SELECT DISTINCT listing_id FROM listing_images WHERE {where} ORDER BY listing_id",
                {"v": self.version},
            )
        ]
        self.plan = RetroPlan()

    def check(self, progress: Progress | None = None) -> RetroPlan:
        """Find the matched listings that the registry changes since their match can affect."""
        if not self.rematch_all:
            with _one_openmp_thread():
                self.plan = plan_retro(
                    self.db, self.index, self.version, self.through, self.t.sure_votes, progress
                )
        return self.plan

    def match(self, progress: Progress | None = None) -> dict[str, int]:
        """Match the new listings and those ``check`` found; mark every other one matched through the
        latest registry change. Returns counts."""
        todo = sorted(set(self.due) | self.plan.affected)
        counts = {
            "listings": len(todo),
            "checked": len(self.plan.checked),
            "rematched": len(self.plan.affected - set(self.due)),
            "changed_records": len(self.plan.changed),
            "registry_variants": len(self.index),
            "candidates": 0,
        }
        with _one_openmp_thread():
            for n, listing_id in enumerate(todo, start=1):
                counts["candidates"] += _match_listing(
                    self.db, self.index, listing_id, self.t, self.through, self.version
                )
                if progress:
                    progress(n, len(todo))
        # Only now: a run stopped before this point checks the same listings again next time.
        with connect.atomic(self.db):
            apply_revotes(self.db, self.plan.revotes)
            if self.index.embeddings is not None:
                apply_registry_size(self.db, len(self.index.embeddings))
            self.db.execute(
                "UPDATE listing_images SET matched_change = :c "
                "WHERE matched_version = :v AND COALESCE(matched_change, 0) < :c",
                {"c": self.through, "v": self.version},
            )
            store.prune_registry_changes(self.db, self.through)
        return counts


def _one_openmp_thread():
    """FAISS searches (the vote index, PDQ codes) on one OpenMP thread while matching.

    One photo's search is small: with two threads on two cores that other work (a crawl, a second
    match) also uses, OpenMP's threads wait on each other, and a vote search took 0.42 s instead of
    about 0.013 s (load average 14 on 2 cores, 2026-11-29); the same choice as PDQ's one BLAS thread.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="openmp")


def _match_listing(
    db: Database, index: RegistryIndex, listing_id: int, t: Thresholds, through: int, version: str
) -> int:
    best: dict[int, Hit] = {}
    shortlists: dict[str, list[list[int]]] = {}
    for image_id, sha, views, features in _photos(db, listing_id):
        # What the photo's votes were, so that a registry change that leaves them alone needs no match.
        shortlists[sha] = vote_shortlist(index, features)
        votes = [(p, c) for p, c in shortlists[sha]]
        for hit in rank_photo(index, views, features, t, votes, _embeddings(db, sha)):
            hit.listing_image_id = image_id
            if tier(hit, t) and better(hit, best.get(hit.object_id), t):
                best[hit.object_id] = hit
    with connect.atomic(db):
        written = _write_candidates(db, listing_id, best, t, version)
        for sha, votes in shortlists.items():
            remember_votes(db, sha, votes)
        db.execute(
            "UPDATE listing_images SET matched_version = ?, matched_change = ? WHERE listing_id = ?",
            [version, through, listing_id],
        )
    return written


def _photos(db: Database, listing_id: int) -> list[tuple[int, str, dict[str, dict], Features | None]]:
    rows = list(
        db.query(
            "SELECT li.id, li.sha256, h.variant, h.pdq, h.phash, h.dhash, h.quality, h.colour, f.xy, f.desc, "
            "f.colour AS photo_colour "
            "FROM listing_images li "
            "JOIN image_hashes h ON h.sha256 = li.sha256 AND h.hash_version = ? "
            "LEFT JOIN image_features f ON f.sha256 = li.sha256 AND f.feature_version = ? "
            "WHERE li.listing_id = ? AND li.error IS NULL AND li.matchable = 1 AND h.variant LIKE '%/r0' "
            "ORDER BY li.id, h.variant",
            [hashes.HASH_VERSION, FEATURE_VERSION, listing_id],
        )
    )
    photos: dict[int, tuple[str, dict[str, dict], Features | None]] = {}
    for r in rows:
        feats = Features.from_blobs(r["xy"], r["desc"], r["photo_colour"]) if r["desc"] is not None else None
        photos.setdefault(r["id"], (r["sha256"], {}, feats))[1][r["variant"]] = r
    return [(i, sha, views, feats) for i, (sha, views, feats) in photos.items()]


def _embeddings(db: Database, sha256: str) -> dict[str, np.ndarray]:
    """A stored photo's view embeddings by the current code."""
    return {
        view: np.frombuffer(vector, dtype=np.float16)
        for view, vector in db.execute(
            "SELECT view, vector FROM image_embeddings WHERE sha256 = ? AND embed_version = ? ORDER BY view",
            [sha256, embed.EMBED_VERSION],
        )
    }


def apply_registry_size(db: Database, photos: int) -> None:
    """Write how many registry photos the embedding search covered (``cosine_of``) into the evidence of
    every candidate that records a rank, as matching them again would: a registry change moves that
    count for every lot, and retro-matching re-matches only the lots it can otherwise affect."""
    rows = db.execute(
        "SELECT id, evidence_json FROM candidates WHERE kind = 'image' AND tier IS NOT NULL "
        "AND json_extract(evidence_json, '$.cosine_of') IS NOT NULL "
        "AND json_extract(evidence_json, '$.cosine_of') != ?",
        [photos],
    ).fetchall()
    for cid, evidence_json in rows:
        evidence = json.loads(evidence_json)
        evidence["cosine_of"] = photos
        db.execute(
            "UPDATE candidates SET evidence_json = ?, updated_at = ? WHERE id = ?",
            [json.dumps(evidence, sort_keys=True), connect.now(), cid],
        )


def _write_candidates(
    db: Database, listing_id: int, best: dict[int, Hit], t: Thresholds, version: str
) -> int:
    store.sync_candidates(
        db,
        listing_id,
        "image",
        {
            obj_id: {
                "tier": tier(hit, t),
                "score": score(hit),
                "pdq_distance": hit.pdq,
                "phash_distance": hit.phash,
                "dhash_distance": hit.dhash,
                "inliers": hit.inliers,
                "variant": f"{hit.view}:{hit.variant}",
                "listing_image_id": hit.listing_image_id,
                "registry_image_id": hit.registry_image_id,
                "evidence_json": json.dumps(hit.evidence(), sort_keys=True),
                "matcher_version": version,
            }
            for obj_id, hit in best.items()
        },
    )
    return len(best)
