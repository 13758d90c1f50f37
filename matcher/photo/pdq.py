"""PDQ, Meta's 256-bit perceptual hash (https://github.com/facebook/ThreatExchange/tree/main/pdq), in numpy.

The reference filters every pixel with four 1-D box filters (two passes of Jarosz's tent), then keeps 64x64
of them. Those steps are linear and separable, so here they are one 64 x n matrix per side length,
applied to the luma as ``rows @ luma @ cols.T``: the same numbers, several times faster than the
``pdqhash`` bindings on 512 px photos (docs/benchmarks.md, Speed and memory). The rest is the
reference's: quality from the 64x64 gradients, the 16x16 DCT coefficients after the DC term, one bit per
coefficient above their median.
tests/test_pdq.py holds it to the ``pdqhash`` bindings of the C++ code.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from threadpoolctl import ThreadpoolController

__all__ = ["pdq_of_luma", "luma_cells", "hash_of_cells", "quality_of_cells"]

CELLS = 64  # the reference's downsample
WINDOW_DIVISOR = 128  # box window = side / 128, rounded up: two passes cover one cell
_BLAS = ThreadpoolController()


def pdq_of_luma(luma: np.ndarray) -> tuple[str, int]:
    """PDQ hash (64 hex digits) and quality 0-100 of a 2-D luma array (0.299 R + 0.587 G + 0.114 B)."""
    # BLAS threads on products this small cost 30x when the cores are busy (9 ms a picture instead of
    # 0.3, beside two matching processes): lootwatch works in parallel over pictures, not inside one.
    with _BLAS.limit(limits=1, user_api="blas"):
        cells = luma_cells(luma)
        return hash_of_cells(cells), quality_of_cells(cells)


def luma_cells(luma: np.ndarray) -> np.ndarray:
    """The reference's 64x64 downsample: two X,Y passes of box filters, then one sample per cell."""
    taps, weights = _row_taps(luma.shape[0])
    # Only the rows the downsample keeps are filtered: a weighted sum of each one's few neighbours.
    rows = np.matmul(weights[:, None, :], luma[taps]).reshape(CELLS, luma.shape[1])
    return rows @ _operator(luma.shape[1]).T


def quality_of_cells(cells: np.ndarray) -> int:
    """The reference's quality: the sum of the significant gradients between neighbouring cells."""
    down = np.trunc((cells[:-1] - cells[1:]) * 100 / 255)
    across = np.trunc((cells[:, :-1] - cells[:, 1:]) * 100 / 255)
    return min(100, int(np.abs(down).sum() + np.abs(across).sum()) // 90)


def hash_of_cells(cells: np.ndarray) -> str:
    """One bit per 16x16 DCT coefficient (without DC) above their median, as the reference prints it."""
    coefficients = (_DCT @ cells @ _DCT.T).ravel()
    median = np.partition(coefficients, 127)[127]  # the lower median, as the reference's Torben select
    # Bit i*16+j is coefficient (i, j); the reference prints its sixteen 16-bit words last first.
    return np.packbits(coefficients[::-1] > median).tobytes().hex()


def _box(n: int, window: int) -> np.ndarray:
    """The reference's 1-D box filter as an n x n matrix: output o averages inputs o-a to o+b, fewer at
    the edges (for an even window the extra input is on the right)."""
    half = (window + 2) // 2
    left, right = window - half, half - 1
    o = np.arange(n)[:, None]
    inputs = np.arange(n)[None, :]
    inside = (inputs >= o - left) & (inputs <= o + right)
    return inside / inside.sum(axis=1, keepdims=True)


@lru_cache(maxsize=64)
def _operator(n: int) -> np.ndarray:
    """Box-filter twice, then keep one sample per cell: a 64 x n matrix for a side of n pixels."""
    box = _box(n, -(-n // WINDOW_DIVISOR))
    kept = ((np.arange(CELLS) + 0.5) * n / CELLS).astype(np.int64)
    return (box[kept] @ box).astype(np.float32)


@lru_cache(maxsize=64)
def _row_taps(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The non-zero band of each row of ``_operator(n)``: input indices and their weights (64 x k)."""
    op = _operator(n)
    nonzero = op != 0
    first = nonzero.argmax(axis=1)
    width = int((n - nonzero[:, ::-1].argmax(axis=1) - first).max())
    index = first[:, None] + np.arange(width)[None, :]
    outside = index >= n
    index[outside] = n - 1
    weights = np.take_along_axis(op, index, axis=1)
    weights[outside] = 0
    return index, weights


_DCT = (
    np.sqrt(2 / CELLS) * np.cos(np.pi / (2 * CELLS) * np.arange(1, 17)[:, None] * (2 * np.arange(CELLS) + 1))
).astype(np.float32)
