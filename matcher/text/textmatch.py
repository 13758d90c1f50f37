"""Compare listing texts with registry records: rank image candidates and propose text candidates.

A dealer who re-photographs a stolen object, or never shows it, still describes it: its type, material,
period, inscription and size. For each listing, SQLite's full-text index over the records' descriptive
fields (``schema.TEXT_FIELDS``) shortlists the likely records (bm25); each is then scored on

- **words**: the rarity-weighted share of words the two texts have in common (cosine of their word sets,
  each word weighted by its inverse document frequency among the records; listing words no record uses
  are left out), and
- **size**: the lengths both give (``measure.agreement``: any unit, 4 % tolerance).

The result is kept with every image candidate (``text_score``, ``text_json``) and orders the queue within
a tier; a record whose size agrees in every dimension both texts give (two at least) and whose words
overlap, or whose inventory number the listing gives ("IM 12345" written on the base), becomes a
``text`` candidate, tier ``review`` only.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlite_utils import Database

from ..db import connect, store
from ..db.schema import TEXT_FIELDS
from . import measure
from .textnorm import normalise

__all__ = ["TextMatch", "TEXT_VERSION", "words", "compare", "match_texts"]

TEXT_VERSION = "text-1"
SHORTLIST = 20
MAX_QUERY_WORDS = 64
# Word overlap that, with every dimension agreeing, proposes a record. On the demo, true pairs reach
# 0.38-0.84 and every one agrees in size; 0.4 % of false pairs agree in size, 6 of them with words >= 0.35.
# Words alone never propose: records of one type share most of their words.
MIN_WORDS_WITH_SIZE = 0.35
_WORD = re.compile(r"[^\W\d_]{3,}")


@dataclass
class TextMatch:
    """How alike one listing text and one registry record are, and why."""

    registry_object_id: int
    words: float
    shared: list[str] = field(default_factory=list)
    inventory_number: str = ""
    sizes_agree: int = 0
    sizes_given: int = 0
    listing_lengths: list[float] = field(default_factory=list)
    record_lengths: list[float] = field(default_factory=list)

    @property
    def score(self) -> float:
        """0-100: the word overlap and the share of agreeing dimensions, averaged."""
        size = self.sizes_agree / self.sizes_given if self.sizes_given else 0.0
        return round(100 * (self.words + size) / 2, 1)

    @property
    def proposes(self) -> bool:
        """Strong enough to put the record before an analyst without any image match."""
        if self.inventory_number:
            return True
        fewer = min(len(self.listing_lengths), len(self.record_lengths))
        all_sizes = self.sizes_agree >= 2 and self.sizes_agree >= fewer
        return all_sizes and self.words >= MIN_WORDS_WITH_SIZE

    def as_dict(self) -> dict:
        return {
            "score": self.score,
            "words": self.words,
            "shared_words": self.shared,
            "inventory_number": self.inventory_number,
            "sizes_agree": self.sizes_agree,
            "sizes_given": self.sizes_given,
            "listing_cm": self.listing_lengths,
            "record_cm": self.record_lengths,
        }


def words(text: str | None) -> set[str]:
    """The normalised words of three letters or more in ``text``."""
    return set(_WORD.findall(normalise(text or "")))


def compare(
    listing_text: str, record: dict, idf: Callable[[str], float], known: Callable[[str], bool]
) -> TextMatch:
    """Score one listing text against one registry record (a dict of its fields).

    ``idf`` weighs a word by its rarity among the records; ``known`` says whether any record uses it.
    """
    record_text = " ".join(str(record.get(f) or "") for f in TEXT_FIELDS)
    theirs = words(record_text)
    # A word no record uses says nothing about which record this is ("chips", "shipping").
    mine = {w for w in words(listing_text) if known(w)}
    shared = mine & theirs
    norm = math.sqrt(sum(idf(w) ** 2 for w in mine) * sum(idf(w) ** 2 for w in theirs))
    overlap = sum(idf(w) ** 2 for w in shared) / norm if norm else 0.0
    mine_cm = measure.lengths(listing_text)
    theirs_cm = measure.lengths(" ".join([str(record.get("measurements") or ""), record_text]))
    agree, given = measure.agreement(mine_cm, theirs_cm)
    number = str(record.get("inventory_number") or "")
    return TextMatch(
        registry_object_id=int(record["id"]),
        words=round(overlap, 3),
        shared=sorted(shared, key=lambda w: (-idf(w), w))[:12],
        inventory_number=number if _mentions(listing_text, number) else "",
        sizes_agree=agree,
        sizes_given=given,
        listing_lengths=mine_cm,
        record_lengths=theirs_cm,
    )


def _mentions(text: str, number: str) -> bool:
    """Does ``text`` give this inventory number ("IM 12345", "im.12345")? Numbers without a digit or
    shorter than four characters say too little."""
    parts = re.findall(r"[^\W_]+", normalise(number))
    if not parts or sum(map(len, parts)) < 4 or not any(c.isdigit() for c in number):
        return False
    pattern = r"(?<![^\W_])" + r"[\W_]*".join(map(re.escape, parts)) + r"(?![^\W_])"
    return re.search(pattern, normalise(text)) is not None


class _Records:
    """The registry's records as the text comparison sees them: full-text shortlist and word rarity."""

    def __init__(self, db: Database):
        self.db = db
        self.total = db.execute(
            f"SELECT count(*) FROM registry_objects o WHERE {store.ACTIVE_RECORD}"
        ).fetchone()[0]
        self._df: dict[str, int] = {}

    def idf(self, word: str) -> float:
        return math.log((self.total + 1) / (self._df.get(word, 0) + 1)) + 1.0

    def known(self, word: str) -> bool:
        return self._df.get(word, 0) > 0

    def learn(self, vocabulary: Iterable[str]) -> None:
        todo = [w for w in vocabulary if w not in self._df]
        for i in range(0, len(todo), 500):
            chunk = todo[i : i + 500]
            self._df.update(dict.fromkeys(chunk, 0))
            marks = ",".join("?" * len(chunk))
            for term, doc in self.db.execute(
                f"SELECT term, doc FROM registry_objects_fts_vocab WHERE term IN ({marks})", chunk
            ):
                self._df[term] = doc

    def shortlist(self, listing_words: set[str], limit: int = SHORTLIST) -> list[dict]:
        if not listing_words or not self.total:
            return []
        self.learn(listing_words)
        rare = sorted(listing_words, key=lambda w: (self._df.get(w, 0), w))[:MAX_QUERY_WORDS]
        query = " OR ".join(f'"{w}"' for w in rare)
        return list(
            self.db.query(
                "SELECT o.* FROM registry_objects_fts f JOIN registry_objects o ON o.rowid = f.rowid "
                f"WHERE registry_objects_fts MATCH :q AND {store.ACTIVE_RECORD} "
                "ORDER BY bm25(registry_objects_fts) LIMIT :n",
                {"q": query, "n": limit},
            )
        )

    def get(self, ids: Iterable[int]) -> list[dict]:
        ids = list(ids)
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        return list(self.db.query(f"SELECT * FROM registry_objects WHERE id IN ({marks})", ids))

    def state(self) -> str:
        """Changes whenever a record is added, edited or withdrawn, so every listing is compared again."""
        return f"{TEXT_VERSION}:{store.registry_state(self.db)}"


def match_texts(
    db: Database, rematch_all: bool = False, progress: Callable[[int, int], None] | None = None
) -> dict[str, int]:
    """Compare listings whose text or the registry changed since they were last compared."""
    records = _Records(db)
    state = records.state()
    rows = list(db.query("SELECT id, title, description, content_sha256, text_version FROM listings"))
    todo = [r for r in rows if rematch_all or r["text_version"] != f"{state}:{r['content_sha256']}"]
    counts = {"compared": len(todo), "text_candidates": 0}
    for n, r in enumerate(todo, start=1):
        text = f"{r['title'] or ''}\n{r['description'] or ''}"
        counts["text_candidates"] += _match_listing(db, records, r["id"], text)
        db.table("listings").update(r["id"], {"text_version": f"{state}:{r['content_sha256']}"})
        if progress:
            progress(n, len(todo))
    return counts


def _match_listing(db: Database, records: _Records, listing_id: int, text: str) -> int:
    image_rows = list(
        db.query(
            "SELECT registry_object_id, tier FROM candidates WHERE listing_id = ? AND kind = 'image'",
            [listing_id],
        )
    )
    image_ids = {r["registry_object_id"] for r in image_rows}
    shown = {r["registry_object_id"] for r in image_rows if r["tier"]}
    mine = words(text)
    found = {r["id"]: r for r in records.shortlist(mine)}
    found.update({r["id"]: r for r in records.get(image_ids - set(found))})
    records.learn(words(" ".join(str(r.get(f) or "") for r in found.values() for f in TEXT_FIELDS)))
    matches = {i: compare(text, r, records.idf, records.known) for i, r in found.items()}
    proposed = {i for i, m in matches.items() if m.proposes and i not in shown}
    with connect.atomic(db):
        for obj_id in image_ids:
            m = matches.get(obj_id)
            db.execute(
                "UPDATE candidates SET text_score = ?, text_json = ? "
                "WHERE listing_id = ? AND registry_object_id = ? AND kind = 'image'",
                [m.score if m else None, json.dumps(m.as_dict()) if m else None, listing_id, obj_id],
            )
        _write_text_candidates(db, listing_id, {i: matches[i] for i in proposed})
    return len(proposed)


def _write_text_candidates(db: Database, listing_id: int, proposed: dict[int, TextMatch]) -> None:
    store.sync_candidates(
        db,
        listing_id,
        "text",
        {
            obj_id: {
                "tier": "review",
                "score": m.score,
                "text_score": m.score,
                "text_json": json.dumps(m.as_dict()),
                "matcher_version": TEXT_VERSION,
            }
            for obj_id, m in proposed.items()
        },
    )
