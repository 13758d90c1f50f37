"""Write the three demo auction houses' pages, each in its own structure, as static files.

- ``demo_aurora``: sale pages linking to lot pages that carry schema.org ``Product`` JSON-LD.
- ``demo_meridian``: a Next.js-style site; every page embeds its data in ``<script id="__NEXT_DATA__">``.
- ``demo_bazaar``: plain HTML, a paginated catalogue and lot pages with a definition list.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

__all__ = ["render", "ROBOTS"]

ROBOTS = "User-agent: *\nDisallow: /private/\n"
PAGE_SIZE = 20
_env = Environment(loader=PackageLoader("seeds.demo", "templates"), autoescape=select_autoescape(["html"]))


def render(root: Path, lots_by_house: dict[str, list[dict]]) -> None:
    """Write every house's pages and images under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "robots.txt").write_text(ROBOTS)
    writers = {"demo_aurora": _aurora, "demo_meridian": _meridian, "demo_bazaar": _bazaar}
    for house, lots in lots_by_house.items():
        folder = root / house
        (folder / "img").mkdir(parents=True, exist_ok=True)
        for lot in lots:
            lot["image_urls"] = []
            for n, data in enumerate(lot["images"], start=1):
                name = f"{lot['lot_id']}_{n}.jpg"
                (folder / "img" / name).write_bytes(data)
                lot["image_urls"].append(f"/{house}/img/{name}")
            lot["slug"] = re.sub(r"[^a-z0-9]+", "-", lot["title"].lower()).strip("-")
        writers[house](folder, lots)


def _write(path: Path, template: str, **context) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_env.get_template(template).render(**context), encoding="utf-8")


def _pages(lots: list[dict]) -> list[list[dict]]:
    return [lots[i : i + PAGE_SIZE] for i in range(0, len(lots), PAGE_SIZE)] or [[]]


def _aurora(folder: Path, lots: list[dict]) -> None:
    half = (len(lots) + 1) // 2
    sales = [lots[:half], lots[half:]]
    _write(folder / "index.html", "aurora_index.html", sales=range(1, len(sales) + 1))
    for n, sale in enumerate(sales, start=1):
        _write(folder / f"sale-{n}.html", "aurora_sale.html", n=n, lots=sale)
    for lot in lots:
        product = {
            "@context": "https://schema.org",
            "@type": "Product",
            "sku": lot["lot_id"],
            "name": lot["title"],
            "description": lot["description_html"],
            "image": lot["image_urls"],
            "additionalProperty": [
                {"@type": "PropertyValue", "name": "Provenance", "value": lot["provenance"]}
            ],
            "offers": {
                "@type": "Offer",
                "priceCurrency": lot["currency"],
                "price": lot["estimate_low"],
                "priceSpecification": {"minPrice": lot["estimate_low"], "maxPrice": lot["estimate_high"]},
                "availabilityEnds": lot["sale_date"],
                "seller": {"@type": "Organization", "name": lot["seller"]},
            },
        }
        _write(folder / f"lot-{lot['lot_id']}.html", "aurora_lot.html", lot=lot, jsonld=json.dumps(product))


def _meridian(folder: Path, lots: list[dict]) -> None:
    pages = _pages(lots)
    for n, page in enumerate(pages, start=1):
        data = {
            "props": {
                "pageProps": {
                    "auction": {
                        "id": n,
                        "title": f"Antiquities {n}",
                        "lots": [
                            {
                                "id": int(lot["lot_id"]),
                                "url": f"/demo_meridian/l/{lot['lot_id']}-{lot['slug']}.html",
                            }
                            for lot in page
                        ],
                        "next": f"/demo_meridian/auction/{n + 1}.html" if n < len(pages) else None,
                    }
                }
            },
            "page": "/a/[id]",
        }
        _write(folder / "auction" / f"{n}.html", "meridian_page.html", title=f"Auction {n}", data=data)
    for lot in lots:
        data = {
            "props": {
                "pageProps": {
                    "lotDetailsData": {
                        "id": int(lot["lot_id"]),
                        "title": lot["title"],
                        "description": lot["description_html"],
                        "specifications": [{"name": "Provenance", "value": lot["provenance"]}],
                        "images": [{"url": u, "width": 800} for u in lot["image_urls"]],
                        "expertEstimate": {
                            "min": lot["estimate_low"],
                            "max": lot["estimate_high"],
                            "currency": lot["currency"],
                        },
                        "biddingEndTime": f"{lot['sale_date']}T18:00:00Z",
                        "seller": {"name": lot["seller"]},
                    }
                }
            },
            "page": "/l/[id]",
        }
        _write(
            folder / "l" / f"{lot['lot_id']}-{lot['slug']}.html",
            "meridian_page.html",
            title=lot["title"],
            data=data,
        )


def _bazaar(folder: Path, lots: list[dict]) -> None:
    pages = _pages(lots)
    for n, page in enumerate(pages, start=1):
        _write(
            folder / "catalogue" / f"page-{n}.html",
            "bazaar_catalogue.html",
            n=n,
            lots=page,
            has_next=n < len(pages),
        )
    for lot in lots:
        _write(folder / "item" / f"{lot['lot_id']}.html", "bazaar_item.html", lot=lot)
