import numpy as np
import pytest

from matcher.index import HammingIndex, hamming, hex_to_words


def random_hashes(n, bits, seed=0):
    rng = np.random.default_rng(seed)
    return ["".join(f"{b:02x}" for b in rng.integers(0, 256, bits // 8)) for _ in range(n)]


def test_hex_to_words_round_trip():
    h = random_hashes(3, 256)
    words = hex_to_words(h, 256)
    assert words.shape == (3, 4)
    assert "".join(f"{int(w):016x}" for w in words[1]) == h[1]


@pytest.mark.parametrize("bits", [64, 256])
def test_search_equals_brute_force(bits):
    stored = random_hashes(500, bits, seed=1)
    query = random_hashes(1, bits, seed=2)[0]
    index = HammingIndex(stored, bits)
    brute = sorted((hamming(query, h), i) for i, h in enumerate(stored))
    radius = brute[20][0]
    got = index.search(query, radius=radius).tolist()
    assert got == [[i, d] for d, i in brute if d <= radius]
    assert index.search(query, k=5).tolist() == [[i, d] for d, i in brute[:5]]


def test_empty_index():
    index = HammingIndex([], 256)
    assert len(index) == 0
    assert index.search("0" * 64, radius=10).shape == (0, 2)


def test_rejects_odd_bit_counts():
    with pytest.raises(ValueError):
        HammingIndex(["00"], 8)


def test_from_words_and_slices():
    stored = random_hashes(50, 256, seed=3)
    index = HammingIndex.from_words(hex_to_words(stored, 256))
    full = HammingIndex(stored, 256).distances(stored[7])
    assert np.array_equal(index.distances(stored[7]), full)
    assert np.array_equal(index.distances(stored[7], 5, 10), full[5:10])
    assert len(HammingIndex.from_words(np.zeros((0, 4), np.uint64))) == 0


def test_several_queries_across_chunks_equal_brute_force():
    stored = random_hashes(40_000, 256, seed=4)  # more than one chunk of the scan
    queries = random_hashes(3, 256, seed=5)
    index = HammingIndex(stored, 256)
    closest = [min(hamming(q, h) for q in queries) for h in stored]
    radius = sorted(closest)[30]
    got = index.search(queries, radius=radius).tolist()
    assert got == sorted(([i, d] for i, d in enumerate(closest) if d <= radius), key=lambda r: (r[1], r[0]))
    assert np.array_equal(
        index.distances(queries[1], 16_000, 33_000)[:5],
        [hamming(queries[1], h) for h in stored[16_000:16_005]],
    )
