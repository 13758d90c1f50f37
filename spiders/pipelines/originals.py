"""Download every photo with Scrapy's FilesPipeline, keeping the original bytes, addressed by SHA-256."""

from __future__ import annotations

import hashlib
from io import BytesIO
from pathlib import Path
from typing import Any

from itemadapter import ItemAdapter
from scrapy.http import Request, Response
from scrapy.http.request import NO_CALLBACK
from scrapy.pipelines.files import FilesPipeline
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import defer

from matcher.db import store
from spiders.addresses import Refused


class OriginalsPipeline(FilesPipeline):
    """FilesPipeline that names each stored file by the SHA-256 of its bytes and records failed downloads.

    ImagesPipeline would re-encode the photo; evidence needs the bytes exactly as served.
    """

    def media_to_download(self, request: Request, info, *, item=None):
        """A photo URL whose bytes are already stored is not fetched again (a daily run re-lists the same
        lots); anything else is downloaded."""
        run = getattr(self.crawler, "lootwatch_run", None)
        known = store.known_photo(run.db, request.url) if run is not None else None
        basedir = getattr(self.store, "basedir", None)  # local stores only: others are asked by download
        if known and basedir and (Path(basedir) / known[:2] / known).is_file():
            self.crawler.stats.inc_value("lootwatch/originals/reused")
            return defer.succeed(
                {"url": request.url, "path": f"{known[:2]}/{known}", "checksum": known, "status": "uptodate"}
            )
        return super().media_to_download(request, info, item=item)

    def file_path(self, request: Request, response: Response | None = None, info=None, *, item=None) -> str:
        if response is None:
            # Before download the content is unknown; this path never exists, so every photo is fetched.
            return "pending/" + hashlib.sha256(request.url.encode()).hexdigest()
        digest = hashlib.sha256(response.body).hexdigest()
        return f"{digest[:2]}/{digest}"

    async def file_downloaded(self, response: Response, request: Request, info, *, item=None) -> str:
        path = self.file_path(request, response=response, info=info, item=item)
        stored = self.store.persist_file(path, BytesIO(response.body), info)
        if stored is not None:
            await maybe_deferred_to_future(stored)
        return path.rsplit("/", 1)[-1]  # the checksum is the SHA-256

    def get_media_requests(self, item: Any, info) -> list[Request]:
        return [
            Request(u, callback=NO_CALLBACK)
            for u in _requestable(ItemAdapter(item).get(self.files_urls_field))
        ]

    def item_completed(self, results: list, item: Any, info) -> Any:
        adapter = ItemAdapter(item)
        urls = adapter.get(self.files_urls_field) or []
        requested = _requestable(urls)
        adapter[self.files_result_field] = [r for ok, r in results if ok]
        adapter["file_errors"] = [
            (url, _reason(r)) for url, (ok, r) in zip(requested, results, strict=False) if not ok
        ] + [(url, "not a URL that can be fetched") for url in urls if url not in requested]
        for _ in adapter["file_errors"]:
            self.crawler.stats.inc_value("lootwatch/originals/failed")
        return item


def _requestable(urls: Any) -> list[str]:
    """The photo URLs a request can be made for; a page can offer anything ("javascript:alert(1)")."""
    out = []
    for url in urls or []:
        try:
            Request(url)
        except (ValueError, TypeError):
            continue
        out.append(url)
    return out


def _reason(failure: Any) -> str:
    value = getattr(failure, "value", failure)
    if isinstance(value.__cause__, Refused):  # FilesPipeline wraps a refused request; keep its reason
        value = value.__cause__
    return f"{type(value).__name__}: {value}" if str(value) else type(value).__name__
