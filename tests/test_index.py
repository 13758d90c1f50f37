import numpy as np
import pytest

from matcher.search.index import HammingIndex, hamming, hex_to_words


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


def registry_row(pdq: str, image: int, variant: int) -> dict:
    """One hash variant of a registry photo, as ``RegistryIndex.from_rows`` takes it."""
    return {
        "pdq": pdq,
        "phash": "0" * 16,
        "dhash": "0" * 16,
        "quality": 100,
        "variant": f"full/r{variant}",
        "registry_image_id": image,
        "object_id": image,
    }


def test_registry_shortlist_is_what_a_scan_would_pick():
    from matcher.search.registry_index import SEARCH_RADIUS, RegistryIndex

    rng = np.random.default_rng(11)
    base = rng.integers(0, 2**63, size=(4,), dtype=np.uint64)
    rows = []
    for image in range(400):  # many photos near one another, so k nearest rows run out inside the radius
        for v in range(16):
            words = base.copy()
            for _ in range(int(rng.integers(0, 40))):
                words[rng.integers(4)] ^= np.uint64(1) << np.uint64(rng.integers(64))
            rows.append(registry_row("".join(f"{int(w):016x}" for w in words), image, v))
    index = RegistryIndex.from_rows(rows, {})
    hexes = [r["pdq"] for r in rows]
    scan = HammingIndex(hexes, 256)
    for _ in range(5):
        views = {f"v{j}/r0": {"pdq": hexes[int(rng.integers(len(hexes)))]} for j in range(3)}
        closest: dict[int, int] = {}
        for pos, dist in scan.search([h["pdq"] for h in views.values()], radius=SEARCH_RADIUS).tolist():
            closest.setdefault(rows[pos]["registry_image_id"], dist)
        expected = sorted(closest, key=lambda i: (closest[i], i))[:5]
        assert index.shortlist(views, 5) == expected


def test_registry_shortlist_when_the_nearest_rows_are_all_ties():
    from matcher.search.registry_index import RegistryIndex

    same = "ab" * 32
    rows = [
        registry_row(same if image < 7 else random_hashes(1, 256, seed=image)[0], image, v)
        for image in range(40)
        for v in range(16)
    ]
    index = RegistryIndex.from_rows(rows, {})
    assert index.shortlist({"full/r0": {"pdq": same}}, 5) == [0, 1, 2, 3, 4]


def test_flat_codes_agree_with_the_column_scan():
    from matcher.search.index import FlatCodes

    hexes = random_hashes(3000, 256, seed=4)
    scan, codes = HammingIndex(hexes, 256), FlatCodes(hex_to_words(hexes, 256))
    query = hexes[17]
    assert codes.distances(query, 100, 900).tolist() == scan.distances(query, 100, 900).tolist()
    assert codes.search(query, 110).tolist() == scan.search(query, radius=110).tolist()
    dist, pos = codes.nearest([query, hexes[5]], 4)
    assert dist[0].tolist() == sorted(scan.distances(query).tolist())[:4] and pos[0][0] == 17
