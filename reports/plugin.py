"""The lootwatch Datasette plugin: seller-supplied URLs become links only when they are http(s).

Thumbnail BLOBs are rendered as images by datasette-render-images; everything else is escaped by Datasette.
"""

from __future__ import annotations

from datasette import hookimpl
from markupsafe import Markup, escape

from .digest import safe_url

LINK_COLUMNS = {"listing_url", "registry_url", "url", "source_url"}


@hookimpl
def render_cell(value, column):
    if column not in LINK_COLUMNS or not isinstance(value, str):
        return None
    url = safe_url(value)
    if url is None:
        return Markup(escape(value))
    return Markup('<a href="{}" rel="noopener noreferrer nofollow" target="_blank">{}</a>').format(url, value)
