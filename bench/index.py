"""Benchmark the exact Hamming index against a naive layout, in the same process.

    python bench/index.py [--n 1000000] [--queries 20]

Baselines: the same hashes as unpacked bit arrays (one uint8 per bit), compared with ``!=`` and summed,
the layout FIELD.md calls naive; and an (n, 4) uint64 matrix XORed row-wise, lootwatch's first layout.
Prints a table and writes it into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import write_section
from matcher.search.index import HammingIndex


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=20)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 256, size=(args.n, 32), dtype=np.uint8)
    hexes = [r.tobytes().hex() for r in raw]
    index = HammingIndex(hexes, 256)
    bits = np.unpackbits(raw, axis=1)
    queries = [hexes[int(i)] for i in rng.integers(0, args.n, args.queries)]

    matrix = np.stack(index._cols, axis=1)

    def row_wise(q: str) -> np.ndarray:
        qw = np.frombuffer(bytes.fromhex(q), dtype=">u8").astype(np.uint64)
        return np.bitwise_count(matrix ^ qw).sum(axis=1, dtype=np.int32)

    def naive(q: str) -> np.ndarray:
        qbits = np.unpackbits(np.frombuffer(bytes.fromhex(q), dtype=np.uint8))
        return (bits != qbits).sum(axis=1)

    assert all(np.array_equal(index.distances(q), naive(q)) for q in queries[:2])
    assert all(np.array_equal(index.distances(q), row_wise(q)) for q in queries[:2])
    t_index = _time(index.distances, queries)
    t_rows = _time(row_wise, queries)
    t_naive = _time(naive, queries)
    rows = [
        ("4 contiguous uint64 columns + bitwise_count (lootwatch)", t_index, 1.0),
        ("(n, 4) uint64 matrix, row-wise XOR + bitwise_count", t_rows, t_rows / t_index),
        ("unpacked bits, != and sum (naive)", t_naive, t_naive / t_index),
    ]
    table = [
        f"Exact 256-bit PDQ search, {args.n:,} hashes, {args.queries} queries, one core "
        f"({platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}, {date.today()}):",
        "",
        "| layout | ms per query | time / lootwatch time |",
        "|---|---|---|",
        *[f"| {name} | {t * 1000:.1f} | {ratio:.1f}x |" for name, t, ratio in rows],
    ]
    print("\n".join(table))
    _write(table)


def _time(fn, queries) -> float:
    fn(queries[0])
    start = time.perf_counter()
    for q in queries:
        fn(q)
    return (time.perf_counter() - start) / len(queries)


def _write(table: list[str]) -> None:
    write_section("index.py", "Hamming index", table)


if __name__ == "__main__":
    main()
