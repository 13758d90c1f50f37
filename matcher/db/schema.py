"""The review database schema, as named migrations applied in order (sqlite-utils ``Migrations``).

Add a new migration for every change; never edit one that has shipped.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

__all__ = ["migrations", "OBJECT_ID_FIELDS", "TEXT_FIELDS"]

migrations = Migrations("lootwatch")

OBJECT_ID_FIELDS = (
    "object_type",
    "materials",
    "techniques",
    "measurements",
    "inscriptions",
    "distinguishing_features",
    "title",
    "subject",
    "period",
    "maker",
    "description",
    "inventory_number",
    "place_of_origin",
    "related_material",
)


# The registry fields that describe what an object looks like, compared with listing texts.
TEXT_FIELDS = (
    "title",
    "object_type",
    "materials",
    "techniques",
    "period",
    "inscriptions",
    "distinguishing_features",
    "description",
)


@migrations()
def m001_registry(db: Database) -> None:
    cols = {
        "id": int,
        "source": str,
        "source_id": str,
        **{f: str for f in OBJECT_ID_FIELDS},
        "status": str,
        "source_url": str,
        "imported_at": str,
        "updated_at": str,
        "record_json": str,
    }
    db.table("registry_objects").create(cols, pk="id", not_null={"source", "source_id"})
    db.table("registry_objects").create_index(["source", "source_id"], unique=True)
    db.table("registry_images").create(
        {
            "id": int,
            "object_id": int,
            "position": int,
            "url": str,
            "sha256": str,
            "width": int,
            "height": int,
            "bytes": int,
            "quality": int,
            "matchable": int,
            "error": str,
            "added_at": str,
        },
        pk="id",
        foreign_keys=[("object_id", "registry_objects", "id")],
    )
    db.table("registry_images").create_index(["object_id", "position"], unique=True)
    db.table("registry_images").create_index(["sha256"])


@migrations()
def m002_listings(db: Database) -> None:
    db.table("listings").create(
        {
            "id": int,
            "site": str,
            "lot_id": str,
            "url": str,
            "title": str,
            "description": str,
            "description_html": str,
            "provenance": str,
            "estimate_low": float,
            "estimate_high": float,
            "currency": str,
            "price": float,
            "house": str,
            "seller": str,
            "sale_date": str,
            "first_seen": str,
            "last_seen": str,
            "gone": int,
            "content_sha256": str,
        },
        pk="id",
        not_null={"site", "lot_id"},
        defaults={"gone": 0},
    )
    db.table("listings").create_index(["site", "lot_id"], unique=True)
    db.table("listing_images").create(
        {
            "id": int,
            "listing_id": int,
            "position": int,
            "url": str,
            "sha256": str,
            "width": int,
            "height": int,
            "bytes": int,
            "quality": int,
            "matchable": int,
            "error": str,
            "matched_version": str,
            "added_at": str,
        },
        pk="id",
        foreign_keys=[("listing_id", "listings", "id")],
    )
    db.table("listing_images").create_index(["listing_id", "position"], unique=True)
    db.table("listing_images").create_index(["sha256"])


@migrations()
def m003_hashes_and_thumbnails(db: Database) -> None:
    # Hashes belong to the bytes, not to the row that points at them: one photo used by two lots is
    # hashed once. ``variant`` is "<view>/<transform>", e.g. "full/r0", "trim/m90".
    db.table("image_hashes").create(
        {
            "sha256": str,
            "variant": str,
            "pdq": str,
            "quality": int,
            "phash": str,
            "dhash": str,
            "hash_version": str,
        },
        pk=("sha256", "variant"),
    )
    db.table("thumbnails").create({"sha256": str, "jpeg": bytes, "width": int, "height": int}, pk="sha256")


@migrations()
def m004_candidates_and_reviews(db: Database) -> None:
    db.table("candidates").create(
        {
            "id": int,
            "listing_id": int,
            "registry_object_id": int,
            "kind": str,
            "tier": str,
            "score": float,
            "pdq_distance": int,
            "phash_distance": int,
            "dhash_distance": int,
            "inliers": int,
            "variant": str,
            "listing_image_id": int,
            "registry_image_id": int,
            "evidence_json": str,
            "reasons_json": str,
            "matcher_version": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        foreign_keys=[("listing_id", "listings", "id"), ("registry_object_id", "registry_objects", "id")],
    )
    db.table("candidates").create_index(["listing_id", "registry_object_id", "kind"], unique=True)
    db.table("reviews").create(
        {
            "id": int,
            "candidate_id": int,
            "listing_id": int,
            "registry_object_id": int,
            "verdict": str,
            "note": str,
            "reviewer": str,
            "created_at": str,
        },
        pk="id",
        not_null={"candidate_id", "verdict", "reviewer", "created_at"},
    )
    # Verdicts are append-only: the database itself refuses to change or remove one.
    db.executescript(
        """
        CREATE TRIGGER reviews_no_update BEFORE UPDATE ON reviews
        BEGIN SELECT RAISE(ABORT, 'reviews are append-only'); END;
        CREATE TRIGGER reviews_no_delete BEFORE DELETE ON reviews
        BEGIN SELECT RAISE(ABORT, 'reviews are append-only'); END;
        """
    )


@migrations()
def m005_runs_reports_evidence(db: Database) -> None:
    db.table("crawl_runs").create(
        {
            "id": int,
            "spider": str,
            "kind": str,
            "started_at": str,
            "finished_at": str,
            "items": int,
            "images": int,
            "errors": int,
            "status": str,
            "stats_json": str,
        },
        pk="id",
    )
    db.table("errors").create(
        {"id": int, "run_id": int, "stage": str, "url": str, "reason": str, "created_at": str}, pk="id"
    )
    db.table("reports").create(
        {
            "id": int,
            "report_date": str,
            "created_at": str,
            "sent_at": str,
            "recipients": str,
            "candidate_ids": str,
            "html_path": str,
            "eml_path": str,
            "mode": str,
        },
        pk="id",
    )
    db.table("evidence").create(
        {
            "id": int,
            "url": str,
            "captured_at": str,
            "sha256": str,
            "status": int,
            "content_type": str,
            "warc_file": str,
            "warc_offset": int,
        },
        pk="id",
    )
    db.table("evidence").create_index(["sha256"])


@migrations()
def m006_review_queue_view(db: Database) -> None:
    db.create_view(
        "review_queue",
        """
        SELECT c.id AS candidate_id, c.tier, c.score,
               (SELECT r.verdict FROM reviews r WHERE r.candidate_id = c.id
                ORDER BY r.id DESC LIMIT 1) AS status,
               lt.jpeg AS listing_photo, rt.jpeg AS registry_photo,
               l.title AS listing_title, l.site, l.sale_date, l.url AS listing_url,
               o.source || ':' || o.source_id AS registry_record, o.title AS registry_title,
               o.status AS registry_status, o.source_url AS registry_url,
               c.pdq_distance, c.phash_distance, c.dhash_distance, c.inliers, c.variant, c.listing_id,
               c.registry_object_id
        FROM candidates c
        JOIN listings l ON l.id = c.listing_id
        LEFT JOIN registry_objects o ON o.id = c.registry_object_id
        LEFT JOIN listing_images li ON li.id = c.listing_image_id
        LEFT JOIN thumbnails lt ON lt.sha256 = li.sha256
        LEFT JOIN registry_images ri ON ri.id = c.registry_image_id
        LEFT JOIN thumbnails rt ON rt.sha256 = ri.sha256
        WHERE c.tier IS NOT NULL
        ORDER BY CASE c.tier WHEN 'strong' THEN 0 ELSE 1 END,
                 COALESCE(l.sale_date, '9999'), c.score DESC, c.id
        """,
    )


@migrations()
def m007_image_features(db: Database) -> None:
    # ORB keypoints/descriptors and a colour signature per image bytes, for geometric verification.
    db.table("image_features").create(
        {"sha256": str, "n": int, "xy": bytes, "desc": bytes, "colour": str, "feature_version": str},
        pk="sha256",
    )


@migrations()
def m008_listing_flags(db: Database) -> None:
    # Red-flag screening of the listing's text (matcher/text/flags.py): score 0-100 and its reasons as JSON.
    db.table("listings").add_column("flag_score", int)
    db.table("listings").add_column("flag_reasons_json", str)
    db.table("listings").add_column("flag_version", str)


@migrations()
def m009_review_queue_with_flags(db: Database) -> None:
    # The queue shows red-flag candidates (no registry object) beside image candidates, with reasons.
    db.execute("DROP VIEW IF EXISTS review_queue")
    db.create_view(
        "review_queue",
        """
        SELECT c.id AS candidate_id, c.kind, c.tier, c.score,
               (SELECT r.verdict FROM reviews r WHERE r.candidate_id = c.id
                ORDER BY r.id DESC LIMIT 1) AS status,
               lt.jpeg AS listing_photo, rt.jpeg AS registry_photo,
               l.title AS listing_title, l.site, l.sale_date, l.url AS listing_url, l.seller,
               o.source || ':' || o.source_id AS registry_record, o.title AS registry_title,
               o.status AS registry_status, o.source_url AS registry_url,
               c.pdq_distance, c.phash_distance, c.dhash_distance, c.inliers, c.variant,
               l.flag_score, c.reasons_json AS flag_reasons, c.listing_id, c.registry_object_id,
               li.sha256 AS listing_sha256, ri.sha256 AS registry_sha256
        FROM candidates c
        JOIN listings l ON l.id = c.listing_id
        LEFT JOIN registry_objects o ON o.id = c.registry_object_id
        LEFT JOIN listing_images li ON li.id = COALESCE(c.listing_image_id,
            (SELECT id FROM listing_images WHERE listing_id = l.id AND error IS NULL
             ORDER BY position LIMIT 1))
        LEFT JOIN thumbnails lt ON lt.sha256 = li.sha256
        LEFT JOIN registry_images ri ON ri.id = c.registry_image_id
        LEFT JOIN thumbnails rt ON rt.sha256 = ri.sha256
        WHERE c.tier IS NOT NULL
        ORDER BY CASE c.tier WHEN 'strong' THEN 0 ELSE 1 END,
                 COALESCE(l.sale_date, '9999'), c.score DESC, c.id
        """,
    )


@migrations()
def m010_mirror_features(db: Database) -> None:
    # Registry photos also keep the ORB features of their mirror image, so a mirrored copy can be verified.
    db.table("image_features").add_column("xy_m", bytes)
    db.table("image_features").add_column("desc_m", bytes)


@migrations()
def m011_text_similarity(db: Database) -> None:
    # Listing texts are compared with registry records (matcher/text/textmatch.py): a full-text index over the
    # records' descriptive fields finds the likely ones, and its vocabulary gives each word's rarity.
    # The queue shows the text comparison and the red-flag families (a facet).
    db.table("registry_objects").enable_fts(
        list(TEXT_FIELDS), create_triggers=True, tokenize="unicode61 remove_diacritics 2"
    )
    db.execute("CREATE VIRTUAL TABLE registry_objects_fts_vocab USING fts5vocab(registry_objects_fts, 'row')")
    db.table("candidates").add_column("text_score", float)
    db.table("candidates").add_column("text_json", str)
    db.table("listings").add_column("text_version", str)
    db.execute("DROP VIEW IF EXISTS review_queue")
    db.create_view(
        "review_queue",
        """
        SELECT c.id AS candidate_id, c.kind, c.tier, c.score,
               (SELECT r.verdict FROM reviews r WHERE r.candidate_id = c.id
                ORDER BY r.id DESC LIMIT 1) AS status,
               lt.jpeg AS listing_photo, rt.jpeg AS registry_photo,
               l.title AS listing_title, l.site, l.sale_date, l.url AS listing_url, l.seller,
               o.source || ':' || o.source_id AS registry_record, o.title AS registry_title,
               o.status AS registry_status, o.source_url AS registry_url,
               c.pdq_distance, c.phash_distance, c.dhash_distance, c.inliers, c.variant,
               c.text_score, c.text_json AS text_evidence,
               (SELECT json_group_array(DISTINCT json_extract(f.value, '$.family'))
                FROM json_each(c.reasons_json) f WHERE json_extract(f.value, '$.weight') > 0)
                   AS flag_families,
               l.flag_score, c.reasons_json AS flag_reasons, c.listing_id, c.registry_object_id,
               li.sha256 AS listing_sha256, ri.sha256 AS registry_sha256
        FROM candidates c
        JOIN listings l ON l.id = c.listing_id
        LEFT JOIN registry_objects o ON o.id = c.registry_object_id
        LEFT JOIN listing_images li ON li.id = COALESCE(c.listing_image_id,
            (SELECT id FROM listing_images WHERE listing_id = l.id AND error IS NULL
             ORDER BY position LIMIT 1))
        LEFT JOIN thumbnails lt ON lt.sha256 = li.sha256
        LEFT JOIN registry_images ri ON ri.id = COALESCE(c.registry_image_id,
            (SELECT id FROM registry_images WHERE object_id = o.id AND error IS NULL
             ORDER BY position LIMIT 1))
        LEFT JOIN thumbnails rt ON rt.sha256 = ri.sha256
        WHERE c.tier IS NOT NULL
        ORDER BY CASE c.tier WHEN 'strong' THEN 0 ELSE 1 END,
                 COALESCE(l.sale_date, '9999'), COALESCE(c.text_score, 0) DESC, c.score DESC, c.id
        """,
    )


@migrations()
def m012_banks(db: Database) -> None:
    # Each registry source is a bank that can be switched off (kept, but not matched) without deleting it.
    db.table("banks").create(
        {"source": str, "enabled": int, "note": str, "records": int, "last_complete": str, "updated_at": str},
        pk="source",
        defaults={"enabled": 1},
    )
    for table in ("registry_images", "listing_images"):
        db.table(table).add_column("updated_at", str)
    db.execute(
        "INSERT OR IGNORE INTO banks (source, enabled, records) "
        "SELECT source, 1, count(*) FROM registry_objects GROUP BY source"
    )


@migrations()
def m013_evidence_records(db: Database) -> None:
    # Which WARC record holds the capture, and which crawl run made it.
    db.table("evidence").add_column("warc_record_id", str)
    db.table("evidence").add_column("crawl_run_id", int)
    db.table("evidence").create_index(["url"])


@migrations()
def m014_incremental(db: Database) -> None:
    # HTTP validators of each lot page (conditional requests on the next run) and photo lookup by URL.
    db.table("listings").add_column("etag", str)
    db.table("listings").add_column("last_modified", str)
    db.table("listings").create_index(["url"])
    db.table("listing_images").create_index(["url"])
    db.table("registry_images").create_index(["url"])


@migrations()
def m015_relistings_and_sellers(db: Database) -> None:
    # Lots that share a photo (matcher/search/relist.py), and each seller's record across lots and sites.
    db.table("relistings").create(
        {"listing_id": int, "other_listing_id": int, "kind": str, "pdq_distance": int, "linked_at": str},
        pk=("listing_id", "other_listing_id"),
        foreign_keys=[("listing_id", "listings", "id"), ("other_listing_id", "listings", "id")],
    )
    db.table("relistings").create_index(["other_listing_id"])
    db.create_view(
        "relisted_lots",
        """
        SELECT r.kind, r.pdq_distance, a.id AS listing_id, a.site, a.lot_id, a.title, a.seller,
               a.first_seen, b.id AS other_listing_id, b.site AS other_site, b.lot_id AS other_lot_id,
               b.title AS other_title, b.seller AS other_seller, b.first_seen AS other_first_seen
        FROM relistings r JOIN listings a ON a.id = r.listing_id JOIN listings b ON b.id = r.other_listing_id
        ORDER BY a.first_seen DESC
        """,
    )
    db.create_view(
        "sellers",
        """
        SELECT l.site, l.seller, count(*) AS lots, sum(l.gone = 0) AS open_lots,
               min(l.first_seen) AS first_seen, max(l.last_seen) AS last_seen,
               sum(EXISTS (SELECT 1 FROM candidates c WHERE c.listing_id = l.id
                           AND c.kind IN ('image', 'text') AND c.tier IS NOT NULL))
                   AS lots_with_registry_candidates,
               sum(COALESCE(l.flag_score, 0) >= 50) AS flagged_lots,
               max(l.flag_score) AS highest_flag_score,
               sum(EXISTS (SELECT 1 FROM relistings r WHERE r.listing_id = l.id OR r.other_listing_id = l.id))
                   AS relisted_lots
        FROM listings l
        WHERE l.seller IS NOT NULL
        GROUP BY l.site, l.seller
        ORDER BY lots_with_registry_candidates DESC, flagged_lots DESC, lots DESC
        """,
    )


@migrations()
def m016_listing_search(db: Database) -> None:
    # Full-text search over listings in the review UI.
    db.table("listings").enable_fts(
        ["title", "description", "provenance", "seller"],
        create_triggers=True,
        tokenize="unicode61 remove_diacritics 2",
    )


@migrations()
def m017_part_colour(db: Database) -> None:
    # Each part of a listing photo (a collage tile, the photo on a screenshot) has its own hues.
    db.table("image_hashes").add_column("colour", str)


@migrations()
def m018_registry_changes(db: Database) -> None:
    # What changed in the registry, one row per changed record (or bank), so `match` re-matches only the
    # listings a change can affect (matcher/search/retro.py). Written by triggers, not by the store functions:
    # every writer of registry rows (imports, spiders, bulk loaders) is then logged, whatever its code.
    # ``sha256`` is a photo the record held before the change (an old photo's listings are due too);
    # ``source`` a bank switched on or off (all its records changed).
    db.execute(
        "CREATE TABLE registry_changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, object_id INTEGER, "
        "source TEXT, sha256 TEXT, changed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%S+00:00')))"
    )
    # Up to which registry change each listing photo's listing is matched (``matched_version`` keeps
    # the matcher's code version).
    db.table("listing_images").add_column("matched_change", int)
    # The descriptor vote shortlist each listing photo got at its last match ([[registry photo, votes]]),
    # to tell whether a registry change altered it without matching the photo again.
    db.table("listing_votes").create({"sha256": str, "votes": str}, pk="sha256")
    db.executescript(
        """
        CREATE TRIGGER registry_objects_logged_insert AFTER INSERT ON registry_objects
        BEGIN INSERT INTO registry_changes (object_id) VALUES (NEW.id); END;
        -- Only what decides whether a record takes part in image matching (store.ACTIVE_RECORD): a text
        -- edit changes no image candidate, and a re-import that touches every record's text must not
        -- make every listing due.
        CREATE TRIGGER registry_objects_logged_update AFTER UPDATE ON registry_objects
        WHEN OLD.status IS NOT NEW.status OR OLD.source IS NOT NEW.source OR OLD.id IS NOT NEW.id
        BEGIN
          INSERT INTO registry_changes (object_id) VALUES (OLD.id);
          INSERT INTO registry_changes (object_id) SELECT NEW.id WHERE NEW.id IS NOT OLD.id;
        END;
        CREATE TRIGGER registry_objects_logged_delete AFTER DELETE ON registry_objects
        BEGIN INSERT INTO registry_changes (object_id) VALUES (OLD.id); END;
        CREATE TRIGGER registry_images_logged_insert AFTER INSERT ON registry_images
        BEGIN INSERT INTO registry_changes (object_id) VALUES (NEW.object_id); END;
        CREATE TRIGGER registry_images_logged_update AFTER UPDATE ON registry_images
        WHEN OLD.sha256 IS NOT NEW.sha256 OR OLD.error IS NOT NEW.error
          OR OLD.matchable IS NOT NEW.matchable OR OLD.object_id IS NOT NEW.object_id
        BEGIN
          INSERT INTO registry_changes (object_id, sha256) VALUES (OLD.object_id, OLD.sha256);
          INSERT INTO registry_changes (object_id) VALUES (NEW.object_id);
        END;
        CREATE TRIGGER registry_images_logged_delete AFTER DELETE ON registry_images
        BEGIN INSERT INTO registry_changes (object_id, sha256) VALUES (OLD.object_id, OLD.sha256); END;
        CREATE TRIGGER banks_logged_insert AFTER INSERT ON banks
        BEGIN INSERT INTO registry_changes (source) VALUES (NEW.source); END;
        CREATE TRIGGER banks_logged_update AFTER UPDATE ON banks WHEN OLD.enabled IS NOT NEW.enabled
        BEGIN INSERT INTO registry_changes (source) VALUES (NEW.source); END;
        """
    )
    # A registry photo's signals written after its row (hashing in worker processes, a refresh) change
    # what the index holds of it: its records are changed again.
    for table, when in (("image_hashes", "WHEN NEW.variant = 'full/r0' "), ("image_features", "")):
        for event in ("INSERT", "UPDATE"):
            db.execute(
                f"CREATE TRIGGER {table}_logged_{event.lower()} AFTER {event} ON {table} {when}"
                "BEGIN INSERT INTO registry_changes (object_id) "
                "SELECT DISTINCT object_id FROM registry_images WHERE sha256 = NEW.sha256; END"
            )


@migrations()
def m019_listing_cuts(db: Database) -> None:
    # Which fields of a lot were cut to the crawler's caps (spiders/pipelines/caps.py) and how long they
    # were: {"description_html": {"length": 1100000, "kept": 100000}}; NULL when nothing was cut.
    db.table("listings").add_column("cut_json", str)


@migrations()
def m020_image_embeddings(db: Database) -> None:
    # A learned embedding per image bytes and view (matcher/photo/embed.py): 1280 float16 (2,560 bytes), unit
    # length, with the model and the version of the code that made it; a registry photo's change of
    # embedding is a registry change like a change of hashes (matcher/search/retro.py).
    db.table("image_embeddings").create(
        {"sha256": str, "view": str, "vector": bytes, "model": str, "embed_version": str},
        pk=("sha256", "view"),
    )
    for event in ("INSERT", "UPDATE"):
        db.execute(
            f"CREATE TRIGGER image_embeddings_logged_{event.lower()} AFTER {event} ON image_embeddings "
            "WHEN NEW.view = 'full' BEGIN INSERT INTO registry_changes (object_id) "
            "SELECT DISTINCT object_id FROM registry_images WHERE sha256 = NEW.sha256; END"
        )


@migrations()
def m021_batches(db: Database) -> None:
    # The ledger of ingested batches from crawler nodes (matcher/nodes/batches.py): a batch is ingested once,
    # in the transaction that writes its rows, so a batch in this table is wholly in the database.
    db.table("batches").create(
        {
            "key": str,
            "sha256": str,
            "bytes": int,
            "rows": int,
            "errors": int,
            "ingested_at": str,
        },
        pk="key",
    )
    db.table("evidence").create_index(["warc_record_id"])


@migrations()
def m022_node_jobs(db: Database) -> None:
    # The jobs `crawl --nodes` scheduled, by site and node (matcher/nodes/origins.py): a node may send lots
    # of a site this machine asked it to crawl, even once the site has been pinned elsewhere.
    db.table("node_jobs").create(
        {"job": str, "site": str, "node": str, "scheduled_at": str},
        pk="job",
    )
    db.table("node_jobs").create_index(["site", "node"])
