"""What makes the review UI safe to open: one ASGI wrapper in front of all of Datasette.

In the order a request meets them:

* **Host names.** Only the configured host names are answered (127.0.0.1 and localhost, plus those
  ``lootwatch review --host/--allow-host`` or LOOTWATCH_REVIEW_HOSTS name); any other Host header gets
  400, so a web page an analyst visits cannot reach the UI by DNS rebinding.
* **Methods.** GET, HEAD and POST only; anything else is 405.
* **Cookies.** A ``ds_actor`` cookie is honoured only when Datasette's signature holds and it carries an
  expiry (``"e"``); cookies issued at sign-in get one (``COOKIE_HOURS``), and HttpOnly and a Max-Age.
  The signature is made with the instance's secret, so a new secret signs everyone out. Each sign-in
  carries its own token (``"s"``); signing out ends that token (``SignedOut``), so a copy of the cookie
  stops working too.
* **Sign-in.** Every path needs an actor Datasette's instance ``allow`` block admits (the metadata lists
  the reviewers), not only Datasette's own views; the sign-in page and the static files it needs are the
  exception. Datasette's own status pages (``/-/databases``, ``/-/versions``, ...) need a signed-in
  actor in every mode.
* **Forms from elsewhere.** A POST whose ``Origin`` (or, without one, ``Referer``) names another host or
  port than the one asked for is refused (403), so a page on another port or a sibling host name cannot
  post a verdict with a signed-in reviewer's cookie (cookies do not tell ports apart).
* **Framing.** Every answer forbids being shown inside another site's frame (clickjacking).
* **Debugging pages** of Datasette that post (``/-/messages``, ``/-/allow-debug``, ``/-/permissions``)
  are not served.
* **Bodies.** A POST must say its length; over ``FORM_CAP`` (``UPLOAD_CAP`` on the photo check) it is
  refused with 413 before a byte is read. Forms are urlencoded UTF-8, multipart only where photos are
  uploaded; anything else is 4xx.
* **Sign-in failures** are counted per client address: after ``LOGIN_FAILURES`` in ``LOGIN_WINDOW``
  seconds the client gets 429 until the window has passed. Each failure is one log line naming the client
  and the user name tried, never the password.
* **Read-only mode** says so on every HTML page (``BANNER``).

Every refusal is a small HTML page (JSON for ``.json`` paths) with a 4xx status, as is asgi-csrf's
plain 403 for a form sent with an out-of-date token.
"""

from __future__ import annotations

import asyncio
import html
import ipaddress
import json
import logging
import os
import re
import secrets
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import asgi_csrf
from datasette.utils import await_me_maybe, baseconv
from datasette.utils.asgi import Request
from datasette_auth_passwords.utils import hash_password, verify_password
from itsdangerous import BadSignature
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header

__all__ = [
    "BANNER",
    "COOKIE_HOURS",
    "DEFAULT_HOSTS",
    "FORM_CAP",
    "UPLOAD_CAP",
    "UPLOAD_PATH",
    "LOGIN_FAILURES",
    "LOGIN_WINDOW",
    "SignedOut",
    "guard",
    "host_names",
    "reviewer_cookie",
]

log = logging.getLogger("lootwatch.review")

DEFAULT_HOSTS = ("127.0.0.1", "localhost")
HOSTS_ENV = "LOOTWATCH_REVIEW_HOSTS"
COOKIE_HOURS = 12
FORM_CAP = 100 * 1024
UPLOAD_PATH = "/-/lootwatch/check"
MAX_FILES = 5
MAX_FILE = 20 * 1024 * 1024
UPLOAD_CAP = MAX_FILES * MAX_FILE + 1024 * 1024  # five photos at the cap, and room for the form around them
LOGIN_FAILURES = 5  # per client address (all loopback addresses count as one client)
USER_FAILURES = 20  # per user name, from any number of addresses
LOGIN_WINDOW = 60.0
METHODS = {"GET", "HEAD", "POST"}
BANNER = (
    "Read-only: verdicts cannot be recorded here "
    "(no reviewers are set up, or the review UI was started read-only)"
)

# Open to anyone who can reach the server: the sign-in page and what it needs to look right.
PUBLIC = re.compile(r"^/(-/login|favicon\.ico|-/static/.*|-/static-plugins/.*)$")
# Datasette's pages about the instance itself (paths, versions, threads, settings, plugins, debugging).
INTERNAL = re.compile(
    r"^/-/(databases|versions|threads|settings|config|plugins|metadata|permissions|messages|"
    r"allow-debug|patterns|auth-token|password-tool)(\.json)?$"
)


# Datasette's debugging pages that take forms: no use to a reviewer, and a way to a server error.
DEBUG_PAGES = re.compile(r"^/-/(messages|allow-debug|permissions)(\.json)?$")
# The only addresses a form is posted to: signing in and out, a verdict, the photo check.
POST_PATHS = re.compile(r"^/-/(login|logout|lootwatch/candidate/\d+/verdict|lootwatch/check)$")


def host_names(extra: list[str] | tuple[str, ...] = (), environ: dict[str, str] | None = None) -> list[str]:
    """The host names the review UI answers: 127.0.0.1 and localhost, ``extra`` (say ``lootwatch review
    --host``) and LOOTWATCH_REVIEW_HOSTS ("review.example.org,10.1.2.3"). 0.0.0.0 and :: are listening
    addresses, not names a browser asks for, and are left out."""
    env = os.environ if environ is None else environ
    names = [*DEFAULT_HOSTS, *extra, *env.get(HOSTS_ENV, "").split(",")]
    out: list[str] = []
    for name in names:
        name = _bare_host(name.strip())
        if name and name not in ("0.0.0.0", "::") and name not in out:
            out.append(name)
    return out


def _bare_host(value: str) -> str:
    """``Example.org:8001`` -> ``example.org``; ``[::1]:8001`` -> ``::1``."""
    value = value.strip().lower().rstrip(".")
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else ""
    if value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value


def reviewer_cookie(datasette, actor: dict, hours: float = COOKIE_HOURS) -> str:
    """A ``ds_actor`` cookie value for ``actor`` that Datasette stops honouring after ``hours``, with a
    token of its own (``"s"``) that signing out ends."""
    expires = baseconv.base62.encode(int(time.time() + hours * 3600))
    return datasette.sign({"a": actor, "e": expires, "s": secrets.token_urlsafe(12)}, "actor")


class SignedOut:
    """The tokens of sign-ins ended by "Sign out", each until its cookie would have expired anyway.

    Kept in ``path`` (``NAME.signed-out`` beside the database: one ``token expiry`` line each, readable by
    its owner only), so a restarted server still refuses a copy of a signed-out cookie; in memory alone
    when ``path`` is None or cannot be written (logged once).
    """

    def __init__(self, path: Path | None):
        self.path = path
        self._lock = threading.Lock()
        self._ended: dict[str, int] = {}
        self._loaded = False

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        try:
            lines = self.path.read_text("ascii").splitlines() if self.path and self.path.exists() else []
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("could not read the signed-out sessions in %s: %s", self.path, exc)
            lines = []
        now = time.time()
        for line in lines:
            token, _, expiry = line.partition(" ")
            if token and expiry.isdigit() and int(expiry) > now:
                self._ended[token] = int(expiry)

    def __contains__(self, token: str) -> bool:
        with self._lock:
            self._load()
            return token in self._ended

    def end(self, token: str, expiry: int) -> None:
        """End the sign-in with ``token`` (its cookie expires at ``expiry``, Unix seconds)."""
        with self._lock:
            self._load()
            now = time.time()
            self._ended = {t: e for t, e in self._ended.items() if e > now}
            self._ended[token] = expiry
            if self.path is None:
                return
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w", encoding="ascii") as f:
                    f.writelines(f"{t} {e}\n" for t, e in self._ended.items())
            except OSError as exc:
                log.warning("signed out until restart only: could not write %s: %s", self.path, exc)


def _config(datasette) -> dict:
    return datasette.plugin_config("lootwatch") or {}


class _Refusal(Exception):
    def __init__(self, status: int, title: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.title, self.message, self.headers = status, title, message, headers or {}


class LoginLimiter:
    """Failed sign-ins per client address in a sliding window."""

    def __init__(self, failures: int = LOGIN_FAILURES, window: float = LOGIN_WINDOW, clients: int = 10_000):
        self.failures, self.window, self.clients = failures, window, clients
        self._seen: dict[str, deque[float]] = {}

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self._seen.get(client) or deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def retry_after(self, client: str, failures: int | None = None) -> int:
        """Seconds until ``client`` may try again (after ``failures``, by default the limiter's); 0 when
        it may now."""
        now = time.monotonic()
        times = self._recent(client, now)
        if len(times) < (failures or self.failures):
            return 0
        return max(1, int(times[0] + self.window - now + 1))

    def failed(self, client: str) -> int:
        now = time.monotonic()
        if len(self._seen) >= self.clients:  # forget clients whose failures are all old
            for key in [k for k, v in self._seen.items() if not self._recent(k, now)]:
                del self._seen[key]
        times = self._recent(client, now)
        times.append(now)
        self._seen[client] = times
        return len(times)


def signed_out_path(datasette) -> Path | None:
    """``NAME.signed-out`` beside the review database; None for a database without a file."""
    for name, db in datasette.databases.items():
        if name not in ("_internal", "_memory") and db.path:
            return Path(db.path).with_suffix(".signed-out")
    return None


def guard(datasette):
    """The ``asgi_wrapper`` of the lootwatch plugin."""
    limiter = LoginLimiter()
    datasette._lootwatch_signed_out = SignedOut(signed_out_path(datasette))

    def wrap(app):
        async def guarded(scope, receive, send):
            if scope["type"] != "http":
                return await app(scope, receive, send)
            started = []

            async def tracked_send(message):
                if message["type"] == "http.response.start":
                    started.append(message["status"])
                await send(message)

            try:
                await _guarded(datasette, limiter, app, scope, receive, tracked_send)
            except _Refusal as refusal:
                if started:
                    raise
                await _refuse(datasette, scope, send, refusal)
            except (FormParserError, UnicodeDecodeError) as exc:
                # Malformed forms that reach a parser inside Datasette (asgi-csrf, post_vars).
                if started:
                    raise
                await _refuse(datasette, scope, send, _Refusal(400, "Malformed form", _form_error(exc)))

        return guarded

    return wrap


def _form_error(exc: Exception) -> str:
    return f"The form sent could not be read ({type(exc).__name__}). Reload the page and send it again."


async def _guarded(datasette, limiter: LoginLimiter, app, scope, receive, send) -> None:
    config = _config(datasette)
    path = _route_path(datasette, scope)
    headers = {k.lower(): v for k, v in scope.get("headers") or []}
    hosts = config.get("hosts") or list(DEFAULT_HOSTS)
    host = headers.get(b"host", b"").decode("latin-1")
    if _bare_host(host) not in hosts:
        raise _Refusal(
            400,
            "Unknown host name",
            f"This server answers only to {', '.join(hosts)}, not {host[:100]!r}. "
            f"Name more with lootwatch review --allow-host or {HOSTS_ENV}.",
        )
    method = scope.get("method", "GET")
    if method not in METHODS:
        raise _Refusal(
            405,
            "Method not allowed",
            f"{method[:20]} is not a method this server answers.",
            {"allow": ", ".join(sorted(METHODS))},
        )
    if DEBUG_PAGES.match(path):
        raise _Refusal(404, "Not found", "This page is not served here.")
    if method == "POST" and not POST_PATHS.match(path):
        raise _Refusal(
            405, "Method not allowed", "Nothing is posted to this address.", {"allow": "GET, HEAD"}
        )
    if method == "POST" and (elsewhere := _foreign_origin(headers, host)):
        log.warning("form from %s refused: it was sent to %s", elsewhere[:100], host[:100])
        raise _Refusal(
            403,
            "Form sent from another page",
            "This form did not come from the review UI's own pages, so nothing was recorded. If you "
            "sent it yourself, open the review UI at the address you normally use and send it again.",
        )
    presented = _actor_cookie_value(headers)
    scope = _honoured_cookies(datasette, scope, headers)
    actor = await _actor(datasette, scope, receive)
    if not PUBLIC.match(path):
        if INTERNAL.match(path) and not actor:
            raise _Refusal(403, "Sign in first", "This page is for signed-in reviewers only.")
        if not await datasette.permission_allowed(actor, "view-instance", default=True):
            if actor or method != "GET" or path.endswith(".json"):
                raise _Refusal(403, "Sign in first", "Sign in as a reviewer to see this.")
            target = datasette.urls.path("/-/login") + "?next=" + quote(_full_path(scope), safe="/")
            await send(
                {
                    "type": "http.response.start",
                    "status": 302,
                    "headers": [
                        (b"location", target.encode("latin-1")),
                        (b"content-length", b"0"),
                        (b"cache-control", b"private, no-store"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
    body = None
    if method == "POST":
        scope, receive, body = await _capped_body(scope, receive, headers, path)
    if path == "/-/login" and method == "POST":
        send = await _signing_in(datasette, limiter, scope, body, send)
    await app(scope, receive, _answer(datasette, scope, send, config, path, presented))


async def _signing_in(datasette, limiter: LoginLimiter, scope, body: bytes | None, send):
    """A sign-in form: refused while its client waits out too many failures; otherwise ``send`` that
    counts and logs a failure."""
    address = (scope.get("client") or ("unknown",))[0]
    client = _client_key(address)
    user = dict(parse_qsl((body or b"").decode("utf-8", "replace"))).get("username", "")[:64]
    wait = limiter.retry_after(client)
    if wait:
        log.warning("sign-in refused for %s: too many failures, try again in %d s", address, wait)
        raise _too_many_sign_ins(wait, "from this address")
    # Many addresses guessing one name's password: that name waits too.
    wait = limiter.retry_after(f"user {user}", USER_FAILURES)
    if wait:
        log.warning("sign-in refused for user %r from %s: too many failures for that name", user, address)
        raise _too_many_sign_ins(wait, "for this user name")
    if user not in _accounts(datasette):
        # datasette-auth-passwords answers an unknown name at once and a known one after hashing
        # (~0.2 s): hash anyway, so the time of the answer does not tell which names exist.
        await asyncio.to_thread(verify_password, "", _DUMMY_HASH)
    return _login_outcome(send, limiter, client, user, address)


def _too_many_sign_ins(wait: int, whom: str) -> _Refusal:
    """The 429 answer, with Retry-After, to a sign-in refused after too many failed ones ``whom`` ("from
    this address", "for this user name"): try again in ``wait`` seconds."""
    return _Refusal(
        429,
        "Too many sign-in attempts",
        f"Too many failed sign-ins {whom}. Try again in {wait} seconds.",
        {"retry-after": str(wait)},
    )


def _client_key(address: str) -> str:
    """Whom sign-in failures are counted against: the client's address, with every loopback address
    (127.0.0.0/8, ::1) as one, since a local process may send from any of them."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    return "loopback" if ip.is_loopback else str(ip)


def _answer(datasette, scope, send, config: dict, path: str, presented: str | None):
    """``send`` with what every answer passes through: the end of a signed-out sign-in, the page for a
    form with an out-of-date token, the cookie rules and the read-only banner."""
    if scope.get("method") == "POST":
        if path == "/-/logout" and presented:
            send = _ending_sign_in(datasette, send, presented)
        send = _csrf_page(datasette, scope, send)
    send = _cookie_rules(datasette, _not_framed(send), config)
    return _with_banner(send) if config.get("read_only") else send


def _not_framed(send):
    """Every answer may be shown in a frame of this server's own pages only (clickjacking)."""

    async def framed_send(message):
        if message["type"] == "http.response.start":
            headers = list(message.get("headers") or [])
            csp = [i for i, (k, _) in enumerate(headers) if k.lower() == b"content-security-policy"]
            if csp:
                key, value = headers[csp[0]]
                headers[csp[0]] = (key, value + b"; frame-ancestors 'self'")
            else:
                headers.append((b"content-security-policy", b"frame-ancestors 'self'"))
            headers.append((b"x-frame-options", b"SAMEORIGIN"))
            message = dict(message, headers=headers)
        await send(message)

    return framed_send


def _route_path(datasette, scope) -> str:
    raw = scope.get("raw_path")
    path = raw.decode("ascii", "replace") if raw else scope.get("path", "/")
    path = path.partition("?")[0]
    base = datasette.setting("base_url") or "/"
    if base != "/" and path.startswith(base):
        path = "/" + path[len(base) :]
    return path


def _full_path(scope) -> str:
    path = scope.get("path", "/")
    if scope.get("query_string"):
        path += "?" + scope["query_string"].decode("latin-1")
    return path


# A hash of nothing in particular, made as datasette-auth-passwords makes them (same cost).
_DUMMY_HASH = hash_password(secrets.token_hex(8))


def _accounts(datasette) -> set[str]:
    """The user names datasette-auth-passwords has a hash for."""
    config = datasette.plugin_config("datasette-auth-passwords") or {}
    return {key.rsplit("_password_hash", 1)[0] for key in config if key.endswith("_password_hash")}


def _foreign_origin(headers: dict[bytes, bytes], host: str) -> str | None:
    """The origin a POST says it came from when that is not this server as asked (host and port), else
    None. Browsers send ``Origin`` with every form POST; ``Referer`` stands in when a proxy drops it, and a
    request with neither (a script) is left to the token check."""
    for name in (b"origin", b"referer"):
        value = headers.get(name, b"").decode("latin-1").strip()
        if not value:
            continue
        if value == "null":  # a sandboxed frame, a data: page or a file: page
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or parts.netloc.lower() != host.lower():
            return value
        return None
    return None


def _actor_cookie_value(headers: dict[bytes, bytes]) -> str | None:
    for part in headers.get(b"cookie", b"").decode("latin-1").split(";"):
        name, _, value = part.strip().partition("=")
        if name == "ds_actor" and value:
            return value.strip().strip('"')
    return None


def _honoured_cookies(datasette, scope, headers: dict[bytes, bytes]):
    """Drop a ``ds_actor`` cookie that is not signed with this secret, has no expiry or token, or whose
    sign-in has ended."""
    cookie = headers.get(b"cookie")
    if not cookie or b"ds_actor" not in cookie:
        return scope
    kept = []
    for part in cookie.decode("latin-1").split(";"):
        name, _, value = part.strip().partition("=")
        if name == "ds_actor" and not _expiring_actor(datasette, value.strip().strip('"')):
            continue
        kept.append(part.strip())
    new_headers = [(k, v) for k, v in scope.get("headers") or [] if k.lower() != b"cookie"]
    if kept:
        new_headers.append((b"cookie", "; ".join(kept).encode("latin-1")))
    return dict(scope, headers=new_headers)


def _expiring_actor(datasette, value: str) -> bool:
    decoded = _decoded_actor(datasette, value)
    if decoded is None or not decoded.get("e") or not isinstance(decoded.get("s"), str):
        return False
    signed_out = getattr(datasette, "_lootwatch_signed_out", None)
    return signed_out is None or decoded["s"] not in signed_out


def _decoded_actor(datasette, value: str) -> dict | None:
    try:
        decoded = datasette.unsign(value, "actor")
    except (BadSignature, ValueError, TypeError):
        return None
    return decoded if isinstance(decoded, dict) and "a" in decoded else None


def _ending_sign_in(datasette, send, cookie: str):
    """Once a sign-out has gone through (Datasette answers it with a redirect), end that sign-in's token."""

    async def ending(message):
        if message["type"] == "http.response.start" and message.get("status") in (301, 302, 303):
            decoded = _decoded_actor(datasette, cookie)
            if decoded and isinstance(decoded.get("s"), str) and decoded.get("e"):
                try:
                    expiry = int(baseconv.base62.decode(str(decoded["e"])))
                except ValueError:
                    expiry = int(time.time() + COOKIE_HOURS * 3600)
                datasette._lootwatch_signed_out.end(decoded["s"], expiry)
        await send(message)

    return ending


_CSRF_MESSAGES = {m.encode() for m in (*asgi_csrf.error_messages.values(), "CSRF validation failed")}


def _csrf_page(datasette, scope, send):
    """asgi-csrf answers a form whose token does not match with a bare 403 and one line of jargon; this
    sends a page that says what happened and what to do instead."""
    held: dict[str, Any] = {}

    async def csrf_send(message):
        if message["type"] == "http.response.start" and message.get("status") == 403:
            held["start"] = message
            return
        if message["type"] == "http.response.body" and "start" in held:
            start = held.pop("start")
            if message.get("body", b"") in _CSRF_MESSAGES and not message.get("more_body"):
                refusal = _Refusal(
                    403,
                    "The form was out of date",
                    "The page this form came from is too old, or was opened before you signed in or "
                    "out, so its security token no longer matches. Nothing was recorded. Go back, "
                    "reload the page and send the form again.",
                )
                return await _refuse(datasette, scope, send, refusal)
            await send(start)
        await send(message)

    return csrf_send


async def _actor(datasette, scope, receive) -> dict | None:
    """The actor Datasette will see for this request, by the same hooks its router calls."""
    from datasette.plugins import pm  # here: datasette.plugins loads this plugin when imported

    request = Request(scope, receive)
    for actor in pm.hook.actor_from_request(datasette=datasette, request=request):
        actor = await await_me_maybe(actor)
        if actor:
            return actor
    return scope.get("actor") or None


async def _capped_body(scope, receive, headers: dict[bytes, bytes], path: str):
    """Refuse a body over its cap before reading it; read a form's body (at most ``FORM_CAP``) and
    hand it on. Returns the scope, the receive to use and the body (None for an upload)."""
    upload = path == UPLOAD_PATH
    cap = UPLOAD_CAP if upload else FORM_CAP
    length = headers.get(b"content-length")
    if length is None:
        if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
            raise _Refusal(411, "Length required", "Send the form with its length (Content-Length).")
        length = b"0"
    if not length.isdigit() or len(length) > 15:
        raise _Refusal(400, "Bad request", "The Content-Length header is not a number.")
    if int(length) > cap:
        what = f"{MAX_FILES} photos of up to {MAX_FILE // 2**20} MB" if upload else "a form"
        raise _Refusal(
            413, "Too large", f"The request is {int(length):,} bytes; {cap:,} are enough for {what}."
        )
    kind, options = parse_options_header(headers.get(b"content-type", b""))
    if upload and int(length):
        boundary = options.get(b"boundary", b"")
        if kind != b"multipart/form-data" or not re.fullmatch(rb"[0-9A-Za-z'()+_,./:=?-]{1,70}", boundary):
            raise _Refusal(400, "Bad request", "Photos are sent as a multipart form with a boundary.")
        # asgi-csrf reads the boundary from exactly this spelling.
        new_headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-type"]
        new_headers.append((b"content-type", b"multipart/form-data; boundary=" + boundary))
        return dict(scope, headers=new_headers), _counted(receive, cap), None
    if int(length) and kind != b"application/x-www-form-urlencoded":
        raise _Refusal(415, "Unsupported form", "Forms here are sent urlencoded (a plain HTML form).")
    body = await _read(receive, cap)
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise _Refusal(400, "Malformed form", "The form is not UTF-8 text.") from None
    sent = []

    async def replay():
        if not sent:
            sent.append(True)
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return scope, replay, body


async def _read(receive, cap: int) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Refusal(400, "Bad request", "The client went away.")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            raise _Refusal(413, "Too large", f"The request is over {cap:,} bytes.")
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _counted(receive, cap: int):
    seen = [0]

    async def counted():
        message = await receive()
        seen[0] += len(message.get("body", b""))
        if seen[0] > cap:
            raise _Refusal(413, "Too large", f"The request is over {cap:,} bytes.")
        return message

    return counted


def _login_outcome(send, limiter: LoginLimiter, client: str, user: str, address: str):
    """Count and log a failed sign-in (datasette-auth-passwords answers 200 with its form again), against
    the client and against the user name."""

    async def outcome(message):
        if message["type"] == "http.response.start":
            if message["status"] == 200:
                count = limiter.failed(client)
                limiter.failed(f"user {user}")
                log.warning(
                    "sign-in failed for user %r from %s (%d in the last minute)", user, address, count
                )
            elif message["status"] in (301, 302, 303):
                log.info("signed in: user %r from %s", user, address)
        await send(message)

    return outcome


def _cookie_rules(datasette, send, config: dict):
    """Every ``ds_actor`` cookie set carries an expiry in its signed value, HttpOnly and a Max-Age."""
    hours = float(config.get("cookie_hours") or COOKIE_HOURS)
    secure = bool(datasette.setting("force_https_urls"))

    async def rules(message):
        if message["type"] == "http.response.start":
            headers = []
            for key, value in message.get("headers") or []:
                if key.lower() == b"set-cookie" and value.startswith(b"ds_actor="):
                    value = _actor_cookie(datasette, value, hours, secure)
                headers.append((key, value))
            message = dict(message, headers=headers)
        await send(message)

    return rules


def _actor_cookie(datasette, header: bytes, hours: float, secure: bool) -> bytes:
    value = header.split(b";", 1)[0].split(b"=", 1)[1].strip(b'"').decode("latin-1")
    if not value:  # signing out: the cookie is being cleared
        return header
    try:
        decoded = datasette.unsign(value, "actor")
        actor = decoded["a"]
    except (BadSignature, KeyError, TypeError):
        return header
    attrs = f"; HttpOnly; Max-Age={int(hours * 3600)}; Path=/; SameSite=Lax" + ("; Secure" if secure else "")
    return f"ds_actor={reviewer_cookie(datasette, actor, hours)}{attrs}".encode("latin-1")


def _with_banner(send):
    """Put the read-only banner at the top of every HTML page."""
    held: dict[str, Any] = {}
    chunks: list[bytes] = []
    banner = (
        '<div class="lootwatch-read-only" role="status" style="background:#fff3cd;color:#533f03;'
        'padding:.6em 1em;border-bottom:2px solid #c9a227;font-weight:bold">'
        f"{html.escape(BANNER)}</div>"
    ).encode()

    async def banner_send(message):
        if message["type"] == "http.response.start":
            ctype = dict((k.lower(), v) for k, v in message.get("headers") or []).get(b"content-type", b"")
            if ctype.startswith(b"text/html"):
                held["start"] = message
                return
        elif message["type"] == "http.response.body" and "start" in held:
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            page = b"".join(chunks)
            found = re.search(rb"<body[^>]*>", page[:20000])
            at = found.end() if found else 0
            page = page[:at] + banner + page[at:]
            start = held.pop("start")
            headers = [(k, v) for k, v in start.get("headers") or [] if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(page)).encode()))
            await send(dict(start, headers=headers))
            await send({"type": "http.response.body", "body": page, "more_body": False})
            return
        await send(message)

    return banner_send


async def _refuse(datasette, scope, send, refusal: _Refusal) -> None:
    headers = {
        "cache-control": "private, no-store",
        "x-frame-options": "SAMEORIGIN",
        "content-security-policy": "frame-ancestors 'self'",
        **refusal.headers,
    }
    if _route_path(datasette, scope).endswith(".json"):
        body = json.dumps(
            {"ok": False, "status": refusal.status, "title": refusal.title, "error": refusal.message}
        ).encode()
        headers["content-type"] = "application/json; charset=utf-8"
    else:
        body = (await _page(datasette, refusal)).encode("utf-8")
        headers["content-type"] = "text/html; charset=utf-8"
    headers["content-length"] = str(len(body))
    await send(
        {
            "type": "http.response.start",
            "status": refusal.status,
            "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
        }
    )
    await send({"type": "http.response.body", "body": body if scope.get("method") != "HEAD" else b""})


async def _page(datasette, refusal: _Refusal) -> str:
    """Datasette's own error page; a plain one if templates cannot be rendered."""
    try:
        await datasette.invoke_startup()
        return await datasette.render_template(
            ["lootwatch_security_error.html"],
            {
                "title": refusal.title,
                "error": refusal.message,
                "status": refusal.status,
                "read_only": bool(_config(datasette).get("read_only")),
                "banner": BANNER,
            },
            request=None,
        )
    except Exception:  # noqa: BLE001 - a refusal must never become a 500
        log.exception("could not render the %d page", refusal.status)
        return (
            f"<!DOCTYPE html><title>{html.escape(refusal.title)}</title><h1>{html.escape(refusal.title)}</h1>"
            f"<p>{html.escape(refusal.message)}</p>"
        )


def bad_request_response(datasette, request, exception):
    """The ``handle_exception`` hook: faults of the request that surface inside a view are 4xx pages."""
    if isinstance(exception, OverflowError):
        refusal = _Refusal(400, "Bad request", "A number in the address is too large to be an id.")
    elif isinstance(exception, FormParserError | UnicodeDecodeError):
        refusal = _Refusal(400, "Malformed form", _form_error(exception))
    elif isinstance(exception, ValueError) and str(exception).startswith("invalid literal for int()"):
        refusal = _Refusal(400, "Bad request", "A number in the address is not a number (_next, _size, ...).")
    elif isinstance(exception, json.JSONDecodeError):
        refusal = _Refusal(
            400, "Bad request", "A value in the address should be a JSON list, like [1, 2], and is not."
        )
    elif str(exception).startswith("Cannot sort table by "):
        refusal = _Refusal(400, "Bad request", "The table has no such column to sort by.")
    elif names := _malformed_arguments(request):
        refusal = _Refusal(400, "Bad request", f"Malformed in the address: {', '.join(names)}.")
    elif (page := _datasette_error(exception)) and not request.path.endswith(".json"):
        return _review_ui_error(datasette, request, *page)
    else:
        return None

    async def inner():
        from datasette.utils.asgi import Response

        if request.path.endswith(".json"):
            return Response.json(
                {"ok": False, "status": refusal.status, "error": refusal.message}, status=refusal.status
            )
        return Response.html(await _page(datasette, refusal), status=refusal.status)

    return inner


def _datasette_error(exception) -> tuple[int, str | None, Any] | None:
    """Status, title and message of a 4xx that Datasette raised (no such table, not allowed, ...)."""
    from datasette.utils.asgi import Base400
    from datasette.views.base import DatasetteError
    from markupsafe import Markup

    if isinstance(exception, Base400):
        return exception.status, None, exception.args[0] if exception.args else ""
    if isinstance(exception, DatasetteError) and 400 <= exception.status < 500:
        message = Markup(exception.message) if exception.message_is_html else exception.message
        return exception.status, exception.title, message
    return None


def _review_ui_error(datasette, request, status: int, title: str | None, message: Any):
    """Datasette's 4xx pages in the review UI's own frame (its header, sign-in and worklist links)."""

    async def inner():
        from datasette.utils.asgi import Response

        page = await datasette.render_template(
            "lootwatch_datasette_error.html",
            {"status": status, "title": title, "error": message},
            request=request,
        )
        return Response.html(page, status=status)

    return inner


def _malformed_arguments(request) -> list[str]:
    """Datasette's special query arguments whose values it would fail on with a 500."""
    args = getattr(request, "args", {}) or {}
    bad = []
    limit = args.get("_timelimit")
    if limit is not None and not limit.isdigit():
        bad.append("_timelimit (a number of milliseconds)")
    through = args.get("_through")
    if through is not None:
        try:
            value = json.loads(through)
        except ValueError:
            value = None
        if not (isinstance(value, dict) and {"table", "column", "value"} <= value.keys()):
            bad.append('_through (JSON with "table", "column" and "value")')
    return bad
