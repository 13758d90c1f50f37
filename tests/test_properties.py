"""Property tests (hypothesis): the index answers exactly what a brute-force scan does; verdicts
survive any sequence of re-crawls, re-matches and registry imports; re-running is idempotent."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher.db import connect, store
from matcher.search.index import HammingIndex, hamming
from matcher.text.screen import screen_listings
from matcher.text.textmatch import match_texts

hex256 = st.binary(min_size=32, max_size=32).map(bytes.hex)


@given(st.lists(hex256, min_size=1, max_size=60), hex256, st.integers(0, 256), st.integers(1, 80))
def test_index_equals_brute_force(hashes, query, radius, k):
    index = HammingIndex(hashes, 256)
    brute = sorted((hamming(h, query), i) for i, h in enumerate(hashes))
    within = [[i, d] for d, i in brute if d <= radius]
    assert index.search(query, radius=radius).tolist() == within
    assert index.search(query, k=k).tolist() == [[i, d] for d, i in brute[:k]]
    assert index.distances(query).tolist() == [hamming(h, query) for h in hashes]


TEXTS = st.sampled_from(
    [
        ("Sumerian alabaster idol", "Acquired in the 1990s. No export documents. H. 14.5 cm, W. 9 cm"),
        ("Roman bronze lamp", "Published in the 1968 catalogue, no. 12; export licence no. 4711."),
        ("Modern replica of a cylinder seal", "Resin, made in 2019."),
    ]
)
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("crawl"), st.integers(1, 4), TEXTS),
        st.tuples(st.just("import"), st.integers(1, 3), st.sampled_from(["14.5 x 9 cm", "30 x 20 cm"])),
        st.tuples(st.just("withdraw"), st.integers(1, 3)),
        st.tuples(st.just("match"), st.booleans()),
        st.tuples(st.just("verdict"), st.sampled_from(["confirmed", "dismissed", "escalated", "note"])),
    ),
    max_size=14,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(STEPS)
def test_verdicts_survive_any_sequence_and_reruns_change_nothing(tmp_path_factory, steps):
    db = connect.open_db(tmp_path_factory.mktemp("prop") / "p.db")
    given_verdicts = []
    for step in steps:
        if step[0] == "crawl":
            _, lot, (title, text) = step
            item = {"site": "s", "lot_id": str(lot), "title": title, "description": text}
            store.upsert_listing(db, {**item, "content_sha256": json.dumps(item)})
        elif step[0] == "import":
            _, n, size = step
            store.upsert_registry_object(
                db,
                {"source": "r", "source_id": str(n), "title": "Alabaster votive idol", "measurements": size},
            )
        elif step[0] == "withdraw":
            store.withdraw_unseen(db, "r", {str(n) for n in range(1, 4) if n != step[1]})
        elif step[0] == "match":
            screen_listings(db, rescreen_all=step[1])
            match_texts(db, rematch_all=step[1])
        else:
            candidate = next(iter(db.query("SELECT id FROM candidates ORDER BY id LIMIT 1")), None)
            if candidate:
                db.table("reviews").insert(
                    {
                        "candidate_id": candidate["id"],
                        "verdict": step[1],
                        "reviewer": "a",
                        "created_at": connect.now(),
                    }
                )
                given_verdicts.append((candidate["id"], step[1]))
        kept = [(r["candidate_id"], r["verdict"]) for r in db.query("SELECT * FROM reviews ORDER BY id")]
        assert kept == given_verdicts  # never lost, never changed
        assert all(db.table("candidates").get(cid) for cid, _ in kept)  # their candidate rows stay
    screen_listings(db)
    match_texts(db)
    before = list(db.query("SELECT * FROM candidates ORDER BY id"))
    screen_listings(db, rescreen_all=True)
    match_texts(db, rematch_all=True)
    assert list(db.query("SELECT * FROM candidates ORDER BY id")) == before  # re-running changes nothing
