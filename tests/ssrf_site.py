"""A seller's site on 127.0.0.1 whose lot links, photos, redirects and registry photo URLs point at an
"internal service" on 127.0.0.2, written every way a resolver accepts. Host names are mapped by the
crawl's own resolver (``MappedResolver``), not by the machine's: nothing leaves 127.0.0.0/8.
``python -m tests.ssrf_site SITE INTERNAL_PORT DB DATA CSV`` crawls it allowing only the site's host:port."""

from __future__ import annotations

import io
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from PIL import Image

from seeds.demo.server import LoopbackServer
from spiders.addresses import PublicOnlyResolver, host_address
from spiders.base import StructuredDataSpider

from .fault_site import _send

INTERNAL = "127.0.0.2"
NAMES = {"internal.test": INTERNAL, "intranet.test": INTERNAL, "cdn.shop.test": INTERNAL}


def internal_hosts(port: int) -> list[str]:
    """Every spelling of the internal service's host:port (and names that resolve to it)."""
    return [
        f"{INTERNAL}:{port}",
        f"2130706434:{port}",
        f"0177.0.0.2:{port}",
        f"0x7f000002:{port}",
        f"0x7F.0.0.2:{port}",
        f"127.2:{port}",
        f"127.0.0.2.:{port}",
        f"[::ffff:127.0.0.2]:{port}",
        f"internal.test:{port}",
        f"INTRANET.test.:{port}",
        f"cdn.shop.test:{port}",
        f"user:pw@internal.test:{port}",
        f"localhost:{port}",
        f"0:{port}",
    ]


def jpeg(shade: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (shade, 90, 140)).save(buf, "JPEG")
    return buf.getvalue()


class InternalService(LoopbackServer):
    """Stands for a service on the crawler's own network: it would answer anything, and counts asks."""

    def __init__(self):
        self.hits: list[str] = []
        lock = threading.Lock()
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                return None

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                with lock:
                    hits.append(self.path)
                if self.path.endswith(".jpg"):
                    return _send(self, 200, jpeg(200), "image/jpeg")
                return _send(self, 200, _lot_page("secret", "Internal secret lot", []), "text/html")

        super().__init__(Handler, address=INTERNAL)


class SellerSite(LoopbackServer):
    """The public-facing site: a list of lot links, one genuine lot, and redirects to the internal service."""

    def __init__(self, internal_port: int):
        targets = internal_hosts(internal_port)

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                return None

            def do_GET(self) -> None:  # noqa: N802
                path = urlsplit(self.path).path
                if path == "/robots.txt":
                    return _send(self, 200, b"User-agent: *\nAllow: /\n", "text/plain")
                if path == "/list":
                    links = ["/lot/ok"] + [f"http://{t}/lot-{i}" for i, t in enumerate(targets)]
                    links += [f"/go/lot/{i}" for i in range(len(targets))]
                    body = "".join(f'<a class="lot" href="{u}">x</a>' for u in links)
                    return _send(self, 200, f"<html><body>{body}</body></html>".encode(), "text/html")
                if path == "/lot/ok":
                    photos = ["/img/ok.jpg"] + [f"http://{t}/photo-{i}.jpg" for i, t in enumerate(targets)]
                    photos += [f"/go/img/{i}" for i in range(len(targets))]
                    return _send(self, 200, _lot_page("ok", "Bronze bull", photos), "text/html")
                if path == "/img/ok.jpg":
                    return _send(self, 200, jpeg(30), "image/jpeg")
                if path.startswith("/go/"):
                    _, _, kind, i = path.split("/")
                    end = f"redirected-lot-{i}" if kind == "lot" else f"redirected-{i}.jpg"
                    self.send_response(302)
                    self.send_header("Location", f"http://{targets[int(i)]}/{end}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                return _send(self, 404, b"no", "text/plain")

        super().__init__(Handler)


def _lot_page(sku: str, name: str, photos: list[str]) -> bytes:
    product = {
        "@context": "https://schema.org",
        "@type": "Product",
        "sku": sku,
        "name": name,
        "image": photos,
    }
    return f'<html><script type="application/ld+json">{json.dumps(product)}</script></html>'.encode()


class _Table:
    """Answers like getaddrinfo from a table: names from NAMES, addresses in any spelling as themselves."""

    def resolveHostName(self, receiver, host, port=0, address_types=None, semantics="TCP"):  # noqa: N802
        from twisted.internet.address import IPv4Address, IPv6Address

        name = host.lower().rstrip(".")
        ip = NAMES.get(name) or (str(a) if (a := host_address(host)) else None)
        receiver.resolutionBegan(object())
        if ip:
            receiver.addressResolved((IPv6Address if ":" in ip else IPv4Address)("TCP", ip, port))
        receiver.resolutionComplete()


class MappedResolver(PublicOnlyResolver):
    """The crawler's resolver over this test's own name table instead of the machine's."""

    def __init__(self, reactor, allowance=None, **kwargs):
        super().__init__(reactor, allowance, **kwargs)
        self.original = _Table()


class SellerSpider(StructuredDataSpider):
    name = "seller_site"
    lot_links = "a.lot"

    def __init__(self, *args, base: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.start_urls = [f"{base}/list"]


if __name__ == "__main__":
    from spiders.run import project_settings, run_stages

    base, db, data, csv_path = sys.argv[1:5]
    settings = project_settings(
        db,
        data,
        DOWNLOAD_DELAY=0,
        AUTOTHROTTLE_ENABLED=False,
        RETRY_TIMES=0,
        LOG_LEVEL="WARNING",
        TWISTED_DNS_RESOLVER="tests.ssrf_site.MappedResolver",
        LOOTWATCH_ALLOW_HOSTS=[urlsplit(base).netloc],
    )
    run_stages(
        settings,
        [[("registry_file", {"path": csv_path})], [(SellerSpider, {"base": base})]],
    )
