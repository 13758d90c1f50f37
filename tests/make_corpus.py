"""The bad-input corpus: what strangers publish, generated, never committed.

``python -m tests.make_corpus DIR`` writes it; tests call ``write_corpus``. Every case says what it
is, how it is served (content type), and what lootwatch must do with it: ``decode`` (a strange but
valid image that must be read), ``error`` (recorded and counted with its reason; the rest goes on) or
``refuse`` (never fetched).
"""

from __future__ import annotations

import io
import json
import struct
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

XSS = '"><script>window.lootwatchPwned=1</script><img src=x onerror="window.lootwatchPwned=2">'


@dataclass
class Case:
    name: str
    body: bytes
    content_type: str
    expect: str  # decode | error | refuse
    why: str


def _photo(mode: str = "RGB", size: tuple[int, int] = (320, 240)) -> Image.Image:
    rng = np.random.default_rng(7)
    arr = (rng.random((size[1] // 8, size[0] // 8, 3)) * 255).astype(np.uint8)
    return Image.fromarray(arr).resize(size, Image.Resampling.BICUBIC).convert(mode)


def _save(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _png_bomb(width: int = 30_000, height: int = 30_000) -> bytes:
    """A PNG that claims 30,000 x 30,000 pixels in a few hundred bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (width * 3 + 1) * 4)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def image_cases() -> list[Case]:
    jpeg, png, webp = _save(_photo(), "JPEG", quality=90), _save(_photo(), "PNG"), _save(_photo(), "WEBP")
    frames = [_photo().rotate(a) for a in (0, 90, 180)]
    gif = io.BytesIO()
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    sixteen = Image.fromarray((np.asarray(_photo("L"), dtype=np.uint16) * 257).astype(np.uint16))
    return [
        Case("truncated.jpg", jpeg[: len(jpeg) // 3], "image/jpeg", "error", "JPEG cut off after a third"),
        Case(
            "corrupt.jpg",
            jpeg[:600] + bytes(range(256)) * 8,
            "image/jpeg",
            "error",
            "JPEG with garbage scan data",
        ),
        Case("truncated.png", png[: len(png) // 2], "image/png", "error", "PNG cut off in the middle"),
        Case("corrupt.png", png[:100] + b"\x00" * 400, "image/png", "error", "PNG with zeroed data"),
        Case("truncated.webp", webp[: len(webp) // 2], "image/webp", "error", "WebP cut off in the middle"),
        Case("empty.jpg", b"", "image/jpeg", "error", "zero bytes"),
        Case(
            "page.jpg",
            b"<html><body>Not found</body></html>",
            "image/jpeg",
            "error",
            "HTML served as image/jpeg",
        ),
        Case(
            "vector.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
            "image/svg+xml",
            "error",
            "SVG (not a raster photo; may carry script)",
        ),
        Case("bomb.png", _png_bomb(), "image/png", "error", "decompression bomb: 30,000 x 30,000 pixels"),
        Case("sixteen.png", _save(sixteen, "PNG"), "image/png", "decode", "16-bit greyscale"),
        Case("cmyk.jpg", _save(_photo("CMYK"), "JPEG", quality=90), "image/jpeg", "decode", "CMYK JPEG"),
        Case("palette.png", _save(_photo("P"), "PNG"), "image/png", "decode", "palette PNG"),
        Case("la.png", _save(_photo("LA"), "PNG"), "image/png", "decode", "greyscale with alpha"),
        Case("animated.gif", gif.getvalue(), "image/gif", "decode", "animated GIF (first frame)"),
    ]


def page_cases() -> list[Case]:
    nested = "[" * 100_000 + "]" * 100_000
    return [
        Case(
            "huge.html",
            b"<html><body>" + b"x" * (50 * 1024 * 1024) + b"</body></html>",
            "text/html",
            "error",
            "a 50 MB page",
        ),
        Case(
            "latin.html",
            _lot_page("Vase \xe9\xe8\xff", "Bad bytes \x80\x81").encode("latin-1"),
            "text/html; charset=utf-8",
            "decode",
            "invalid UTF-8",
        ),
        Case(
            "broken-jsonld.html",
            b'<html><head><script type="application/ld+json">{"@type": "Product", "name": </script>'
            b"</head></html>",
            "text/html",
            "error",
            "JSON-LD cut off",
        ),
        Case(
            "nested-jsonld.html",
            f'<html><head><script type="application/ld+json">{nested}</script></head></html>'.encode(),
            "text/html",
            "error",
            "JSON-LD nested 100,000 deep",
        ),
    ]


def _lot_page(
    title: str, description: str, images: list[str] | None = None, extra: dict | None = None
) -> str:
    product = {
        "@context": "https://schema.org",
        "@type": "Product",
        "sku": title[:20],
        "name": title,
        "description": description,
        "image": images or [],
        **(extra or {}),
    }
    blob = json.dumps(product).replace("</", "<\\/")
    return f'<html><head><script type="application/ld+json">{blob}</script></head><body></body></html>'


def hostile_lot(images: list[str]) -> str:
    """A lot with a script payload in every text field, and dangerous URLs."""
    return _lot_page(
        f"Sumerian alabaster idol {XSS}",
        f"<p>Mesopotamian, acquired in the 1990s. {XSS}</p><a href='javascript:alert(1)'>see</a>",
        images,
        {
            "sku": f"xss-{XSS[:12]}",
            "url": "javascript:alert(document.cookie)",
            "offers": {
                "@type": "Offer",
                "price": '=HYPERLINK("http://evil")',
                "priceCurrency": XSS[:40],
                "seller": {"name": f"=cmd|' /C calc'!A0 {XSS}"},
                "availabilityEnds": XSS,
            },
            "additionalProperty": [{"name": "Provenance", "value": f"Old collection {XSS}"}],
        },
    )


REFUSED_IMAGE_URLS = [
    "http://169.254.169.254/latest/meta-data/iam/",
    "http://127.0.0.1:9/private.jpg",
    "http://10.0.0.7/photo.jpg",
    "http://192.168.1.1/photo.jpg",
    "http://[::1]/photo.jpg",
    "http://localhost/photo.jpg",
    "file:///etc/passwd",
    "javascript:alert(1)",
    "data:image/png;base64,iVBORw0KGgo=",
]


def registry_cases() -> list[Case]:
    good = "source,source_id,title\nbulletin,1,Stele\n"
    return [
        Case(
            "no-id-column.csv",
            b"source,title\nbulletin,Stele\n",
            "text/csv",
            "error",
            "CSV without a source_id column",
        ),
        Case(
            "picture.csv",
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4,
            "text/csv",
            "error",
            "a picture named .csv (Latin-1 and cp1252 text is read: tests/test_registry_formats.py)",
        ),
        Case(
            "duplicates.csv",
            (good + "bulletin,1,Stele again\nbulletin,2,Lamp\n").encode(),
            "text/csv",
            "decode",
            "a duplicate id (the first is kept, the second reported)",
        ),
        Case(
            "missing-cells.csv",
            b"source,source_id,title,images\nbulletin,,No id,\nbulletin,3,Ok,\n",
            "text/csv",
            "decode",
            "a row without an id (reported) beside a good one",
        ),
        Case(
            "xss.csv",
            (
                f"source,source_id,title,images\nbulletin,4,{XSS.replace(',', ' ')},javascript:alert(1)\n"
            ).encode(),
            "text/csv",
            "decode",
            "script in a title and a javascript: photo",
        ),
        Case(
            "broken.json",
            b'{"records": [{"source": "b", "source_id": "1"',
            "application/json",
            "error",
            "JSON cut off",
        ),
        Case(
            "nested.json",
            ("[" * 100_000 + "]" * 100_000).encode(),
            "application/json",
            "error",
            "JSON nested 100,000 deep",
        ),
    ]


def write_corpus(folder: Path) -> dict[str, list[Case]]:
    """Write every case under ``folder``/{images,pages,registry}; returns them by group."""
    groups = {"images": image_cases(), "pages": page_cases(), "registry": registry_cases()}
    for group, cases in groups.items():
        (folder / group).mkdir(parents=True, exist_ok=True)
        for case in cases:
            (folder / group / case.name).write_bytes(case.body)
    return groups


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "test-output/corpus")
    for group, cases in write_corpus(out).items():
        for c in cases:
            print(f"{group}/{c.name}: {c.why} -> {c.expect}")
