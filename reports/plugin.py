"""The lootwatch Datasette plugin: the worklist (the home page), the candidate page with its verdict form,
links from the queue to it, and seller-supplied URLs that become links only when they are http(s).

Thumbnail BLOBs are rendered as images by datasette-render-images; everything else is escaped by Datasette.
"""

from __future__ import annotations

import logging

from datasette import hookimpl
from datasette.utils.asgi import Base400
from jinja2 import BaseLoader, ChoiceLoader, PackageLoader, TemplateNotFound
from markupsafe import Markup, escape

from matcher.db.connect import busy_timeout_ms

from .candidate_page import candidate_page, post_verdict
from .digest import safe_url
from .photo_check import photo_check, skip_upload_csrf
from .reasons import reasons_from_json, split_reasons
from .security import bad_request_response, guard
from .worklist import (
    here,
    home_page,
    large,
    likeness_sql,
    original,
    remember_next,
    thumbnail,
    worklist_json,
    worklist_page,
)

log = logging.getLogger("lootwatch.review")
LINK_COLUMNS = {"listing_url", "registry_url", "url", "source_url"}


@hookimpl
def prepare_jinja2_environment(env):
    # The candidate page's template lives beside the digest's; Datasette's own templates come first,
    # except the pages lootwatch words for its reviewers (the sign-in page says who can sign in).
    own = PackageLoader("reports", "templates")
    env.loader = ChoiceLoader([_Renamed(own, OVERRIDES), env.loader, own])


# Other plugins' pages lootwatch words itself: their template name -> lootwatch's template.
OVERRIDES = {"password_login.html": "lootwatch_login.html"}


class _Renamed(BaseLoader):
    """Serves ``names``' templates from ``loader`` under the names other plugins render."""

    def __init__(self, loader: BaseLoader, names: dict[str, str]):
        self.loader, self.names = loader, names

    def get_source(self, environment, template):
        if template not in self.names:
            raise TemplateNotFound(template)
        return self.loader.get_source(environment, self.names[template])

    def list_templates(self):
        return sorted(self.names)


@hookimpl
def extra_template_vars(request, datasette):
    # The header of lootwatch's pages: where "Sign out" comes back to, and whether anyone can sign in.
    return {
        "lw_here": here(request) if request is not None else "/",
        "lw_read_only": bool((datasette.plugin_config("lootwatch") or {}).get("read_only")),
    }


@hookimpl
def prepare_connection(conn):
    # Crawls and matches write to the same database: wait for them rather than fail a verdict.
    conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms()}")
    # The worklist's filter for candidates the learned embedding alone raised (reports/worklist.py).
    conn.create_function("lootwatch_likeness", 7, likeness_sql, deterministic=True)


@hookimpl
def register_routes():
    return [
        (r"^/-/lootwatch/candidate/(?P<id>\d+)$", candidate_page),
        (r"^/-/lootwatch/candidate/(?P<id>\d+)/verdict$", post_verdict),
        (r"^/$", home_page),
        (r"^/-/lootwatch/worklist$", worklist_page),
        (r"^/-/lootwatch/worklist\.json$", worklist_json),
        (r"^/-/lootwatch/thumbnail/(?P<sha>[0-9a-f]{64})$", thumbnail),
        (r"^/-/lootwatch/original/(?P<sha>[0-9a-f]{64})$", original),
        (r"^/-/lootwatch/large/(?P<sha>[0-9a-f]{64})$", large),
        (r"^/-/lootwatch/check$", photo_check),
    ]


@hookimpl(specname="asgi_wrapper")
def lootwatch_sign_in_return(datasette):
    # Signing in returns to the page it was asked from (/-/login?next=...), not to the home page.
    return remember_next(datasette)


@hookimpl(specname="asgi_wrapper", trylast=True)
def lootwatch_safe_to_open(datasette):
    # Outermost: host names, methods, sign-in for every path, body caps, sign-in failures, cookie lifetime,
    # the read-only banner (reports/security.py).
    return guard(datasette)


# Datasette's own exception handler prints each exception with its local variables through rich when rich
# is installed (lootwatch uses it): that fails for a page that does not exist (no exception in flight, so a
# 500 instead of a 404), and would write form values such as passwords to the log. Errors are logged here.
# Done at startup, not on import: importing datasette.handle_exception loads the plugins, this module
# among them, so a module that imports it first would be registered half-made, without its hooks.


@hookimpl
def startup(datasette):
    from datasette import handle_exception as datasette_errors

    datasette_errors.rich = None


@hookimpl(specname="handle_exception")
def lootwatch_bad_request(datasette, request, exception):
    # A number in the address too large for SQLite is the request's fault: 400, not 500.
    if not isinstance(exception, Base400):
        log.error("error answering %s", getattr(request, "path", "?"), exc_info=exception)
    return bad_request_response(datasette, request, exception)


@hookimpl(specname="skip_csrf")
def lootwatch_upload_csrf(datasette, scope):
    # The photo check's multipart form: its token is checked by photo_check itself.
    return skip_upload_csrf(scope)


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
