"""The lootwatch Datasette plugin: the candidate page with its verdict form, links from the queue to it,
and seller-supplied URLs that become links only when they are http(s).

Thumbnail BLOBs are rendered as images by datasette-render-images; everything else is escaped by Datasette.
"""

from __future__ import annotations

from datasette import hookimpl
from jinja2 import ChoiceLoader, PackageLoader
from markupsafe import Markup, escape

from matcher.store import busy_timeout_ms

from .candidate_page import candidate_page, post_verdict
from .digest import safe_url
from .reasons import reasons_from_json, split_reasons

LINK_COLUMNS = {"listing_url", "registry_url", "url", "source_url"}


@hookimpl
def prepare_jinja2_environment(env):
    # The candidate page's template lives beside the digest's; Datasette's own templates come first.
    env.loader = ChoiceLoader([env.loader, PackageLoader("reports", "templates")])


@hookimpl
def prepare_connection(conn):
    # Crawls and matches write to the same database: wait for them rather than fail a verdict.
    conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms()}")


@hookimpl
def register_routes():
    return [
        (r"^/-/lootwatch/candidate/(?P<id>\d+)$", candidate_page),
        (r"^/-/lootwatch/candidate/(?P<id>\d+)/verdict$", post_verdict),
    ]


@hookimpl
def render_cell(value, column, datasette):
    if column == "flag_reasons" and isinstance(value, str):
        return _reasons_cell(value)
    if column == "candidate_id" and isinstance(value, int):
        path = datasette.urls.path(f"/-/lootwatch/candidate/{value}")
        return Markup('<a href="{}">{}</a>').format(path, value)
    if column not in LINK_COLUMNS or not isinstance(value, str):
        return None
    url = safe_url(value)
    if url is None:
        return Markup(escape(value))
    return Markup('<a href="{}" rel="noopener noreferrer nofollow" target="_blank">{}</a>').format(url, value)


def _reasons_cell(value: str) -> Markup | None:
    """The queue's reasons column: the red flags, then apart what lowers the risk, not raw JSON."""
    parts = split_reasons(reasons_from_json(value))
    if not any(parts.values()):
        return None

    def items(reasons: list[dict]) -> Markup:
        return Markup("; ").join(
            Markup("<code>{}</code> &ldquo;{}&rdquo; ({:+d})").format(
                r.get("rule"), r.get("text") or "", int(r["weight"] or 0)
            )
            for r in reasons
        )

    lines = []
    if parts["red_flags"]:
        lines.append(Markup("<strong>Red flags:</strong> {}").format(items(parts["red_flags"])))
    if parts["lowering"]:
        lines.append(Markup("<strong>Lowers the risk:</strong> {}").format(items(parts["lowering"])))
    for r in parts["notes"]:
        lines.append(Markup("<em>Note:</em> {}").format(r.get("why") or ""))
    return Markup("<br>").join(lines)
