"""Serve the demo marketplace folder over HTTP on 127.0.0.1, on a free port, in a background thread."""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = ["serve", "DemoServer", "LoopbackServer"]


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        return None


class LoopbackServer:
    """An HTTP server on 127.0.0.1 (or another loopback ``address``; a free port by default) in a
    background thread; use as a context manager or call ``close()``."""

    def __init__(self, handler, port: int = 0, address: str = "127.0.0.1"):
        self.httpd = ThreadingHTTPServer((address, port), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``."""
        return "{}:{}".format(*self.httpd.server_address[:2])

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class DemoServer(LoopbackServer):
    """The demo marketplace folder, served as static files."""

    def __init__(self, root: Path, port: int = 0):
        super().__init__(functools.partial(_QuietHandler, directory=str(root)), port)


def serve(root: Path, port: int = 0) -> DemoServer:
    """Start serving ``root`` (the demo's ``market`` folder) and return the running server."""
    return DemoServer(Path(root), port)


if __name__ == "__main__":
    import sys
    import time

    if len(sys.argv) < 2:
        sys.exit("usage: python -m seeds.demo.server MARKET_DIR [PORT]")
    server = serve(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 0)
    print(f"demo marketplace on {server.url} (Ctrl-C to stop)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.close()
