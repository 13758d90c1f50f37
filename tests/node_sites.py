"""Six fake auction houses on loopback for the multi-node tests and benchmark, and their spiders.

Each ``AuctionHouse`` serves robots.txt, listing pages, lot pages (schema.org JSON-LD, one photo each)
and photos, waits ``delay`` seconds before each answer (a real site's response time), and logs every
request's start and end so a test can tell how many were ever in flight at once. Lot ``PLANTED`` of each
house shows an edited copy of a registry photo (``registry_photos``); the others show photos of their own.
The spiders ``node_site_a`` ... ``node_site_f`` read their house's URL from the LOOTWATCH_TEST_SITES
setting (a JSON object, site -> URL), as Scrapyd passes settings as text.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import AsyncIterator
from http.server import BaseHTTPRequestHandler

import numpy as np
from PIL import Image
from scrapy.http import Request

from seeds.demo import draw, edits
from seeds.demo.server import LoopbackServer
from spiders.base import StructuredDataSpider
from tests.fault_site import _send

SITES = [f"node_site_{c}" for c in "abcdef"]
PER_PAGE = 10
PLANTED = 3  # the lot of every house that shows an edited registry photo
KINDS = ("vessel", "coin", "figurine", "relief", "seal", "lamp")
PLANTED_EDITS = ("crop", "watermark", "pad", "resize", "crop", "watermark")


def registry_photos() -> list[tuple[str, bytes]]:
    """(source_id, JPEG bytes) of the six registry objects, one per house, deterministic."""
    out = []
    for n, kind in enumerate(KINDS):
        material = draw.TYPE_MATERIALS[kind][0]
        out.append(
            (f"R{n + 1}", _jpeg(draw.photo(draw.sprite(kind, material, 500 + n), "white", 900 + n), 90))
        )
    return out


def planted_photo(site_index: int) -> bytes:
    """An edited copy of registry photo ``site_index``, as a dealer would reuse it."""
    original = Image.open(io.BytesIO(registry_photos_cached()[site_index][1])).convert("RGB")
    rng = np.random.default_rng(70 + site_index)
    return _jpeg(edits.EDITS[PLANTED_EDITS[site_index]](original, rng), 85)


_REGISTRY: list[tuple[str, bytes]] = []


def registry_photos_cached() -> list[tuple[str, bytes]]:
    if not _REGISTRY:
        _REGISTRY.extend(registry_photos())
    return _REGISTRY


def lot_photo(site_index: int, n: int) -> bytes:
    """A photo of a house's own lot: a pattern no registry photo shows, distinct per house and lot."""
    seed = site_index * 1000 + n
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
    im = Image.fromarray(pixels).resize((320, 240), Image.Resampling.BICUBIC)
    return _jpeg(im, 88)


def _jpeg(im: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


class AuctionHouse(LoopbackServer):
    """One house: ``lots`` lots of one photo each; ``requests`` holds (start, end, path) per request."""

    def __init__(self, site_index: int, lots: int, delay: float = 0.0):
        self.site_index, self.lots, self.delay = site_index, lots, delay
        self.requests: list[tuple[float, float, str]] = []
        self.published: dict[int, float] = {}  # lot -> when it was first served (benchmark latency)
        self.lock = threading.Lock()
        self.photos = {n: lot_photo(site_index, n) for n in range(1, lots + 1)}
        self.photos[PLANTED] = planted_photo(site_index)
        house = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                return None

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                start = time.monotonic()
                time.sleep(house.delay)
                house.answer(self)
                with house.lock:
                    house.requests.append((start, time.monotonic(), self.path))

        super().__init__(Handler)

    def most_in_flight(self) -> int:
        """The most requests this house was ever answering at the same time."""
        return len(self.busiest())

    def busiest(self) -> list[tuple[float, float, str]]:
        """The requests in flight together at the busiest moment: (start, end, path) each."""
        events = sorted(
            [(s, 1, r) for r in self.requests for s in r[:1]] + [(r[1], -1, r) for r in self.requests]
        )
        now: set = set()
        busiest: list = []
        for _, step, request in events:
            now.add(request) if step > 0 else now.discard(request)
            if len(now) > len(busiest):
                busiest = sorted(now)
        return busiest

    def answer(self, h: BaseHTTPRequestHandler) -> None:
        path = h.path
        if path == "/robots.txt":
            return _send(h, 200, b"User-agent: *\nAllow: /\n", "text/plain")
        if path.startswith("/list?page="):
            page = int(path.rsplit("=", 1)[1])
            numbers = range((page - 1) * PER_PAGE + 1, min(page * PER_PAGE, self.lots) + 1)
            links = "".join(f'<a class="lot" href="/lot/{n}">Lot {n}</a>' for n in numbers)
            if page * PER_PAGE < self.lots:
                links += f'<a class="next" href="/list?page={page + 1}">next</a>'
            return _send(h, 200, f"<html><body>{links}</body></html>".encode(), "text/html")
        if path.startswith("/img/"):
            return _send(h, 200, self.photos[int(path[5:].split(".")[0])], "image/jpeg")
        if path.startswith("/lot/"):
            n = int(path[5:])
            with self.lock:
                self.published.setdefault(n, time.time())
            product = {
                "@context": "https://schema.org",
                "@type": "Product",
                "sku": str(n),
                "name": f"Lot {n}: {KINDS[self.site_index]} from an old collection",
                "description": f"<p>Lot {n} of house {self.site_index}.</p>",
                "image": [f"/img/{n}.jpg"],
                "offers": {"@type": "Offer", "price": str(100 + n), "priceCurrency": "EUR"},
            }
            body = (
                f'<html><head><script type="application/ld+json">{json.dumps(product)}</script></head></html>'
            )
            return _send(h, 200, body.encode(), "text/html")
        return _send(h, 404, b"not here", "text/plain")


class _HouseSpider(StructuredDataSpider):
    lot_links = "a.lot"
    next_page = "a.next"

    async def start(self) -> AsyncIterator[Request]:
        base = self.settings.getdict("LOOTWATCH_TEST_SITES")[self.name]
        yield self.request(f"{base}/list?page=1", self.parse)


# One spider class per house: a site is a spider name, pinned to one node.
for _name in SITES:
    globals()[f"{_name.title().replace('_', '')}Spider"] = type(
        f"{_name.title().replace('_', '')}Spider", (_HouseSpider,), {"name": _name}
    )
