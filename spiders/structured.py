"""Read structured data that pages embed: schema.org JSON-LD and microdata, OpenGraph, Next.js
``__NEXT_DATA__`` and other JSON or JavaScript objects assigned in scripts; and turn a schema.org
product or artwork into the fields of a lot."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any

import chompjs
import extruct
from scrapy.http import TextResponse
from w3lib.html import remove_tags, remove_tags_with_content, replace_entities

from .jsonld import MAX_JSONLD, JsonLdGraph, read_blocks, types_of

log = logging.getLogger(__name__)

__all__ = [
    "MAX_JSONLD",
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
    "page_language",
    "page_urls",
    "plain_text",
    "html_text",
]

LOT_TYPES = ("Product", "IndividualProduct", "VisualArtwork", "Sculpture", "CreativeWork", "Offer")
MAX_SCRIPT = MAX_JSONLD  # characters: a larger inline script is not a lot's data, and is not parsed
_LD_SCRIPTS = (
    "//script[contains(translate(@type, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'),"
    " 'application/ld+json')]"
)

OnProblem = Callable[[str], None]


def json_ld(
    response: TextResponse, wanted: str | tuple[str, ...], on_problem: OnProblem | None = None
) -> list[dict[str, Any]]:
    """Every JSON-LD node of a wanted ``@type`` on the page, best lot first (see ``spiders.jsonld``):
    all blocks read leniently as one graph, nodes found under any property and in ``@graph``, ``@id``
    references replaced by the nodes they name, an Offer merged into the product it offers.

    A block over ``MAX_JSONLD`` characters is skipped unparsed; a block that cannot be read even
    leniently is skipped. Each is passed to ``on_problem`` as one line ("JSON-LD block 2 of 3: ...");
    nothing raises.
    """
    wanted = (wanted,) if isinstance(wanted, str) else wanted
    scripts = [s.xpath("string()").get() or "" for s in response.xpath(_LD_SCRIPTS)]
    values, problems = read_blocks(scripts)
    for problem in problems:
        log.debug("%s: %s", response.url, problem)
        if on_problem is not None:
            on_problem(problem)
    return JsonLdGraph(values, page_urls(response), frozenset(wanted)).nodes()


def microdata(response: TextResponse, wanted: str | tuple[str, ...]) -> list[dict[str, Any]]:
    """Every schema.org microdata item of a wanted type (extruct, in JSON-LD shape), best lot first,
    chosen as ``json_ld`` chooses."""
    wanted = (wanted,) if isinstance(wanted, str) else wanted
    items = _extruct(response, "microdata")
    return JsonLdGraph(items, page_urls(response), frozenset(wanted)).nodes()


def page_urls(response: TextResponse) -> list[str]:
    """The page's addresses: its URL, then its canonical link and ``og:url`` if it gives them."""
    urls = [response.url]
    for found in (
        response.css("link[rel=canonical]::attr(href)").get(),
        response.css("meta[property='og:url']::attr(content)").get(),
    ):
        if found and found.strip():
            try:
                urls.append(response.urljoin(found.strip()))
            except ValueError:
                continue
    return urls


def page_language(response: TextResponse) -> str | None:
    """The page's ``<html lang>``, lower case (``fr``, ``en-gb``), or None."""
    lang = (response.xpath("/html/@lang").get() or "").strip().lower()
    return lang[:20] or None


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


def script_object(response: TextResponse, variable: str, on_problem: OnProblem | None = None) -> Any:
    """The JavaScript object assigned to ``variable`` in an inline script (``window.__STATE__ = {...}``),
    parsed with chompjs (unquoted keys, single quotes, trailing commas), or None.

    A script over ``MAX_JSONLD`` characters that names the variable is skipped unparsed and passed to
    ``on_problem`` as one line."""
    for script in response.xpath("//script[not(@src)]/text()").getall():
        at = script.find(variable)
        if at < 0:
            continue
        if len(script) > MAX_JSONLD:
            _problem(
                on_problem,
                f"script with {variable} of {len(script):,} characters, over the "
                f"{MAX_JSONLD:,} limit, skipped",
            )
            continue
        start = script.find("=", at + len(variable))
        if start < 0:
            continue
        try:
            return chompjs.parse_js_object(script[start + 1 :])
        except (ValueError, RecursionError):
            continue
    return None


def _problem(on_problem: OnProblem | None, reason: str) -> None:
    log.debug(reason)
    if on_problem is not None:
        on_problem(reason)


def lot_fields(node: dict[str, Any], language: str | None = None) -> dict[str, Any]:
    """The fields of a lot from a schema.org Product, IndividualProduct, VisualArtwork or Offer node
    (as ``json_ld`` returns it, references embedded).

    Shapes read: an Offer with ``itemOffered``; ``offers`` one Offer, a list (the first with a price) or
    an AggregateOffer (``lowPrice``/``highPrice`` as the estimate, or its own ``offers``); the price and
    currency on the offer or in its ``priceSpecification`` (one or a list); prices as numbers or strings
    with currency signs and either thousands convention (``number``); ``image`` a URL, a list or
    ImageObjects (``image_list``); names given as language-tagged ``{"@value", "@language"}`` lists (the
    one in ``language``, else English, else the first); seller a string or an Organization. Every text
    field is plain text, HTML character references decoded and tags stripped (``plain_text``);
    ``description_html`` is decoded only (``html_text``). Missing or unreadable values are None.
    """
    if not isinstance(node, dict):
        return {}
    if types_of(node) & {"Offer", "AggregateOffer"} and isinstance(node.get("itemOffered"), dict | list):
        item = node["itemOffered"]
        item = next((i for i in item if isinstance(i, dict)), {}) if isinstance(item, list) else item
        node = {**item, "offers": {k: v for k, v in node.items() if k != "itemOffered"}}
    offer, spec = _offer(node.get("offers"))
    properties = {
        str(_text(x.get("name")) or "").lower(): x.get("value")
        for x in _as_dicts(node.get("additionalProperty"))
    }
    seller = _first(offer.get("seller") or offer.get("offeredBy") or node.get("offeredBy"))
    return {
        "lot_id": plain_text(_identifier(node))
        or plain_text(_id_from_url(_first(node.get("@id")) or _first(node.get("url")))),
        "title": plain_text(_text(node.get("name"), language)),
        "description_html": html_text(_text(node.get("description"), language)),
        "provenance": plain_text(_text(properties.get("provenance"), language)),
        "image_urls": image_list(node.get("image")),
        "estimate_low": number(spec.get("minPrice") or offer.get("lowPrice")),
        "estimate_high": number(spec.get("maxPrice") or offer.get("highPrice")),
        "price": number(offer.get("price") if offer.get("price") is not None else spec.get("price")),
        "currency": plain_text(_text(offer.get("priceCurrency") or spec.get("priceCurrency")))
        or currency_of(offer.get("price") if offer.get("price") is not None else spec.get("price")),
        "sale_date": iso_date(offer.get("availabilityEnds") or offer.get("validThrough")),
        "seller": plain_text(_text(seller, language)),
    }


def _offer(offers: Any, depth: int = 0) -> tuple[dict[str, Any], dict[str, Any]]:
    """The offer that prices the lot and its price specification (empty dicts when there is none). An
    AggregateOffer without a price of its own takes the price of the first priced offer it holds."""
    found = _as_dicts(offers)
    offer = next((o for o in found if _priced(o)), found[0] if found else {})
    spec = next((p for p in _as_dicts(offer.get("priceSpecification")) if _priced(p)), {})
    if offer.get("price") in (None, "") and not spec.get("price") and offer.get("offers") and depth < 3:
        inner, inner_spec = _offer(offer["offers"], depth + 1)
        offer = {**inner, **{k: v for k, v in offer.items() if v not in (None, "") and k != "offers"}}
        spec = spec or inner_spec
    return offer, spec


def _priced(offer: dict[str, Any]) -> bool:
    return any(offer.get(k) not in (None, "") for k in ("price", "lowPrice", "highPrice", "minPrice"))


def _as_dicts(value: Any) -> list[dict[str, Any]]:
    items = value if isinstance(value, list) else [value]
    return [v for v in items[:100] if isinstance(v, dict)]


def _first(value: Any) -> Any:
    if isinstance(value, list):
        return next((v for v in value if v not in (None, "")), None)
    return value


def _identifier(node: dict[str, Any]) -> str | None:
    """sku, productID or identifier: a string, a number, a PropertyValue or a list of those."""
    for key in ("sku", "productID", "identifier"):
        value = _first(node.get(key))
        if isinstance(value, dict):
            value = value.get("value") or value.get("@value")
        found = _text(value)
        if found:
            return found
    return None


def _text(value: Any, language: str | None = None) -> str | None:
    """A value as a string: a string or number, a ``{"@value"}``/named object, or from a list the one in
    ``language`` (else English, else the first)."""
    if isinstance(value, list):
        tagged = [v for v in value[:100] if isinstance(v, dict) and isinstance(v.get("@language"), str)]
        for lang in (language, "en"):
            if not lang:
                continue
            match = next(
                (v for v in tagged if v["@language"].lower().split("-")[0] == lang.split("-")[0]), None
            )
            if match is not None:
                return _text(match)
        value = next((v for v in value[:100] if _text(v) is not None), None)
    if isinstance(value, dict):
        value = next((value[k] for k in ("@value", "name", "value") if value.get(k) not in (None, "")), None)
        if isinstance(value, dict | list):
            value = _first(value) if isinstance(value, list) else value.get("@value")
        if isinstance(value, dict | list):
            return None
    if isinstance(value, bool) or value is None:
        return None
    text = str(value).strip()
    return text or None


_ENTITY = re.compile(r"&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_STRAY_LT = re.compile(r"<(?![A-Za-z/!?])")  # "< 3 cm", "<3": text, not the start of a tag


def _decoded(text: str) -> str:
    # Two rounds: templates often escape text that was escaped already ("&amp;eacute;").
    for _ in range(2):
        if not _ENTITY.search(text):
            break
        text = replace_entities(text)
    return text


def plain_text(value: Any) -> str | None:
    """One line of text from a page value: HTML character references decoded (twice-escaped ones
    too), ``<script>``/``<style>`` elements dropped, other tags stripped, white space (control
    characters included) collapsed; None when nothing is left."""
    if value is None:
        return None
    text = _decoded(str(value))
    if "<" in text:
        text = remove_tags_with_content(text, which_ones=("script", "style"))
        text = remove_tags(_STRAY_LT.sub("\ue000", text)).replace("\ue000", "<")
    text = " ".join(text.split())
    return text or None


def html_text(value: Any) -> str | None:
    """A description as stored: HTML character references decoded, so that JSON-LD's entity-escaped
    HTML becomes the HTML (or text) it stands for; tags are kept (the listings pipeline strips them)."""
    if value is None:
        return None
    text = _decoded(str(value)).strip()
    return text or None


def _id_from_url(url: Any) -> str | None:
    """The last path segment of a lot URL ("/lot/4711-bronze-bowl" gives "4711-bronze-bowl")."""
    if not isinstance(url, str):
        return None
    tail = url.split("#")[0].split("?")[0].rstrip("/").rsplit("/", 1)[-1]
    return tail or None


def next_data(response: TextResponse, on_problem: OnProblem | None = None) -> dict[str, Any] | None:
    """The parsed ``__NEXT_DATA__`` JSON of a Next.js page, or None. A blob over ``MAX_JSONLD``
    characters is not parsed and is passed to ``on_problem`` as one line."""
    raw = response.css("script#__NEXT_DATA__::text").get()
    if not raw:
        return None
    if len(raw) > MAX_JSONLD:
        _problem(
            on_problem, f"__NEXT_DATA__ of {len(raw):,} characters, over the {MAX_JSONLD:,} limit, skipped"
        )
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
    """Image URLs, each once, in order, from a string, a list, or ImageObject-like dicts whose ``url`` or
    ``contentUrl`` is a string or a list."""
    urls: list[str] = []
    stack = [value]
    steps = 0
    while stack and steps < 1_000 and len(urls) < 100:  # bounded: a hostile page lists thousands
        steps += 1
        v = stack.pop(0)
        if isinstance(v, list):
            stack[:0] = v[:100]
        elif isinstance(v, dict):
            stack.insert(0, v.get("url") or v.get("contentUrl"))
        elif isinstance(v, str) and v.strip() and v.strip() not in urls:
            urls.append(v.strip())
    return urls


# Marks that name one currency only ("$" and "¥" name several, "kr" several crowns: left unknown).
_CURRENCY_MARKS = {"€": "EUR", "£": "GBP", "₹": "INR", "₺": "TRY", "₪": "ILS", "zł": "PLN", "fr.": "CHF"}
_ISO_CODE = re.compile(r"\b(EUR|USD|GBP|CHF|JPY|CAD|AUD|SEK|NOK|DKK|PLN|CZK|HUF|AED|ILS|TRY|CNY|HKD)\b")


def currency_of(price: Any) -> str | None:
    """The ISO 4217 code a price string names ("EUR 3,79", "1 200 €", "CHF 1'200.–"), when it names
    exactly one currency; None for a bare number or an ambiguous mark such as "$"."""
    if not isinstance(price, str):
        return None
    text = price[:200]
    if code := _ISO_CODE.search(text.upper()):
        return code.group(1)
    found = {code for mark, code in _CURRENCY_MARKS.items() if mark in text.lower()}
    return found.pop() if len(found) == 1 else None


def number(value: Any) -> float | None:
    """A price as a float, from a number or a string: "1,200.00", "EUR 3,79", "1.200,50", "2 500";
    None when there is none."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    match = re.search(r"\d[\d,.'\u2019\s\u00a0\u202f]*", str(value or "")[:200])
    if not match:
        return None
    digits = re.sub(r"[\s\u00a0\u202f'\u2019]", "", match.group(0)).rstrip(",.")
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
