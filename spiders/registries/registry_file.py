"""Import a registry file (CSV, JSON, JSONL) through the crawler, so photo URLs and paths are fetched,
kept and hashed exactly like lot photos. Run by ``lootwatch registry import FILE``."""

from collections.abc import AsyncIterator

import scrapy

from spiders.items import RegistryItem

from .files import parse_mapping, read_registry_file


class RegistryFileSpider(scrapy.Spider):
    """``-a path=FILE`` (required), ``-a source=NAME`` (for files without a source column) and
    ``-a mapping=THEIRS:OURS,...`` (column names to Object ID fields)."""

    name = "registry_file"
    kind = "registry"
    allow_file_urls = True  # photos named in the registry file are local paths

    async def start(self) -> AsyncIterator[RegistryItem]:
        path = getattr(self, "path", None)
        if not path:
            raise ValueError("registry_file: set -a path=FILE")
        parsed = read_registry_file(
            path, getattr(self, "source", None), parse_mapping(getattr(self, "mapping", ""))
        )
        recorder = getattr(self.crawler, "lootwatch_run", None)
        for row, reason in parsed.errors:
            if recorder is not None:
                recorder.error("registry", f"{path} {row}", reason)
        for record in parsed.records:
            urls = record.pop("image_urls")
            yield RegistryItem(record=record, image_urls=urls)
        self.complete = True  # the file is the source's whole listing
