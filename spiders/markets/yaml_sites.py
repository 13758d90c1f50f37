"""Spiders for the sites declared in ``seeds/sites.yaml`` with ``spider: yaml``: no Python per site.

Each entry becomes a ``SelectorSpider`` subclass named after it, so ``scrapy list`` and ``lootwatch
crawl`` see it like any other spider.
"""

from __future__ import annotations

from spiders.base import SelectorSpider
from spiders.sites import load_sites

DECLARED = ("house", "start_urls", "lot_links", "listing_links", "next_page", "fields")


def _spider_class(entry: dict) -> type[SelectorSpider]:
    attrs = {k: entry[k] for k in DECLARED if k in entry}
    attrs["start_urls"] = list(attrs.get("start_urls") or [])
    attrs["fields"] = dict(attrs.get("fields") or {})
    name = entry["name"]
    doc = f"{name}: declared in seeds/sites.yaml ({entry.get('url', 'no url')})."
    return type(
        "".join(p.capitalize() for p in name.split("_")) + "Spider",
        (SelectorSpider,),
        {"name": name, "__module__": __name__, "__doc__": doc, **attrs},
    )


globals().update(
    {c.__name__: c for c in (_spider_class(e) for e in load_sites().values() if e.get("spider") == "yaml")}
)
