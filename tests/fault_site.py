"""A small auction site on loopback that misbehaves the way real ones do, and a spider for it.

The site: robots.txt disallowing /private/, listing pages, lot pages with schema.org JSON-LD and ETags
(a repeated request with If-None-Match gets 304), a redirect, a 404, a 429 with Retry-After on the
first try, a slow page, and a lot whose title changes when ``version`` goes up. ``python -m
tests.fault_site URL DB DATA [JOBDIR]`` crawls it in its own process (Scrapy's reactor runs once).
"""

from __future__ import annotations

import io
import json
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from PIL import Image

from seeds.demo.server import LoopbackServer
from spiders.base import StructuredDataSpider

LOTS = 30
PER_PAGE = 10
SPECIAL = {"redirect": 8, "missing": 9, "too_many": 4, "slow": 5, "changing": 7}


class FaultSite(LoopbackServer):
    """The running site: ``url``, ``hits`` per path, and ``version`` (2 changes lot 7, drops lot 3)."""

    def __init__(self, lot_delay: float = 0.0):
        self.hits: Counter[str] = Counter()
        self.version = 1
        self.lot_delay = lot_delay
        self.lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                return None

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                with site.lock:
                    site.hits[self.path] += 1
                    count = site.hits[self.path]
                site.answer(self, count)

        super().__init__(Handler)

    def lots(self) -> list[int]:
        return [n for n in range(1, LOTS + 1) if not (self.version > 1 and n == 3)]

    def answer(self, h: BaseHTTPRequestHandler, count: int) -> None:
        path = h.path
        if path == "/robots.txt":
            return _send(h, 200, b"User-agent: *\nDisallow: /private/\n", "text/plain")
        if path.startswith("/list?page="):
            page = int(path.rsplit("=", 1)[1])
            lots = self.lots()[(page - 1) * PER_PAGE : page * PER_PAGE]
            links = "".join(f'<a class="lot" href="/lot/{n}">Lot {n}</a>' for n in lots)
            links += '<a class="lot" href="/private/lot/99">Hidden</a>' if page == 1 else ""
            more = page * PER_PAGE < len(self.lots())
            links += f'<a class="next" href="/list?page={page + 1}">next</a>' if more else ""
            return _send(h, 200, f"<html><body>{links}</body></html>".encode(), "text/html")
        if path.startswith("/img/"):
            return _send(h, 200, _photo(int(path[5:].split(".")[0])), "image/jpeg")
        if path.startswith("/lot/"):
            return self.lot(h, path[5:], count)
        return _send(h, 404, b"not here", "text/plain")

    def lot(self, h: BaseHTTPRequestHandler, key: str, count: int) -> None:
        if key == str(SPECIAL["redirect"]):
            h.send_response(302)
            h.send_header("Location", f"/lot/{key}b")
            h.end_headers()
            return None
        n = int(key.rstrip("b"))
        if n == SPECIAL["missing"]:
            return _send(h, 404, b"lot withdrawn", "text/plain")
        if n == SPECIAL["too_many"] and count == 1:
            h.send_response(429)
            h.send_header("Retry-After", "1")
            h.send_header("Content-Length", "0")
            h.end_headers()
            return None
        time.sleep(1.0 if n == SPECIAL["slow"] else self.lot_delay)
        version = self.version if n == SPECIAL["changing"] else 1
        etag = f'"{n}-{version}"'
        if h.headers.get("If-None-Match") == etag:
            h.send_response(304)
            h.send_header("ETag", etag)
            h.end_headers()
            return None
        product = {
            "@context": "https://schema.org",
            "@type": "Product",
            "sku": str(n),
            "name": f"Lot {n}: bronze figure" + (" (re-offered)" if version > 1 else ""),
            "description": f"<p>Bronze figure number {n}.</p>",
            "image": [f"/img/{n}.jpg"],
            "offers": {"@type": "Offer", "price": str(100 + n), "priceCurrency": "EUR"},
        }
        body = f'<html><head><script type="application/ld+json">{json.dumps(product)}</script></head></html>'
        return _send(h, 200, body.encode(), "text/html", {"ETag": etag})


def _send(h, status: int, body: bytes, kind: str, headers: dict | None = None) -> None:
    h.send_response(status)
    h.send_header("Content-Type", kind)
    h.send_header("Content-Length", str(len(body)))
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    h.end_headers()
    h.wfile.write(body)


def _photo(n: int) -> bytes:
    im = Image.new("RGB", (160, 120), (40 + 7 * n % 200, 90, 160 - 3 * n % 150))
    for x in range(0, 160, 8):
        for y in range((x * n) % 17, 120, 13):
            im.putpixel((x, y), (250, 250, 250))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return buf.getvalue()


class FaultSiteSpider(StructuredDataSpider):
    name = "fault_site"
    lot_links = "a.lot"
    next_page = "a.next"

    def __init__(self, *args, base: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.start_urls = [f"{base}/list?page=1"]


def crawl(base: str, db: str, data: str, jobdir: str | None = None, spider=None, **overrides) -> None:
    """Crawl a loopback test site with ``spider`` (default FaultSiteSpider), quickly: no delays."""
    from spiders.run import project_settings, run_stages

    settings = project_settings(
        db,
        data,
        DOWNLOAD_DELAY=0,
        AUTOTHROTTLE_ENABLED=False,
        CONCURRENT_REQUESTS_PER_DOMAIN=2,
        LOG_LEVEL="WARNING",
        **({"LOOTWATCH_ALLOW_HOSTS": [urlsplit(base).netloc]} | overrides),
        **({"JOBDIR": jobdir} if jobdir else {}),
    )
    run_stages(settings, [[(spider or FaultSiteSpider, {"base": base})]])


if __name__ == "__main__":
    crawl(*sys.argv[1:])
