"""Read structured data that pages embed: schema.org JSON-LD and microdata, OpenGraph, Next.js
``__NEXT_DATA__`` and other JSON or JavaScript objects assigned in scripts; and turn a schema.org
product or artwork into the fields of a lot."""

from __future__ import annotations

import html
import json
import logging
import math
import re
from collections.abc import Callable
from html.entities import html5 as html5_references
from typing import Any

import chompjs
import extruct
from scrapy.http import TextResponse
from w3lib.html import remove_tags, remove_tags_with_content

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
    "srcset_best",
    "page_urls",
    "plain_text",
    "html_text",
]

# Product-like types first; a bare Offer is the lot only when the page has none of them.
LOT_TYPES = (
    "Product",
    "IndividualProduct",
    "ProductGroup",
    "VisualArtwork",
    "Sculpture",
    "CreativeWork",
    "Offer",
)
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

    Shapes read: an Offer with ``itemOffered``, or a bare Offer priced by itself; a ProductGroup with its
    ``hasVariant`` Products (the group is the lot: its ``productGroupID``, name and images, the
    variants' images after its own, the price of the first priced variant when the group has no offer
    of its own); ``offers`` one Offer, a list (the first with a price) or an AggregateOffer
    (``lowPrice``/``highPrice`` as the estimate, or its own ``offers``); the price and
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
    images: Any = node.get("image")
    keys = _ID_KEYS
    if "ProductGroup" in types_of(node):
        variants = _as_dicts(node.get("hasVariant"))
        images = [images, *(v.get("image") for v in variants)]
        keys = ("productGroupID", *_ID_KEYS)
        if not _priced(_offer(node.get("offers"))[0]):
            priced = next((v for v in variants if _priced(_offer(v.get("offers"))[0])), None)
            node = {**node, "offers": priced.get("offers") if priced else None}
    # A bare Offer (the lot only when the page has nothing else) prices itself.
    offer, spec = _offer(node if types_of(node) & {"Offer", "AggregateOffer"} else node.get("offers"))
    properties = {
        str(_text(x.get("name")) or "").lower(): x.get("value")
        for x in _as_dicts(node.get("additionalProperty"))
    }
    seller = _first(offer.get("seller") or offer.get("offeredBy") or node.get("offeredBy"))
    return {
        "lot_id": plain_text(_identifier(node, keys))
        or plain_text(_id_from_url(_first(node.get("@id")) or _first(node.get("url")))),
        "title": plain_text(_text(node.get("name"), language)),
        "description_html": html_text(_text(node.get("description"), language)),
        "provenance": plain_text(_text(properties.get("provenance"), language)),
        "image_urls": image_list(images),
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


_ID_KEYS = ("sku", "productID", "identifier")


def _identifier(node: dict[str, Any], keys: tuple[str, ...] = _ID_KEYS) -> str | None:
    """The first of ``keys`` (sku, productID or identifier) given: a string, a number, a PropertyValue or
    a list of those."""
    for key in keys:
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


_REFERENCE = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]{1,31});")
_STRAY_LT = re.compile(r"<(?![A-Za-z/!?])")  # "< 3 cm", "<3": text, not the start of a tag


def _reference(match: re.Match[str]) -> str:
    ref = match.group(0)
    if ref[1] != "#":
        return html5_references.get(ref[1:], ref)  # "&apos;" and every HTML5 name; "&foo;" kept
    hexadecimal = ref[2] in "xX"
    digits = ref[3 if hexadecimal else 2 : -1].lstrip("0") or "0"
    if len(digits) > 8:  # past U+10FFFF, and int() of thousands of digits is refused
        return "\ufffd"
    return html.unescape(f"&#{'x' if hexadecimal else ''}{digits};")


def _decoded(text: str) -> str:
    """HTML character references decoded as HTML5 decodes them: every HTML5 name (``&apos;`` too),
    numbers as ``html.unescape`` reads them (a number past U+10FFFF, a surrogate or NUL gives U+FFFD,
    other control characters are dropped); an unknown name (``&foo;``) is kept as written. Only
    references ended by ``;``: without it, "AT&T" and URLs' "&copy=1" are text. Two rounds: templates
    often escape text that was escaped already ("&amp;#038;", "&amp;eacute;")."""
    for _ in range(2):
        if "&" not in text:
            break
        text = _REFERENCE.sub(_reference, text)
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
    ``contentUrl`` is a string or a list. A string with white space inside is read as a ``srcset``, of
    which the largest candidate is kept; a URL with spaces that is no srcset has them percent-encoded
    (``srcset_best``)."""
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
        elif isinstance(v, str) and (url := srcset_best(v)) and url not in urls:
            urls.append(url)
    return urls


_DESCRIPTOR = re.compile(r"(\d+(?:\.\d+)?|\.\d+)([wxh])")


def srcset_best(value: str) -> str | None:
    """The URL of a string that may be a ``srcset``: a plain URL stripped; of a srcset ("a.jpg 480w,
    b.jpg 1080w", "a.jpg 1x, b.jpg 2x"), the candidate with the largest width, else the largest density
    (none written is ``1x``), the first on a tie; a string with white space that is no srcset (a
    descriptor that is none) has its inner white space percent-encoded ("Side view.jpg" gives
    "Side%20view.jpg"). None for an empty string. Parsed the HTML way: a candidate's URL runs to white
    space, and a comma ends it only at its end (``w_100,h_80`` stays inside a URL). At most 4,000
    characters of a srcset are read."""
    text = value.strip()
    if not text or not any(c.isspace() for c in text):
        return text or None
    best: tuple[int, float, str] | None = None  # (by width, size, url)
    at, n = 0, min(len(text), 4_000)
    while at < n:
        while at < n and (text[at].isspace() or text[at] == ","):
            at += 1
        start = at
        while at < n and not text[at].isspace():
            at += 1
        url, descriptors = text[start:at], []
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            end = text.find(",", at, n)
            end = n if end < 0 else end
            descriptors, at = text[at:end].split(), end + 1
        if not url:
            continue
        found = [_DESCRIPTOR.fullmatch(d) for d in descriptors]
        if not all(found):
            return re.sub(r"\s", "%20", text)  # no srcset: a URL with spaces
        sizes = {m.group(2): float(m.group(1)) for m in found if m}
        key = (1, sizes["w"]) if "w" in sizes else (0, sizes.get("x", 1.0))
        if best is None or key > best[:2]:
            best = (*key, url)
    return best[2] if best else None


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


# A number as JSON or Python's float() writes it: "1200", "1200.50", "1.2e3", "-5", ".5".
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_THOUSANDS_ONLY = re.compile(r"[1-9]\d{0,2}\.\d{3}")  # "1.200": a thousands mark, not 1.2


def number(value: Any) -> float | None:
    """A price as a float, from a number or a string: "1,200.00", "EUR 3,79", "1.200,50", "2 500", and a
    string in number syntax ("1.2e3" gives 1200.0) except "1.200" (1200.0, a thousands mark; "0.500" is
    0.5). None when there is none, and for an infinite, NaN or negative price ("-5", "1e400", "EUR -5")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            found = float(value)
        except OverflowError:  # an int past float's range
            return None
        return found if math.isfinite(found) and found >= 0 else None
    text = str(value or "")[:200].strip()
    if _PLAIN_NUMBER.fullmatch(text) and not _THOUSANDS_ONLY.fullmatch(text.lstrip("+")):
        return number(float(text))
    match = re.search(r"\d[\d,.'\u2019\s\u00a0\u202f]*", text)
    if not match:
        return None
    if text[: match.start()].rstrip().endswith(("-", "\u2212")):
        return None  # "EUR -5": a negative amount is no price
    digits = re.sub(r"[\s\u00a0\u202f'\u2019]", "", match.group(0)).rstrip(",.")
    last = max(digits.rfind(","), digits.rfind("."))
    # With both marks the later is the decimal point; a lone mark is one unless three digits follow
    # a whole part other than 0 ("0,500" is a half).
    mixed = "," in digits and "." in digits
    lone = (
        last >= 0
        and digits.count(digits[last]) == 1
        and (len(digits) - last - 1 != 3 or digits[:last] == "0")
    )
    whole, fraction = (digits[:last], digits[last + 1 :]) if mixed or lone else (digits, "")
    digits = whole.replace(",", "").replace(".", "") + ("." + fraction if fraction else "")
    try:
        return number(float(digits))
    except ValueError:
        return None
