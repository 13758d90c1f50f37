"""Read structured data that pages embed: schema.org JSON-LD and microdata, OpenGraph, Next.js
``__NEXT_DATA__`` and other JSON or JavaScript objects assigned in scripts; and turn a schema.org
product or artwork into the fields of a lot."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import chompjs
import extruct
from scrapy.http import TextResponse

log = logging.getLogger(__name__)

__all__ = [
    "json_ld",
    "microdata",
    "opengraph",
    "next_data",
    "script_object",
    "lot_fields",
    "dig",
    "iso_date",
    "image_list",
    "number",
]

LOT_TYPES = ("Product", "IndividualProduct", "VisualArtwork", "Sculpture", "CreativeWork", "Offer")
MAX_SCRIPT = 5_000_000  # characters: a larger inline script is not a lot's data


def json_ld(response: TextResponse, wanted: str | tuple[str, ...]) -> list[dict[str, Any]]:
    """Every JSON-LD node of a wanted ``@type`` on the page, looking inside lists and ``@graph``.

    A script that is not valid JSON is skipped; the caller counts a page that yields nothing.
    """
    wanted = (wanted,) if isinstance(wanted, str) else wanted
    found = []
    for raw in response.css('script[type="application/ld+json"]::text').getall():
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):  # broken, or nested deeper than any real page
            continue
        found += [n for n in _nodes(data, depth=0) if _types(n) & set(wanted)]
    return found


def microdata(response: TextResponse, wanted: str | tuple[str, ...]) -> list[dict[str, Any]]:
    """Every schema.org microdata item of a wanted type (extruct, in JSON-LD shape)."""
    wanted = (wanted,) if isinstance(wanted, str) else wanted
    items = _extruct(response, "microdata")
    return [n for item in items for n in _nodes(item, depth=0) if _types(n) & set(wanted)]


def opengraph(response: TextResponse) -> dict[str, Any]:
    """The page's OpenGraph properties (``og:title``, ``og:image``, ...), lists where repeated."""
    found: dict[str, Any] = {}
    for block in _extruct(response, "opengraph"):
        for key, value in block.items():
            if key.startswith(("og:", "product:")):
                found[key] = value
    return found


def _extruct(response: TextResponse, syntax: str) -> list[dict[str, Any]]:
    try:
        data = extruct.extract(response.text, base_url=response.url, syntaxes=[syntax], uniform=True)
    except Exception as exc:  # noqa: BLE001 - extruct raises whatever its parsers raise on broken pages
        log.debug("%s: %s unreadable: %s", response.url, syntax, exc)
        return []
    return [d for d in data.get(syntax, []) if isinstance(d, dict)]


def script_object(response: TextResponse, variable: str) -> Any:
    """The JavaScript object assigned to ``variable`` in an inline script (``window.__STATE__ = {...}``),
    parsed with chompjs (unquoted keys, single quotes, trailing commas), or None."""
    for script in response.xpath("//script[not(@src)]/text()").getall():
        if len(script) > MAX_SCRIPT:
            continue
        at = script.find(variable)
        if at < 0:
            continue
        start = script.find("=", at + len(variable))
        if start < 0:
            continue
        try:
            return chompjs.parse_js_object(script[start + 1 :])
        except ValueError:
            continue
    return None


def lot_fields(node: dict[str, Any]) -> dict[str, Any]:
    """The fields of a lot from a schema.org Product, IndividualProduct, VisualArtwork or Offer node."""
    if "Offer" in _types(node) and isinstance(node.get("itemOffered"), dict):
        node = {**node["itemOffered"], "offers": {k: v for k, v in node.items() if k != "itemOffered"}}
    offers = node.get("offers")
    offer = next((o for o in offers if isinstance(o, dict)), {}) if isinstance(offers, list) else offers
    offer = offer if isinstance(offer, dict) else {}
    spec = offer.get("priceSpecification") if isinstance(offer.get("priceSpecification"), dict) else {}
    properties = {
        str(x.get("name", "")).strip().lower(): x.get("value")
        for x in node.get("additionalProperty") or []
        if isinstance(x, dict)
    }
    seller = offer.get("seller") or offer.get("offeredBy")
    return {
        "lot_id": _text(node.get("sku") or node.get("productID") or node.get("identifier"))
        or _id_from_url(node.get("@id") or node.get("url")),
        "title": _text(node.get("name")),
        "description_html": _text(node.get("description")),
        "provenance": _text(properties.get("provenance")),
        "image_urls": image_list(node.get("image")),
        "estimate_low": number(spec.get("minPrice") or offer.get("lowPrice")),
        "estimate_high": number(spec.get("maxPrice") or offer.get("highPrice")),
        "price": number(offer.get("price")),
        "currency": _text(offer.get("priceCurrency") or spec.get("priceCurrency")),
        "sale_date": iso_date(offer.get("availabilityEnds") or offer.get("validThrough")),
        "seller": _text(seller.get("name") if isinstance(seller, dict) else seller),
    }


def _text(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("@value") or value.get("name") or value.get("value")
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str | int | float)), None)
    if isinstance(value, bool) or value is None:
        return None
    text = str(value).strip()
    return text or None


def _id_from_url(url: Any) -> str | None:
    """The last path segment of a lot URL ("/lot/4711-bronze-bowl" gives "4711-bronze-bowl")."""
    if not isinstance(url, str):
        return None
    tail = url.split("#")[0].split("?")[0].rstrip("/").rsplit("/", 1)[-1]
    return tail or None


def next_data(response: TextResponse) -> dict[str, Any] | None:
    """The parsed ``__NEXT_DATA__`` JSON of a Next.js page, or None."""
    raw = response.css("script#__NEXT_DATA__::text").get()
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def dig(data: Any, *path: str | int) -> Any:
    """``data[p0][p1]...`` or None as soon as a step is missing or of the wrong kind."""
    for step in path:
        if isinstance(step, int) and isinstance(data, list) and -len(data) <= step < len(data):
            data = data[step]
        elif isinstance(step, str) and isinstance(data, dict):
            data = data.get(step)
        else:
            return None
    return data


def iso_date(value: Any) -> str | None:
    """``YYYY-MM-DD`` from an ISO date or date-time string, else None."""
    match = re.match(r"\s*(\d{4}-\d{2}-\d{2})", str(value or ""))
    return match.group(1) if match else None


def image_list(value: Any) -> list[str]:
    """Image URLs from a string, a list, or ImageObject-like dicts (``url``/``contentUrl``)."""
    items = value if isinstance(value, list) else [value]
    urls = []
    for v in items:
        if isinstance(v, dict):
            v = v.get("url") or v.get("contentUrl")
        if isinstance(v, str) and v.strip():
            urls.append(v.strip())
    return urls


def number(value: Any) -> float | None:
    """A price as a float, from a number or a string: "1,200.00", "EUR 3,79", "1.200,50", "2 500";
    None when there is none."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    match = re.search(r"\d[\d,.'\s\u00a0\u202f]*", str(value or ""))
    if not match:
        return None
    digits = re.sub(r"[\s\u00a0\u202f']", "", match.group(0)).rstrip(",.")
    last = max(digits.rfind(","), digits.rfind("."))
    # With both marks the later is the decimal point; a lone mark is one unless three digits follow.
    mixed = "," in digits and "." in digits
    lone = last >= 0 and digits.count(digits[last]) == 1 and len(digits) - last - 1 != 3
    whole, fraction = (digits[:last], digits[last + 1 :]) if mixed or lone else (digits, "")
    digits = whole.replace(",", "").replace(".", "") + ("." + fraction if fraction else "")
    try:
        return float(digits)
    except ValueError:
        return None


def _types(node: dict[str, Any]) -> set[str]:
    t = node.get("@type")
    return set(t) if isinstance(t, list) else {t} if isinstance(t, str) else set()


def _nodes(data: Any, depth: int) -> Iterator[dict[str, Any]]:
    if depth > 8:  # hostile pages nest deeply; real JSON-LD is shallow
        return
    if isinstance(data, list):
        for d in data:
            yield from _nodes(d, depth + 1)
    elif isinstance(data, dict):
        yield data
        if "@graph" in data:
            yield from _nodes(data["@graph"], depth + 1)
