"""The photo check in the browser: ``lootwatch check`` for people who do not use a terminal.

``/-/lootwatch/check`` takes one or more photos in a multipart form from a signed-in reviewer and shows
the registry records each may show, best first, with the evidence ``lootwatch check`` prints
(``matcher.check.check_photo`` against the registry index). Nothing is stored: the photos are read into
memory, checked and dropped with the response; the database is only read.

The form's CSRF token is checked here, against the signed ``ds_csrftoken`` cookie as asgi-csrf does
(``skip_upload_csrf``): asgi-csrf's own reading of multipart forms fails with python-multipart 0.0.2x.

Uploads are hostile input: at most ``MAX_FILES`` photos of ``MAX_FILE`` bytes each (the whole request is
capped before it is read, ``reports.security``), decoded by ``matcher.photo.decode`` with its pixel cap. Each
photo that cannot be checked is one line on the page saying why.

The registry index is built once per server process and built again when the registry changes (photos
added, hashed, withdrawn, a bank turned off), which ``registry_signature`` notices with one query.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import time
from dataclasses import dataclass, field

from datasette.utils.asgi import Forbidden, Response
from itsdangerous import BadSignature
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from sqlite_utils import Database

from matcher.check import check_photo
from matcher.photo.decode import DecodeError, decode
from matcher.photo.fingerprint import thumbnail_jpeg
from matcher.search.registry_index import RegistryIndex

from .digest import safe_url
from .security import MAX_FILE, MAX_FILES, UPLOAD_CAP, UPLOAD_PATH
from .worklist import likeness_line, photo_facts, record_name, variant_words, why_line

__all__ = ["photo_check", "skip_upload_csrf", "parse_upload", "registry_signature", "MAX_FILES", "MAX_FILE"]

log = logging.getLogger("lootwatch.review")
FIELD_CAP = 4096  # a form field that is not a photo (the CSRF token)
MAX_PARTS = 20
FIELD = "photos"
TOO_MANY = "not checked"

_index: dict[str, tuple[tuple, RegistryIndex, float]] = {}  # database path -> (signature, index, seconds)
_one_at_a_time: asyncio.Semaphore | None = None


@dataclass
class Upload:
    name: str
    data: bytearray = field(default_factory=bytearray)
    error: str | None = None


@dataclass
class Form:
    uploads: list[Upload] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class _Parts:
    """The callbacks of a streaming multipart parser: what it has read goes into ``form``."""

    def __init__(self, form: Form):
        self.form = form
        self.part: dict = {}
        self.header: dict[str, bytearray] = {}

    def callbacks(self) -> dict:
        names = ("part_begin", "part_data", "part_end", "header_field", "header_value", "header_end")
        return {f"on_{n}": getattr(self, n) for n in (*names, "headers_finished")}

    def part_begin(self):
        self.part = {"headers": {}}
        if len(self.form.uploads) + len(self.form.fields) >= MAX_PARTS:
            raise FormParserError("too many parts")

    def header_field(self, data, start, end):
        self.header.setdefault("field", bytearray()).extend(data[start:end])

    def header_value(self, data, start, end):
        self.header.setdefault("value", bytearray()).extend(data[start:end])
        if len(self.header["value"]) > 2000:
            raise FormParserError("a part header is too long")

    def header_end(self):
        name = bytes(self.header.pop("field", b"")).decode("latin-1").strip().lower()
        self.part["headers"][name] = bytes(self.header.pop("value", b""))

    def headers_finished(self):
        _, options = parse_options_header(self.part["headers"].get("content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        if filename is None:
            self.part.update(field=name, value=bytearray())
            return
        filename = filename.decode("utf-8", "replace").replace("\\", "/").rsplit("/", 1)[-1][:200]
        if name != FIELD or not filename:
            self.part["skip"] = True  # a file input left empty, or one this form does not have
            return
        upload = Upload(filename)
        if sum(not (u.error or "").startswith(TOO_MANY) for u in self.form.uploads) >= MAX_FILES:
            upload.error = f"{TOO_MANY}: at most {MAX_FILES} photos at a time"
        self.form.uploads.append(upload)
        self.part["upload"] = upload

    def part_data(self, data, start, end):
        upload = self.part.get("upload")
        if upload is not None:
            if upload.error is None:
                upload.data.extend(data[start:end])
                if len(upload.data) > MAX_FILE:
                    upload.error = f"larger than {MAX_FILE // 2**20} MB, the most a photo here may be"
                    upload.data = bytearray()
        elif "field" in self.part:
            self.part["value"].extend(data[start:end])
            if len(self.part["value"]) > FIELD_CAP:
                raise FormParserError(f"the field {self.part['field'][:40]!r} is too long")

    def part_end(self):
        if "field" in self.part:
            self.form.fields[self.part["field"][:100]] = bytes(self.part["value"]).decode("utf-8", "replace")


def parse_upload(boundary: bytes) -> tuple[MultipartParser, Form]:
    """A streaming multipart parser that keeps at most ``MAX_FILES`` photos of ``MAX_FILE`` bytes each in
    memory, and what it has read. Photos over the caps are kept as one line of error each."""
    form = Form()
    return MultipartParser(boundary, _Parts(form).callbacks()), form


async def _read_form(request) -> Form:
    _, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if not boundary:
        raise FormParserError("no multipart boundary")
    parser, form = parse_upload(boundary)
    size = 0
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise FormParserError("the upload stopped before its end")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > UPLOAD_CAP:  # reports.security refused longer bodies already; a second guard
            raise FormParserError("the upload is too large")
        parser.write(chunk)
        if not message.get("more_body"):
            break
    parser.finalize()
    return form


def registry_signature(conn) -> tuple:
    """What changes when the registry index would: its photos, their hashes, withdrawn records, banks."""
    return tuple(
        conn.execute(
            """
            SELECT
              (SELECT count(*) || ':' || coalesce(max(id), 0) || ':' || count(sha256) || ':'
                      || coalesce(sum(matchable), 0) || ':' || coalesce(sum(error IS NULL), 0)
                 FROM registry_images),
              (SELECT count(*) || ':' || coalesce(sum(coalesce(status, '') = 'withdrawn'), 0)
                 FROM registry_objects),
              (SELECT group_concat(source || '=' || enabled) FROM banks)
            """
        ).fetchone()
    )


def _index_for(conn, key: str) -> tuple[RegistryIndex, float]:
    """The registry index of the database (built again only when its signature changed), and the seconds
    its build took."""
    signature = registry_signature(conn)
    cached = _index.get(key)
    if cached and cached[0] == signature:
        return cached[1], cached[2]
    began = time.perf_counter()
    index = RegistryIndex.from_db(Database(conn))
    seconds = time.perf_counter() - began
    _index[key] = (signature, index, seconds)
    log.info("registry index of %s built in %.2f s", key, seconds)
    return index, seconds


def _check_all(conn, key: str, uploads: list[Upload]) -> dict:
    """Run ``check_photo`` on every readable upload; one result per upload, in order."""
    index, built = _index_for(conn, key)
    db = Database(conn)
    results = []
    began = time.perf_counter()
    for upload in uploads:
        result = {
            "name": upload.name,
            "error": upload.error,
            "preview": None,
            "candidates": [],
            "likeness": [],
        }
        if upload.error is None and not upload.data:
            result["error"] = "empty file"
        if result["error"] is None:
            data = bytes(upload.data)
            try:
                result["preview"] = _preview(data)
                found = check_photo(db, index, data)
                result["candidates"] = [_with_photo(db, c) for c in found["candidates"]]
                result["likeness"] = [_with_photo(db, c) for c in found["likeness"]]
            except DecodeError as exc:
                result["error"] = str(exc)
            except Exception as exc:  # noqa: BLE001 - one photo's failure must not lose the others
                log.exception("checking an uploaded photo failed")
                result["error"] = f"could not be checked (internal error: {type(exc).__name__})"
        results.append(result)
    return {"results": results, "index_seconds": built, "check_seconds": time.perf_counter() - began}


def _preview(data: bytes) -> str:
    jpeg, _ = thumbnail_jpeg(decode(data))
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


def _with_photo(db: Database, candidate: dict) -> dict:
    evidence = candidate.get("evidence") or {}
    row = db.execute(
        "SELECT t.jpeg, o.source_url FROM registry_images ri JOIN registry_objects o ON o.id = ri.object_id "
        "LEFT JOIN thumbnails t ON t.sha256 = ri.sha256 WHERE ri.id = ?",
        [evidence.get("registry_image_id")],
    ).fetchone()
    jpeg, url = row if row else (None, None)
    photo = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii") if jpeg else None
    named = {"kind": "image", "source": candidate.get("source"), "source_id": candidate.get("source_id")}
    compared = f"{evidence.get('view') or ''}:{evidence.get('variant') or ''}"
    return {
        **candidate,
        "photo": photo,
        "url": safe_url(url) if url else None,
        # The candidate page's plain words; a record only alike by the embedding has its own.
        "why": likeness_line(evidence)
        if candidate.get("tier") == "likeness"
        else why_line(named, evidence, []),
        "record": record_name(named),
        # As on the candidate page: the hash variant only when the hashes matched.
        "compared": variant_words(compared, "uploaded photo")
        if photo_facts(named, evidence, None)["hashes"]
        else "",
        "same_photo_names": [
            record_name({"registry_record": s}) for s in candidate.get("same_photo_as") or []
        ],
    }


def skip_upload_csrf(scope) -> bool:
    """The ``skip_csrf`` hook: the photo check's POST, whose token ``photo_check`` checks itself."""
    return scope.get("path") == UPLOAD_PATH and scope.get("method") == "POST"


def _token_ok(datasette, request, form: Form) -> bool:
    cookie = request.cookies.get("ds_csrftoken") or ""
    sent = form.fields.get("csrftoken") or ""
    try:
        datasette.unsign(cookie, "csrftoken")
    except (BadSignature, ValueError, TypeError):
        return False
    return bool(sent) and secrets.compare_digest(sent.encode(), cookie.encode())


def _database(datasette):
    return datasette.get_database(next(iter(datasette.databases.keys() - {"_internal", "_memory"})))


async def photo_check(request, datasette) -> Response:
    global _one_at_a_time
    config = datasette.plugin_config("lootwatch") or {}
    if config.get("read_only"):
        raise Forbidden(
            "The photo check is for signed-in reviewers; this review UI is read-only (no reviewers are "
            "set up). Run lootwatch check on the command line instead."
        )
    if not request.actor or not request.actor.get("id"):
        raise Forbidden("Sign in to check a photo.")
    db = _database(datasette)
    context = {"database": db.name, "max_files": MAX_FILES, "max_mb": MAX_FILE // 2**20, "checked": None}
    if request.method == "POST":
        try:
            form = await _read_form(request)
        except FormParserError as exc:
            return await _page(datasette, request, {**context, "form_error": str(exc)}, status=400)
        if not _token_ok(datasette, request, form):
            raise Forbidden(
                "The form's security token is missing or stale: reload the page and send it again."
            )
        uploads = form.uploads
        if not uploads:
            return await _page(datasette, request, {**context, "form_error": "Choose a photo first."}, 400)
        _one_at_a_time = _one_at_a_time or asyncio.Semaphore(1)
        async with _one_at_a_time:  # decoding and matching are CPU work: one upload at a time
            checked = await db.execute_fn(lambda conn: _check_all(conn, db.path or db.name, uploads))
        context["checked"] = checked
    return await _page(datasette, request, context)


async def _page(datasette, request, context: dict, status: int = 200) -> Response:
    html = await datasette.render_template("lootwatch_photo_check.html", context, request=request)
    return Response.html(html, status=status)
