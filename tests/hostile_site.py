"""A loopback site serving the bad-input corpus (tests/make_corpus.py): a lot per bad photo, bad pages,
a lot with a script payload in every field and photo URLs at private addresses.
``python -m tests.hostile_site URL DB DATA`` crawls it allowing only the site's own host:port."""

from __future__ import annotations

import sys
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from seeds.demo.server import LoopbackServer
from spiders.base import StructuredDataSpider

from .fault_site import _send, crawl
from .make_corpus import REFUSED_IMAGE_URLS, _lot_page, hostile_lot, image_cases, page_cases


class HostileSite(LoopbackServer):
    def __init__(self):
        images = {c.name: c for c in image_cases()}
        pages = {c.name: c for c in page_cases()}

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                return None

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                path = urlsplit(self.path).path
                if path == "/robots.txt":
                    return _send(self, 200, b"User-agent: *\nAllow: /\n", "text/plain")
                if path == "/list":
                    links = [f"/lot/{n}" for n in images] + [f"/page/{n}" for n in pages] + ["/lot/hostile"]
                    body = "".join(f'<a class="lot" href="{u}">{u}</a>' for u in links)
                    return _send(self, 200, f"<html><body>{body}</body></html>".encode(), "text/html")
                if path.startswith("/img/") and path[5:] in images:
                    case = images[path[5:]]
                    return _send(self, 200, case.body, case.content_type)
                if path.startswith("/page/") and path[6:] in pages:
                    case = pages[path[6:]]
                    return _send(self, 200, case.body, case.content_type)
                if path == "/lot/hostile":
                    body = hostile_lot([*REFUSED_IMAGE_URLS, "/img/cmyk.jpg"])
                    return _send(self, 200, body.encode(), "text/html")
                if path.startswith("/lot/") and path[5:] in images:
                    name = path[5:]
                    body = _lot_page(f"Lot with {name}", f"<p>{images[name].why}</p>", [f"/img/{name}"])
                    return _send(self, 200, body.encode(), "text/html")
                return _send(self, 404, b"no", "text/plain")

        super().__init__(Handler)


class HostileSiteSpider(StructuredDataSpider):
    name = "hostile_site"
    lot_links = "a.lot"

    def __init__(self, *args, base: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.start_urls = [f"{base}/list"]


if __name__ == "__main__":
    base, db, data = sys.argv[1:4]
    crawl(
        base,
        db,
        data,
        spider=HostileSiteSpider,
        LOOTWATCH_ALLOW_HOSTS=[urlsplit(base).netloc],
    )
