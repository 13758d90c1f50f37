"""Download every photo with Scrapy's FilesPipeline, keeping the original bytes, addressed by SHA-256."""

from __future__ import annotations

import hashlib
from io import BytesIO
from typing import Any

from itemadapter import ItemAdapter
from scrapy.http import Request, Response
from scrapy.pipelines.files import FilesPipeline
from scrapy.utils.defer import maybe_deferred_to_future


class OriginalsPipeline(FilesPipeline):
    """FilesPipeline that names each stored file by the SHA-256 of its bytes and records failed downloads.

    ImagesPipeline would re-encode the photo; evidence needs the bytes exactly as served.
    """

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

    def item_completed(self, results: list, item: Any, info) -> Any:
        adapter = ItemAdapter(item)
        urls = adapter.get(self.files_urls_field) or []
        adapter[self.files_result_field] = [r for ok, r in results if ok]
        adapter["file_errors"] = [
            (url, _reason(r)) for url, (ok, r) in zip(urls, results, strict=False) if not ok
        ]
        for _ in adapter["file_errors"]:
            self.crawler.stats.inc_value("lootwatch/originals/failed")
        return item


def _reason(failure: Any) -> str:
    value = getattr(failure, "value", failure)
    return f"{type(value).__name__}: {value}" if str(value) else type(value).__name__
