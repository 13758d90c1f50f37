"""Read structured data that pages embed: schema.org JSON-LD and Next.js ``__NEXT_DATA__`` blobs."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from scrapy.http import TextResponse

__all__ = ["json_ld", "next_data", "dig", "iso_date", "image_list", "number"]


def json_ld(response: TextResponse, wanted: str | tuple[str, ...]) -> list[dict[str, Any]]:
    """Every JSON-LD node of a wanted ``@type`` on the page, looking inside lists and ``@graph``.

    A script that is not valid JSON is skipped; the caller counts a page that yields nothing.
    """
    wanted = (wanted,) if isinstance(wanted, str) else wanted
    found = []
    for raw in response.css('script[type="application/ld+json"]::text').getall():
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        found += [n for n in _nodes(data, depth=0) if _types(n) & set(wanted)]
    return found


def next_data(response: TextResponse) -> dict[str, Any] | None:
    """The parsed ``__NEXT_DATA__`` JSON of a Next.js page, or None."""
    raw = response.css("script#__NEXT_DATA__::text").get()
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
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
    """A price as a float, from a number or a string such as "1,200.00"; None when there is none."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    match = re.search(r"\d[\d,.\s]*", str(value or ""))
    if not match:
        return None
    try:
        return float(match.group(0).replace(",", "").replace(" ", ""))
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
