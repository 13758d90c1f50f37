"""A loopback site that serves one JPEG at /photo.jpg and records every path it is asked for."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler

from seeds.demo.server import LoopbackServer


class PhotoSite(LoopbackServer):
    """Serves ``jpeg`` at /photo.jpg (404 elsewhere) on loopback; ``hits`` lists the paths requested."""

    def __init__(self, jpeg: bytes = b""):
        self.hits: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                return None

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                site.hits.append(self.path)
                ok = self.path == "/photo.jpg"
                body = jpeg if ok else b"not found"
                self.send_response(200 if ok else 404)
                self.send_header("Content-Type", "image/jpeg" if ok else "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        super().__init__(Handler)
