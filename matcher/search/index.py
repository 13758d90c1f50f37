"""Exact Hamming search over hex hashes with numpy ``bitwise_count``.

Hashes are held as uint64 columns (four for a 256-bit PDQ, one for a 64-bit pHash or dHash), the layout
that makes a brute-force scan of a million hashes take milliseconds. Every query returns exactly what a
brute-force comparison would: there is no approximation here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["FlatCodes", "HammingIndex", "hex_to_words", "hamming"]

_CHUNK = 65_536  # hashes compared at a time: 1.5 MB of buffers, fastest for 1 to 3 queries at 1M


def hex_to_words(hexes: Sequence[str], bits: int) -> np.ndarray:
    """Pack hex hashes of ``bits`` bits into an (n, bits/64) uint64 array."""
    words = bits // 64
    if not hexes:
        return np.zeros((0, words), dtype=np.uint64)
    raw = b"".join(bytes.fromhex(h.rjust(bits // 4, "0")) for h in hexes)
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64).reshape(len(hexes), words)


def hamming(a: str, b: str) -> int:
    """Hamming distance between two hex hashes of the same length."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


class HammingIndex:
    """All hashes of one kind, searchable by Hamming distance.

    >>> idx = HammingIndex(["00000000000000ff", "00000000000001ff", "0000000000000000"], bits=64)
    >>> idx.search("00000000000000ff", radius=1).tolist()
    [[0, 0], [1, 1]]
    """

    def __init__(self, hexes: Sequence[str], bits: int):
        if bits <= 0 or bits % 64:
            raise ValueError("bits must be a positive multiple of 64")
        self._set(hex_to_words(list(hexes), bits))

    @classmethod
    def from_words(cls, words: np.ndarray) -> HammingIndex:
        """An index over an (n, bits/64) uint64 array of already packed hashes."""
        index = cls.__new__(cls)
        words = np.asarray(words, dtype=np.uint64)
        index._set(words if words.ndim == 2 else words.reshape(len(words), -1))
        return index

    def _set(self, words: np.ndarray) -> None:
        self.bits = 64 * words.shape[1]
        # One contiguous array per 64-bit word: XOR and popcount then stream through memory once,
        # about 5x faster than XOR over the (n, words) matrix row by row (bench/index.py).
        self._cols = [np.ascontiguousarray(words[:, i]) for i in range(words.shape[1])]
        self._n = words.shape[0]

    def __len__(self) -> int:
        return self._n

    def distances(self, query: str, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Hamming distance from ``query`` to every stored hash (or those in ``start:stop``), in order."""
        return self._closest(hex_to_words([query], self.bits), start, stop).astype(np.int32)

    def _closest(self, queries: np.ndarray, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Distance from each stored hash in ``start:stop`` to the closest of ``queries`` (m, words).

        Chunks small enough to stay in cache: each query's XOR and popcount then reuse the same
        buffers, and several queries cost one pass through memory."""
        stop = self._n if stop is None else stop
        out = np.empty(max(0, stop - start), dtype=np.uint16)
        size = min(_CHUNK, out.size)
        xor, count = np.empty(size, np.uint64), np.empty(size, np.uint8)
        dist = np.empty(size, np.uint16)
        for lo in range(start, stop, _CHUNK):
            hi = min(stop, lo + _CHUNK)
            best = out[lo - start : hi - start]
            best[:] = self.bits
            x, c, d = xor[: hi - lo], count[: hi - lo], dist[: hi - lo]
            for q in queries:
                d[:] = 0
                for col, word in zip(self._cols, q, strict=True):
                    np.bitwise_xor(col[lo:hi], word, out=x)
                    np.bitwise_count(x, out=c)
                    d += c
                np.minimum(best, d, out=best)
        return out

    @property
    def nbytes(self) -> int:
        return sum(c.nbytes for c in self._cols)

    def search(
        self, query: str | Sequence[str], radius: int | None = None, k: int | None = None
    ) -> np.ndarray:
        """Rows ``[position, distance]`` of stored hashes within ``radius`` and/or the ``k`` nearest, by
        the distance to ``query`` (or to the closest of several queries, in one pass).

        Sorted by distance, then position, so ties come out in a stable order.
        """
        queries = [query] if isinstance(query, str) else list(query)
        dist = self._closest(hex_to_words(queries, self.bits))
        if radius is not None:
            # Filter before widening: a radius keeps a handful of a million rows.
            pos = np.flatnonzero(dist <= radius)
            dist = dist[pos].astype(np.int64)
        else:
            pos, dist = np.arange(dist.size), dist.astype(np.int64)
        order = np.lexsort((pos, dist))
        if k is not None:
            order = order[:k]
        return np.stack([pos[order], dist[order]], axis=1)


class FlatCodes:
    """All hashes of one kind as FAISS binary codes: the ``k`` nearest rows to several queries in one
    pass, 3-4x faster than the column scan when a shortlist, not every row within a radius, is wanted
    (docs/benchmarks.md); the codes are held once, by FAISS.

    >>> codes = FlatCodes(hex_to_words(["00" * 31 + "ff", "00" * 31 + "fe", "ff" * 32], 256))
    >>> codes.nearest(["00" * 32], k=2)[0].tolist(), codes.distances("00" * 32, 0, 3).tolist()
    ([[7, 8]], [8, 7, 256])
    """

    def __init__(self, words: np.ndarray):
        import faiss  # only a registry index needs it

        words = np.asarray(words, dtype=np.uint64)
        self.bits = 64 * words.shape[1]
        self._index = faiss.IndexBinaryFlat(self.bits)
        if len(words):
            self._index.add(_as_codes(words))
        size = self._index.ntotal * self.bits // 8
        self._codes = (
            faiss.rev_swig_ptr(self._index.xb.data(), size).reshape(-1, self.bits // 8)
            if size
            else np.zeros((0, self.bits // 8), np.uint8)
        )

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @property
    def nbytes(self) -> int:
        return self._codes.nbytes

    def nearest(self, queries: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """(distances, positions), each (len(queries), k): each query's ``k`` nearest rows, closest first
        (position -1 where there are fewer rows)."""
        codes = _as_codes(hex_to_words(list(queries), self.bits))
        dist, pos = self._index.search(codes, max(1, min(k, len(self))))
        return dist.astype(np.int32), pos

    def distances(self, query: str, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Hamming distance from ``query`` to the rows ``start:stop``, in order."""
        rows = self._codes[start:stop]
        return np.bitwise_count(rows ^ _as_codes(hex_to_words([query], self.bits))).sum(
            axis=1, dtype=np.int32
        )

    def search(self, query: str, radius: int) -> np.ndarray:
        """Rows ``[position, distance]`` within ``radius`` of ``query``, by distance, then position."""
        _, dist, pos = self._index.range_search(_as_codes(hex_to_words([query], self.bits)), radius + 1)
        dist, pos = np.asarray(dist, dtype=np.int64), np.asarray(pos, dtype=np.int64)
        order = np.lexsort((pos, dist))
        return np.stack([pos[order], dist[order]], axis=1)


def _as_codes(words: np.ndarray) -> np.ndarray:
    """Packed (n, words) uint64 hashes as the (n, bytes) uint8 rows FAISS takes, most significant first."""
    return np.ascontiguousarray(words.astype(">u8")).view(np.uint8)
