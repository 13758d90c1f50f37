"""Batch ingest (matcher/nodes/batches.py) and the fingerprint's JSON form
(matcher/photo/fingerprint_json.py): what a node computed is stored exactly as the single-machine path
stores it, hostile lines are counted and recorded, a batch cut short leaves nothing, and a batch ingested
twice changes nothing."""

from __future__ import annotations

import copy
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from matcher.db.connect import open_db
from matcher.db.ingest import hash_and_store
from matcher.nodes import batches
from matcher.nodes.batches import ingest_batch
from matcher.photo import embed, hashes
from matcher.photo.features import FEATURE_VERSION
from matcher.photo.fingerprint import fingerprint
from matcher.photo.fingerprint_json import SignalsError, from_json, to_json
from tests.node_sites import lot_photo, planted_photo

KEY = "batches/site_x/2026-01-01/alpha/job1-00001.jsonl"


@pytest.fixture(scope="module")
def photos() -> list[bytes]:
    return [lot_photo(0, 1), planted_photo(1)]


def _row(lot: str, data: bytes | None, site: str = "site_x", node: str = "alpha", job: str = "job1") -> dict:
    """A batch row as spiders/pipelines/node_export.py writes it."""
    photo = {
        "position": 0,
        "url": f"http://h.example/img/{lot}.jpg",
        "sha256": None,
        "error": None,
        "signals": None,
    }
    if data is None:
        photo["error"] = "HTTP 404"
    else:
        fp = fingerprint(data)
        photo.update(sha256=fp.sha256, signals=to_json(fp))
    return {
        "format": "lootwatch-lot/1",
        "node": node,
        "job": job,
        "hash_version": hashes.HASH_VERSION,
        "feature_version": FEATURE_VERSION,
        "embed_version": embed.EMBED_VERSION,
        "lot": {"site": site, "lot_id": lot, "url": f"http://h.example/lot/{lot}", "title": f"Lot {lot}"},
        "photos": [photo],
        "evidence": [],
    }


def _batch(rows: list) -> bytes:
    return b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in rows)


def _snapshot(path: Path) -> dict[str, list]:
    with sqlite3.connect(path) as conn:
        return {
            "listings": conn.execute(
                "SELECT site, lot_id, url, title FROM listings ORDER BY 1, 2"
            ).fetchall(),
            "photos": conn.execute(
                "SELECT l.lot_id, i.position, i.sha256, i.width, i.height, i.quality, i.matchable, i.error "
                "FROM listing_images i JOIN listings l ON l.id = i.listing_id ORDER BY 1, 2"
            ).fetchall(),
            "hashes": conn.execute("SELECT * FROM image_hashes ORDER BY sha256, variant").fetchall(),
            "features": conn.execute("SELECT * FROM image_features ORDER BY sha256").fetchall(),
            "thumbnails": conn.execute("SELECT * FROM thumbnails ORDER BY sha256").fetchall(),
            "embeddings": conn.execute("SELECT * FROM image_embeddings ORDER BY sha256, view").fetchall(),
            "ledger": conn.execute("SELECT key, sha256, bytes, rows, errors FROM batches").fetchall(),
        }


def test_signals_round_trip_exactly(photos):
    fp = fingerprint(photos[1])
    back = from_json(json.loads(json.dumps(to_json(fp))))
    assert back.sha256 == fp.sha256 and back.hashes == fp.hashes and back.thumbnail == fp.thumbnail
    assert np.array_equal(back.features.xy, fp.features.xy) and back.features.xy.dtype == fp.features.xy.dtype
    assert np.array_equal(back.features.desc, fp.features.desc) and back.thumb_size == fp.thumb_size
    assert fp.embeddings and all(np.array_equal(back.embeddings[k], v) for k, v in fp.embeddings.items())


@pytest.mark.parametrize(
    "damage",
    [
        lambda s: s.pop("sha256"),
        lambda s: s.update(width=True),
        lambda s: s.update(thumbnail={"b64": "not base64!"}),
        lambda s: s["features"]["desc"].update(dtype="|O"),
        lambda s: s["features"]["desc"].update(shape=[3, 32]),
        lambda s: s.update(hashes=["full/r0"]),
        lambda s: s.update(thumb_size=[1, 2, 3]),
    ],
    ids=[
        "no-sha256",
        "bool-for-int",
        "bad-base64",
        "object-dtype",
        "wrong-shape",
        "list-for-dict",
        "tuple-length",
    ],
)
def test_hostile_signals_refused(photos, damage):
    signals = copy.deepcopy(to_json(fingerprint(photos[0])))
    damage(signals)
    with pytest.raises(SignalsError):
        from_json(signals)


def test_node_signals_stored_as_the_single_machine_path_stores_them(tmp_path, photos):
    single = open_db(tmp_path / "single.db")
    for data in photos:
        hash_and_store(single, data, all_transforms=False)
    nodes = open_db(tmp_path / "nodes.db")
    result = ingest_batch(nodes, KEY, _batch([_row(str(n), d) for n, d in enumerate(photos)]), None, tmp_path)
    assert result.status == "ingested" and result.rows == 2 and result.errors == 0
    a, b = _snapshot(tmp_path / "single.db"), _snapshot(tmp_path / "nodes.db")
    assert (
        a["hashes"] == b["hashes"] and a["features"] == b["features"] and a["thumbnails"] == b["thumbnails"]
    )
    assert a["embeddings"] == b["embeddings"] and len(b["embeddings"]) >= len(photos)


def test_hostile_lines_are_counted_and_recorded_the_rest_ingested(tmp_path, photos, monkeypatch):
    monkeypatch.setattr(batches, "MAX_LINE_BYTES", 200_000)
    bad_signals = _row("4", photos[0])
    bad_signals["photos"][0]["signals"]["quality"] = "high"
    other_sha = _row("5", photos[1])
    other_sha["photos"][0]["sha256"] = "0" * 64
    lines = [
        _row("1", photos[0]),
        b"{not json",
        b"[1, 2]",
        {**_row("2", photos[1]), "lot": {"site": "site_x"}},  # no lot id
        _row("3", None),  # the node could not fetch the photo
        bad_signals,
        other_sha,
        b'{"format": "lootwatch-lot/1", "x": "' + b"y" * 300_000 + b'"}',
        b"\xff\xfe not utf-8",
    ]
    db = open_db(tmp_path / "l.db")
    result = ingest_batch(db, KEY, _batch(lines), None, tmp_path)
    assert result.status == "ingested" and result.rows == 4 and result.errors == 7
    assert [p.split(":")[0] for p in result.problems] == [
        "line 2", "line 3", "line 4", "line 6", "line 7", "line 8", "line 9",
    ]  # fmt: skip
    snap = _snapshot(tmp_path / "l.db")
    assert [lot for _, lot, _, _ in snap["listings"]] == ["1", "3", "4", "5"]
    errors = {lot: err for lot, _, _, _, _, _, _, err in snap["photos"]}
    assert errors["1"] is None and errors["3"] == "HTTP 404"
    assert errors["4"].startswith("signals refused") and errors["5"].startswith("signals refused")
    rows = db.execute("SELECT stage, url, reason FROM errors ORDER BY id").fetchall()
    assert sum(stage == "batch" and url == KEY for stage, url, _ in rows) == 7
    assert ("photo", "http://h.example/img/3.jpg", "HTTP 404") in rows
    assert snap["ledger"] == [(KEY, result_sha(lines), len(_batch(lines)), 4, 7)]


def result_sha(lines: list) -> str:
    import hashlib

    return hashlib.sha256(_batch(lines)).hexdigest()


@pytest.mark.parametrize("version", ["hash_version", "embed_version"])
def test_other_hashing_code_waits_and_is_not_ledgered(tmp_path, photos, version):
    row = _row("1", photos[0])
    row[version] = "older"
    db = open_db(tmp_path / "l.db")
    result = ingest_batch(db, KEY, _batch([row]), None, tmp_path)
    assert result.status == "waiting" and "same lootwatch version" in result.reason
    assert not _snapshot(tmp_path / "l.db")["ledger"] and not _snapshot(tmp_path / "l.db")["listings"]


def test_batch_cut_short_leaves_nothing_and_is_ingested_again_whole(tmp_path, photos, monkeypatch):
    data = _batch([_row(str(n), d) for n, d in enumerate(photos)])
    clean = open_db(tmp_path / "clean.db")
    ingest_batch(clean, KEY, data, None, tmp_path)

    real, calls = batches.store_fingerprint, []

    def dies_on_the_second(db, fp):
        calls.append(fp.sha256)
        if len(calls) == 2:
            raise KeyboardInterrupt  # as a kill would stop it: mid-transaction
        return real(db, fp)

    monkeypatch.setattr(batches, "store_fingerprint", dies_on_the_second)
    db = open_db(tmp_path / "cut.db")
    with pytest.raises(KeyboardInterrupt):
        ingest_batch(db, KEY, data, None, tmp_path)
    cut = _snapshot(tmp_path / "cut.db")
    assert not cut["listings"] and not cut["hashes"] and not cut["ledger"]
    monkeypatch.setattr(batches, "store_fingerprint", real)
    assert ingest_batch(db, KEY, data, None, tmp_path).status == "ingested"
    assert _snapshot(tmp_path / "cut.db") == _snapshot(tmp_path / "clean.db")


def test_batch_twice_changes_nothing(tmp_path, photos):
    data = _batch([_row(str(n), d) for n, d in enumerate(photos)])
    db = open_db(tmp_path / "l.db")
    ingest_batch(db, KEY, data, None, tmp_path)
    once = _snapshot(tmp_path / "l.db")
    assert ingest_batch(db, KEY, data, None, tmp_path).status == "skipped"
    assert _snapshot(tmp_path / "l.db") == once
    db.execute("DELETE FROM batches")  # even without the ledger, the rows converge on the same ones
    assert ingest_batch(db, KEY, data, None, tmp_path).status == "ingested"
    assert _snapshot(tmp_path / "l.db") == once


class FakeStore:
    """The calls the ingest makes of an ``ObjectStore``, over a dict of objects."""

    def __init__(self, objects: dict[str, bytes]):
        self.objects = objects

    def put_once(self, key: str, data: bytes) -> bool:
        return self.objects.setdefault(key, data) is data

    def list(self, prefix: str) -> list[tuple[str, int]]:
        return sorted((k, len(v)) for k, v in self.objects.items() if k.startswith(prefix))

    def get(self, key: str, max_bytes: int) -> bytes:
        return self.objects[key]


def _statuses(outcomes: list[tuple]) -> list[str]:
    return [status for _key, status, *_ in outcomes]


def _summary(seen: list[str], complete: bool, status: str = "finished", node: str = "alpha") -> bytes:
    return json.dumps(
        {
            "site": "site_x",
            "node": node,
            "job": "job2",
            "kind": "market",
            "status": status,
            "started_at": "2026-01-02T05:30:00+00:00",
            "finished_at": "2026-01-02T06:00:00+00:00",
            "stats": {"lootwatch/store/items": 1, "lootwatch/lots/unchanged": 1, "lootwatch/errors": 1},
            "errors": [{"stage": "fetch", "url": "http://h.example/lot/9", "reason": "HTTP 500"}],
            "seen": seen,
            "complete": complete,
        }  # fmt: skip
    ).encode()


def test_run_summary_becomes_a_run_and_marks_lots_seen_and_gone(tmp_path, photos):
    from matcher.nodes.run_summaries import ingest_run_summaries

    db = open_db(tmp_path / "l.db")
    ingest_batch(db, KEY, _batch([_row(str(n), photos[0]) for n in range(3)]), None, tmp_path)
    store = FakeStore(
        {
            "runs/site_x/2026-01-02/alpha/job2.json": _summary(["0", "1"], complete=True),
            "runs/site_x/2026-01-02/alpha/job3.json": b"{not a summary",
        }
    )
    assert _statuses(ingest_run_summaries(db, store)) == ["ingested", "refused"]
    gone = dict(db.execute("SELECT lot_id, gone FROM listings").fetchall())
    assert gone == {"0": 0, "1": 0, "2": 1}  # a complete run did not see lot 2: it has left the site
    run = db.execute("SELECT id, spider, status, items, errors FROM crawl_runs").fetchone()
    assert run[1:] == ("site_x", "finished", 1, 1)
    assert db.execute("SELECT stage, url, reason FROM errors WHERE run_id = ?", [run[0]]).fetchall() == [
        ("fetch", "http://h.example/lot/9", "HTTP 500")
    ]
    refused = db.execute("SELECT reason FROM errors WHERE url LIKE 'runs/%job3.json'").fetchone()[0]
    assert refused.startswith("run summary refused")
    assert ingest_run_summaries(db, store) == []  # ledgered


def test_incomplete_run_marks_nothing_gone(tmp_path, photos):
    from matcher.nodes.run_summaries import ingest_run_summaries

    db = open_db(tmp_path / "l.db")
    ingest_batch(db, KEY, _batch([_row(str(n), photos[0]) for n in range(2)]), None, tmp_path)
    store = FakeStore({"runs/site_x/2026-01-02/alpha/job2.json": _summary(["0"], complete=False)})
    ingest_run_summaries(db, store)
    assert dict(db.execute("SELECT lot_id, gone FROM listings").fetchall()) == {"0": 0, "1": 0}


def test_ingest_batches_refuses_an_oversized_batch_once_and_copies_originals(tmp_path, photos, monkeypatch):
    from matcher.nodes.objectstore import StorageError, photo_key

    class Store(FakeStore):
        def get(self, key: str, max_bytes: int) -> bytes:
            if key not in self.objects:
                raise StorageError(f"{key}: no such object")
            return self.objects[key]

    good = _batch([_row("1", photos[0]), _row("2", photos[1])])
    big = _batch([_row("3", photos[0])] * 40)
    monkeypatch.setattr(batches, "MAX_BATCH_BYTES", len(good) + 1)
    sha = hashes.sha256(photos[0])
    store = Store({KEY: good, KEY.replace("00001", "00002"): big, photo_key(sha): photos[0]})
    db = open_db(tmp_path / "l.db")
    first = batches.ingest_batches(db, store, tmp_path / "data", check_jobs=False)
    assert [(r.status, r.rows, r.errors) for r in first] == [("ingested", 2, 1), ("refused", 0, 1)]
    assert "original of photo" in first[0].problems[0]  # photos[1]'s original is not in the storage
    assert (tmp_path / "data" / "originals" / sha[:2] / sha).read_bytes() == photos[0]
    assert "over the limit" in first[1].reason
    again = batches.ingest_batches(db, store, tmp_path / "data", check_jobs=False)
    assert [r.status for r in again] == ["skipped", "skipped"]


class MissingStore(FakeStore):
    """A ``FakeStore`` that answers a missing key as the object store does."""

    def get(self, key: str, max_bytes: int) -> bytes:
        from matcher.nodes.objectstore import StorageError

        if key not in self.objects:
            raise StorageError(f"{key}: no such object")
        return self.objects[key]

    def download(self, key: str, path: Path) -> None:
        from matcher.nodes.objectstore import StorageError

        raise StorageError(f"{key}: no such object")


def test_a_row_of_another_site_than_its_batch_key_is_an_error_and_changes_nothing(tmp_path, photos):
    db = open_db(tmp_path / "l.db")
    ingest_batch(
        db, KEY.replace("site_x", "site_y"), _batch([_row("1", photos[0], site="site_y")]), None, tmp_path
    )
    before = db.execute("SELECT site, lot_id, url, title FROM listings").fetchall()
    forged = _row("1", photos[1], site="site_y")
    forged["lot"]["title"] = "forged"
    result = ingest_batch(db, KEY, _batch([_row("2", photos[0]), forged]), None, tmp_path)
    assert result.status == "ingested" and result.rows == 1 and result.errors == 1
    assert result.problems[0].startswith("line 2: a lot of site 'site_y' in a batch of site 'site_x'")
    after = db.execute("SELECT site, lot_id, url, title FROM listings WHERE site = 'site_y'").fetchall()
    assert after == before
    assert db.execute("SELECT count(*) FROM errors WHERE stage = 'batch' AND url = ?", [KEY]).fetchone() == (
        1,
    )


def test_only_batches_of_jobs_this_machine_scheduled_for_their_site_and_node_are_taken(tmp_path, photos):
    """Nothing else is read or ledgered, whatever lootwatch.toml pins: a forged batch changes no lot,
    and once its job is recorded (``crawl --nodes`` scheduled it) the next ingest takes it."""
    from matcher.nodes.origins import remember_jobs

    evil = "batches/site_x/2026-01-01/evil/job1-00001.jsonl"  # another node using alpha's job
    other_site = "batches/site_y/2026-01-01/alpha/job1-00002.jsonl"  # alpha's job, another site
    later = "batches/site_x/2026-01-02/alpha/job5-00001.jsonl"  # a job nobody recorded
    store = MissingStore(
        {
            KEY: _batch([_row("1", photos[0])]),
            evil: _batch([_row("2", photos[0], node="evil")]),
            other_site: _batch([_row("3", photos[0], site="site_y")]),
            later: _batch([_row("4", photos[0], job="job5")]),
        }
    )
    db = open_db(tmp_path / "l.db")
    remember_jobs(db, [("job1", "site_x", "alpha")])
    results = {r.key: r for r in batches.ingest_batches(db, store, tmp_path / "data")}
    statuses = {k: r.status for k, r in results.items()}
    assert statuses == {KEY: "ingested", evil: "held", other_site: "held", later: "held"}
    assert results[evil].reason.startswith(
        "job 'job1' of node 'evil' for site 'site_x': that job was scheduled for site 'site_x' on node "
        "'alpha'"
    )
    assert "job 'job5' of node 'alpha' for site 'site_x' was never scheduled" in results[later].reason
    assert [lot for (lot,) in db.execute("SELECT lot_id FROM listings")] == ["1"]
    assert [key for (key,) in db.execute("SELECT key FROM batches")] == [KEY]
    assert not db.execute("SELECT 1 FROM errors WHERE url != ?", [KEY]).fetchall()
    remember_jobs(db, [("job5", "site_x", "alpha")])
    again = {r.key: r.status for r in batches.ingest_batches(db, store, tmp_path / "data")}
    assert again == {KEY: "skipped", evil: "held", other_site: "held", later: "ingested"}


def test_a_database_rebuilt_from_the_storage_takes_what_the_first_one_took(tmp_path, photos):
    """The job records go to the storage too (``jobs/``), so a new database ingests the same batches."""
    from matcher.nodes.origins import remember_jobs

    store = MissingStore({KEY: _batch([_row("1", photos[0])])})
    first = open_db(tmp_path / "first.db")
    assert remember_jobs(first, [("job1", "site_x", "alpha")], store) == []
    assert "jobs/job1.json" in store.objects
    assert [r.status for r in batches.ingest_batches(first, store, tmp_path / "data")] == ["ingested"]
    rebuilt = open_db(tmp_path / "rebuilt.db")
    assert [r.status for r in batches.ingest_batches(rebuilt, store, tmp_path / "data")] == ["ingested"]
    assert rebuilt.execute("SELECT site, node FROM node_jobs WHERE job = 'job1'").fetchall() == [
        ("site_x", "alpha")
    ]


def test_a_line_whose_node_or_job_is_not_its_keys_is_an_error_row(tmp_path, photos):
    db = open_db(tmp_path / "l.db")
    lines = [_row("1", photos[0]), _row("2", photos[0], node="beta"), _row("3", photos[0], job="job9")]
    result = ingest_batch(db, KEY, _batch(lines), None, tmp_path)
    assert result.rows == 1 and result.problems == [
        "line 2: its node 'beta' is not its key's 'alpha': refused",
        "line 3: its job 'job9' is not its key's 'job1': refused",
    ]


def test_a_run_summary_speaks_only_for_its_keys_site_node_and_a_scheduled_job(tmp_path, photos):
    """A forged complete run summary would mark a site's lots gone: one of a job never scheduled is held
    back unread, and one naming another site, node or job than its key is refused."""
    from matcher.nodes.origins import remember_jobs
    from matcher.nodes.run_summaries import ingest_run_summaries

    db = open_db(tmp_path / "l.db")
    ingest_batch(db, KEY, _batch([_row(str(n), photos[0]) for n in range(3)]), None, tmp_path)
    remember_jobs(db, [("job2", "site_x", "alpha")])
    forged = "runs/site_x/2026-01-02/alpha/x.json"
    mislabelled = "runs/site_x/2026-01-02/alpha/job2.json"
    store = FakeStore(
        {
            forged: _summary(["0"], complete=True),
            mislabelled: _summary(["0"], True, node="beta"),
        }
    )
    outcomes = {key: (status, reason) for key, status, _rows, _errors, reason in ingest_run_summaries(
        db, store, check_jobs=True
    )}  # fmt: skip
    assert outcomes[forged][0] == "held" and "job 'x' of node 'alpha'" in outcomes[forged][1]
    assert outcomes[mislabelled] == ("refused", "run summary: its node 'beta' is not its key's 'alpha'")
    assert dict(db.execute("SELECT lot_id, gone FROM listings").fetchall()) == {"0": 0, "1": 0, "2": 0}
    assert not db.execute("SELECT * FROM crawl_runs").fetchall()


def test_a_run_summary_read_after_a_later_run_marks_nothing_gone(tmp_path, photos):
    """Summaries are read in key order: an older complete run read after a newer one must not undo it."""
    from matcher.nodes.run_summaries import ingest_run_summaries

    db = open_db(tmp_path / "l.db")
    ingest_batch(db, KEY, _batch([_row(str(n), photos[0]) for n in range(3)]), None, tmp_path)
    newer = json.loads(_summary(["0", "1", "2"], complete=True))
    older = json.loads(_summary(["0"], complete=True))
    newer["finished_at"], newer["job"] = "2026-01-03T06:00:00+00:00", "job3"
    older["job"] = "job4"
    store = FakeStore(
        {
            "runs/site_x/2026-01-03/alpha/job3.json": json.dumps(newer).encode(),
            "runs/site_x/2026-01-03/alpha/job4.json": json.dumps(older).encode(),
        }
    )
    assert _statuses(ingest_run_summaries(db, store)) == ["ingested", "ingested"]
    assert dict(db.execute("SELECT lot_id, gone FROM listings").fetchall()) == {"0": 0, "1": 0, "2": 0}


def test_a_line_of_other_versions_than_the_rest_of_its_batch_is_an_error_row(tmp_path, photos):
    """One node runs one code version: a line whose versions differ from its batch's does not hold the
    good lines back (only a batch all of other versions waits)."""
    odd = _row("2", photos[0])
    odd["hash_version"] = "lw9;evil"
    db = open_db(tmp_path / "l.db")
    result = ingest_batch(db, KEY, _batch([_row("1", photos[0]), odd, _row("3", photos[0])]), None, tmp_path)
    assert result.status == "ingested" and result.rows == 2 and result.errors == 1
    assert result.problems[0].startswith("line 2: signals made by hash_version 'lw9;evil', this machine runs")
    assert result.problems[0].endswith("unlike the rest of its batch: refused")


@pytest.mark.parametrize(
    "where, address",
    [("lot", "file:///etc/passwd"), ("photo", "file:///etc/passwd"), ("image_urls", "data:text/html,x")],
)
def test_an_address_that_is_not_http_is_an_error_row(tmp_path, photos, where, address):
    row = _row("2", photos[0])
    if where == "lot":
        row["lot"]["url"] = address
    elif where == "photo":
        row["photos"][0]["url"] = address
    else:
        row["lot"]["image_urls"] = ["http://h.example/img/2.jpg", address]
    db = open_db(tmp_path / "l.db")
    result = ingest_batch(db, KEY, _batch([_row("1", photos[0]), row]), None, tmp_path)
    assert result.rows == 1 and result.errors == 1 and "is not an http(s) URL" in result.problems[0]
    assert address not in json.dumps(db.execute("SELECT * FROM listings").fetchall())


def test_a_storage_server_that_never_answers_is_a_storage_error_not_a_hang(monkeypatch):
    """It accepts the connection and says nothing; the client's timeouts turn that into one line."""
    import socket
    import threading

    from matcher.nodes import objectstore

    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []
    threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{listener.getsockname()[1]}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setattr(
        objectstore, "TIMEOUTS", {**objectstore.TIMEOUTS, "read_timeout": 1, "retries": {"max_attempts": 1}}
    )
    store = objectstore.ObjectStore("s3://bucket/prefix")
    assert store.client.meta.config.read_timeout == 1 and store.client.meta.config.connect_timeout == 5
    with pytest.raises(objectstore.StorageError, match="cannot list batches/: ReadTimeoutError"):
        store.list("batches/")
    # Every later call gives up at once, naming why: an ingest leaves the rest for the next one.
    with pytest.raises(objectstore.StorageError, match="not tried, the storage stopped answering earlier"):
        store.get("batches/x.jsonl", 100)
    listener.close()


def test_a_missing_bucket_and_refused_credentials_say_what_to_do():
    from botocore.exceptions import ClientError

    from matcher.nodes.objectstore import _reason

    missing = ClientError({"Error": {"Code": "NoSuchBucket", "Message": "x"}}, "ListObjectsV2")
    assert _reason(missing, "b") == "the bucket 'b' does not exist: create it, or correct the storage URL"
    denied = ClientError({"Error": {"Code": "InvalidAccessKeyId", "Message": "x"}}, "GetObject")
    assert "check the credentials (AWS_ACCESS_KEY_ID" in _reason(denied, "b")


def test_a_batch_key_of_another_shape_is_refused(tmp_path, photos):
    db = open_db(tmp_path / "l.db")
    result = ingest_batch(db, "batches/site_x/job.jsonl", _batch([_row("1", photos[0])]), None, tmp_path)
    assert result.status == "refused" and not db.execute("SELECT * FROM listings").fetchall()


@pytest.mark.parametrize(
    "line",
    [
        {"format": "lootwatch-lot/1"},
        {**{"format": "lootwatch-lot/1", "hash_version": None}},
        {"format": "lootwatch-lot/1", "hash_version": ["x"], "feature_version": 1},
    ],
)
def test_a_line_without_its_versions_is_one_error_and_the_rest_ingested(tmp_path, photos, line):
    db = open_db(tmp_path / "l.db")
    result = ingest_batch(db, KEY, _batch([_row("1", photos[0]), line, _row("2", photos[0])]), None, tmp_path)
    assert result.status == "ingested" and result.rows == 2 and result.errors == 1
    assert result.problems == ["line 2: hash_version missing or malformed"]
    assert len(_snapshot(tmp_path / "l.db")["ledger"]) == 1


@pytest.mark.parametrize(
    "warc_key", ["warc/../../etc/x.warc.gz", "/etc/passwd", "warc/a/..%2F..%2Fx.warc.gz"]
)
def test_a_bad_warc_key_is_an_error_row(tmp_path, photos, warc_key):
    row = _row("1", photos[0])
    row["evidence"] = [
        {"url": "http://h.example/lot/1", "warc_record_id": "<urn:uuid:1>", "warc_key": warc_key}
    ]
    db = open_db(tmp_path / "l.db")
    result = ingest_batch(db, KEY, _batch([row]), MissingStore({}), tmp_path / "data")
    assert result.rows == 1 and result.errors >= 1
    assert any("WARC key" in p and "refused" in p for p in result.problems)
    assert db.execute("SELECT warc_file FROM evidence").fetchall() == [(None,)]
    assert db.execute("SELECT count(*) FROM errors WHERE reason LIKE '%WARC key%'").fetchone() == (1,)


def test_a_photo_whose_original_has_other_bytes_is_unmatchable_with_the_error(tmp_path, photos):
    from matcher.nodes.objectstore import photo_key

    db = open_db(tmp_path / "l.db")
    sha = hashes.sha256(photos[0])
    store = FakeStore({photo_key(sha): photos[1]})
    result = ingest_batch(db, KEY, _batch([_row("1", photos[0])]), store, tmp_path / "data")
    assert result.errors == 1 and "refused" in result.problems[0]
    ((matchable, error),) = db.execute("SELECT matchable, error FROM listing_images").fetchall()
    assert matchable == 0 and error and "refused" in error
