import asyncio

from datasette.app import Datasette

from reports.review import review_metadata

from .review_db import XSS, hostile_db


def get(db_path, path):
    async def go():
        ds = Datasette([str(db_path)], metadata=review_metadata(db_path))
        await ds.invoke_startup()
        return await ds.client.get(path)

    return asyncio.run(go())


def test_review_queue_shows_both_photos_escaped(tmp_path):
    db_path = tmp_path / "lootwatch.db"
    hostile_db(db_path)
    r = get(db_path, "/lootwatch/review_queue")
    assert r.status_code == 200
    html = r.text
    assert html.count('src="data:image/jpeg;base64,') >= 2  # listing photo and registry photo
    assert XSS not in html
    assert 'href="javascript:' not in html
    assert 'href="https://registry.example/A1"' in html


def test_metadata_follows_database_name(tmp_path):
    db_path = tmp_path / "cases-2026.db"
    hostile_db(db_path)
    r = get(db_path, "/cases-2026/review_queue")
    assert r.status_code == 200 and "Review queue" in r.text
