"""Exact cosine search of photo embeddings (``matcher/photo/embed.py``) over every registry photo.

Each indexed registry photo contributes one unit-length row per view (the whole photo and, when it has a
border, the photo trimmed): a FAISS ``IndexFlatIP`` gives the exact inner products, which for unit vectors
are the cosines. Exact search costs a pass over every row per query; at 1280 float32 a row (5 KB) a million
registry photos with two views each take about 10 GB and tens of milliseconds a query: past a few million
rows an inverted file over a scalar-quantised copy (``IndexIVFScalarQuantizer``) is what to switch to
(docs/benchmarks.md measures the cost of quantising).

A photo's similarity to a query is the best cosine between any of the query's views and any of its own;
its rank is 1 + the number of indexed photos more similar (cosines are clamped to at most 1: float16
vectors of unit length can give 1.0001); ``next_other`` is the best similarity of a
photo that no record of the object holds. Values below ``FLOOR`` are not told apart: a search and a
retro-match (``matcher/search/retro.py``) then agree on every value they store.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..photo.embed import DIM

__all__ = ["EmbeddingIndex", "Nearest", "FLOOR", "NEAREST_ROWS", "SHORTLIST"]

FLOOR = 0.5  # below this cosine two photos share little more than being photos of small objects
NEAREST_ROWS = 64  # rows each query view takes from the index; ranks beyond them are not told
SHORTLIST = 5  # most similar registry photos (at least FLOOR) sent on to geometric verification


@dataclass
class Nearest:
    """The registry photos most similar to one query photo."""

    cosine: dict[int, float]  # indexed photo -> its best cosine, for every photo among the nearest rows
    bound: float  # no photo outside ``cosine`` comes closer than this
    photos: int  # indexed photos in all

    def ranked(self) -> list[tuple[int, float]]:
        """``(photo, cosine)`` most similar first (ties by photo id, so every run agrees)."""
        return sorted(self.cosine.items(), key=lambda pc: (-pc[1], pc[0]))

    def rank(self, cosine: float) -> int | None:
        """1 + the photos more similar than ``cosine``; None when photos outside the nearest rows could
        be (the rank is then larger than those rows tell), or under ``FLOOR``."""
        if cosine < max(self.bound, FLOOR):
            return None
        return 1 + sum(c > cosine for c in self.cosine.values())


class EmbeddingIndex:
    """The view embeddings of every indexed registry photo, searched exactly by inner product."""

    def __init__(self, rows: Iterable[tuple[int, np.ndarray]]):
        """``rows``: ``(indexed registry photo id, float16 or float32 vector of shape (1280,))``, one per
        view."""
        import faiss

        photos: list[int] = []
        vectors: list[np.ndarray] = []
        for photo, vector in rows:
            photos.append(int(photo))
            vectors.append(np.asarray(vector, dtype=np.float32).reshape(DIM))
        order = np.argsort(np.array(photos, dtype=np.int64), kind="stable")
        self.photo = np.array(photos, dtype=np.int64)[order]
        ids, starts = np.unique(self.photo, return_index=True)
        ends = np.append(starts[1:], len(self.photo))[: len(starts)]
        self._span = {int(i): (int(s), int(e)) for i, s, e in zip(ids, starts, ends, strict=True)}
        # The vectors are held once, by FAISS; a photo's own rows are read back from it (reconstruct_n).
        self.index = faiss.IndexFlatIP(DIM)
        for start in range(0, len(order), 65_536):
            self.index.add(np.stack([vectors[i] for i in order[start : start + 65_536]]))

    def __len__(self) -> int:
        return len(self._span)

    @property
    def nbytes(self) -> int:
        """Memory the vectors and their photo ids take."""
        return int(self.index.ntotal * DIM * 4 + self.photo.nbytes)

    def cosine(self, photo: int, queries: np.ndarray) -> float | None:
        """The best cosine between any of ``queries`` (views, shape (m, 1280)) and one indexed photo's
        views; None for a photo without embeddings."""
        span = self._span.get(photo)
        if span is None or not len(queries):
            return None
        own = self.index.reconstruct_n(span[0], span[1] - span[0])
        # Unit vectors stored as float16 can give an inner product a hair above 1 (1.0001): a cosine is
        # at most 1, and every value reported and stored comes from here.
        return min(float((own @ queries.T).max()), 1.0)

    def nearest(self, views: dict[str, np.ndarray]) -> Nearest | None:
        """The registry photos most similar to a photo given by its views' embeddings; None when either
        side has none."""
        if not views or not len(self.photo):
            return None
        queries = np.stack([np.asarray(v, dtype=np.float32).reshape(DIM) for v in views.values()])
        k = min(NEAREST_ROWS, len(self.photo))
        scores, rows = self.index.search(queries, k)
        bound = -1.0 if k == len(self.photo) else min(float(scores[:, -1].max()), 1.0)
        found = {int(self.photo[r]) for r in rows.ravel().tolist() if r >= 0}
        # Exact best cosine of every photo found, over all query views and all its own views.
        cosine = {p: round(c, 4) for p in found if (c := self.cosine(p, queries)) is not None}
        return Nearest(cosine, round(bound, 4), len(self))
