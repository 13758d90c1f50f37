"""Fetch the photos of a registry file through the crawler. ``lootwatch registry import FILE`` reads the
records and local photos itself (spiders/registries/local_import.py) and runs this spider with
``-a only=urls`` for the http(s) photos, which are fetched at the crawler's politeness; without ``only``
the spider imports the whole file, local photos as ``file://`` requests (the demo does)."""

from collections.abc import AsyncIterator
from pathlib import Path

import scrapy

from spiders.items import RegistryItem

from .files import open_registry_file, parse_mapping
from .local_import import is_url


class RegistryPhotosItem(RegistryItem):
    """A registry record with only some of its photos: ``positions`` says where each one belongs."""

    positions = scrapy.Field()


class RegistryFileSpider(scrapy.Spider):
    """``-a path=FILE`` (required), ``-a source=NAME`` (for files without a source column),
    ``-a mapping=THEIRS:OURS,...`` (column names to Object ID fields), ``-a photo_root=DIR`` (where
    relative photo paths may point) and ``-a only=urls`` (records with photo URLs, those photos only)."""

    name = "registry_file"
    kind = "registry"
    allow_file_urls = True  # photos named in the registry file are local paths

    async def start(self) -> AsyncIterator[RegistryItem]:
        path = getattr(self, "path", None)
        if not path:
            raise ValueError("registry_file: set -a path=FILE")
        only_urls = getattr(self, "only", "") == "urls"
        rows = open_registry_file(
            path,
            source=getattr(self, "source", None),
            mapping=parse_mapping(getattr(self, "mapping", "")),
            photo_root=getattr(self, "photo_root", None),
        )
        recorder = getattr(self.crawler, "lootwatch_run", None)
        for row in rows:
            if only_urls:
                # The import already stored this row, its refusal or its local photos.
                positions = [n for n, p in enumerate(row.photos) if is_url(p)]
                if row.record is not None and positions:
                    urls = [row.photos[n] for n in positions]
                    yield RegistryPhotosItem(record=row.record, image_urls=urls, positions=positions)
                continue
            for reason in row.errors:
                if recorder is not None:
                    recorder.error("registry", f"{path} {row.label}", reason)
            if row.record is not None:
                urls = [p if is_url(p) else Path(p).as_uri() for p in row.photos]
                yield RegistryItem(record=row.record, image_urls=urls)
        self.complete = not only_urls  # the whole file is the source's whole listing
