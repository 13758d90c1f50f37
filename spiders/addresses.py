"""Which network addresses the crawler may connect to, and the resolver that enforces it.

Hostile pages point photo and lot links at the crawler's own network: cloud metadata at 169.254.169.254,
services on loopback, private ranges, by IP literal, by any other spelling a resolver accepts
(``2130706433``, ``0x7f.1``, ``127.1``) or by a host name whose DNS answer is private. The check that
counts is the one on the addresses actually connected to: ``PublicOnlyResolver`` hands the connection
only addresses that are globally routable, so a DNS answer that changes between a check and the
connection (rebinding) cannot slip through. The only exceptions are the ``host:port`` pairs the
operator lists (``LOOTWATCH_ALLOW_HOSTS``): the demo marketplace and test sites on loopback.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

import attr
from scrapy.exceptions import IgnoreRequest
from twisted.internet.interfaces import IHostnameResolver, IHostResolution, IResolutionReceiver
from zope.interface import implementer, provider

__all__ = [
    "Allowance",
    "PublicOnlyResolver",
    "Refused",
    "address_problem",
    "host_address",
    "installed_resolver",
    "url_problem",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NUMERIC = re.compile(r"^[0-9a-fx.]+$")  # what inet_aton might read as an IPv4 address


class Refused(IgnoreRequest):
    """A request lootwatch will not make (or whose answer it will not keep), already recorded."""


def host_address(host: str) -> IPAddress | None:
    """The IP address a URL's host stands for when it is an address at all, in any spelling resolvers
    accept: dotted quad, IPv6 (with or without brackets and zone), and the BSD ``inet_aton`` forms
    (``2130706433``, ``0177.0.0.1``, ``0x7f000001``, ``127.1``, ``0``); None for a host name."""
    host = host.strip().lower().strip("[]")
    if host.endswith(".") and not host.endswith(".."):
        host = host[:-1]
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC.match(host):
        try:  # glibc's getaddrinfo reads numeric hosts with inet_aton, so judge them the same way
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def address_problem(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public address, in words, or None when it is globally routable.

    IPv6 addresses that carry an IPv4 address (mapped ``::ffff:a.b.c.d``, 6to4, Teredo, NAT64) are judged
    by the address they carry as well.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if inner is None and ip in _NAT64:
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is not None and (problem := address_problem(inner)):
            return f"an IPv6 form of {inner}, {problem}"
        if ip.ipv4_mapped is not None:
            return None
    if ip.is_loopback:
        return "a loopback address (this machine)"
    if ip.is_link_local:
        return "a link-local address (where cloud metadata services answer)"
    if ip.is_unspecified:
        return "the unspecified address (this machine)"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private:
        return "a private-network address"
    if ip.is_reserved or not ip.is_global:
        return "not a globally routable address"
    return None


class Allowance:
    """The ``host:port`` pairs the operator allows whatever their address ("127.0.0.1:8000",
    "[::1]:8000", "registry.internal:443"). A host without a port is an error: the allowance is meant to
    be narrow."""

    def __init__(self, entries: Iterable[str] = ()):
        self.pairs: set[tuple[str, int]] = set()
        for entry in entries:
            self.add(entry)

    def add(self, entry: str) -> None:
        """Allow one ``host:port``; ValueError names the entry when it has no port."""
        parts = urlsplit(f"//{entry.strip()}")
        try:
            port = parts.port
        except ValueError:
            port = None
        if not parts.hostname or port is None:
            raise ValueError(f"LOOTWATCH_ALLOW_HOSTS entry {entry!r} must be host:port")
        self.pairs.add((_canonical(parts.hostname), port))

    def allows(self, host: str, port: int) -> bool:
        """Whether ``host`` at ``port`` is listed; port 0 (a lookup that names no port, such as a
        proxy's) matches the host at any listed port."""
        host = _canonical(host)
        if port == 0:
            return any(h == host for h, _ in self.pairs)
        return (host, port) in self.pairs

    def allows_url(self, url: str) -> bool:
        parts = urlsplit(url)
        try:
            port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
        except ValueError:
            return False
        return bool(parts.hostname) and self.allows(parts.hostname, port)

    def __bool__(self) -> bool:
        return bool(self.pairs)


def _canonical(host: str) -> str:
    ip = host_address(host)
    return str(ip) if ip is not None else host.lower().rstrip(".")


def url_problem(
    url: str, allow_files: bool, allowance: Allowance, others: Allowance | None = None
) -> str | None:
    """Why lootwatch must not fetch ``url`` judging by the URL alone, or None.

    Refuses other schemes than http and https (``file:`` only where ``allow_files``), names of this
    machine, addresses that are not public in any spelling, credentials in the URL, and hosts that
    ``others`` (other spiders of the same process) may fetch but ``allowance`` does not list; host names
    are judged again on the addresses they resolve to (``PublicOnlyResolver``).
    """
    parts = urlsplit(url)
    if parts.scheme == "file":
        return None if allow_files else "file: URLs are only read by registry imports"
    if parts.scheme not in ("http", "https"):
        return f"scheme {parts.scheme!r} is not fetched"
    try:
        _ = parts.port
    except ValueError:
        return "URL has an invalid port"
    host = unquote(parts.hostname or "")  # resolvers and browsers see "127%2e0%2e0%2e2" as 127.0.0.2
    if not host:
        return "URL has no host"
    if problem := _name_problem(host):
        return problem
    if allowance.allows_url(url):
        return None
    if others is not None and others.allows_url(url):
        return "host is allowed for another spider of this run, not for this one"
    name = host.lower().rstrip(".")
    if name in LOCAL_NAMES or name.endswith(".localhost"):
        return f"host {host} is this machine"
    ip = host_address(host)
    if ip is not None and (problem := address_problem(ip)):
        spelled = "" if str(ip) == host.strip("[]") else f" (written {host})"
        return f"address {ip}{spelled} is {problem}"
    if parts.username is not None or parts.password is not None:
        return "URL carries a user name or password (a way to disguise where it points)"
    return None


def _name_problem(host: str) -> str | None:
    """Why ``host`` is no usable host name (empty labels, characters no name holds), or None."""
    if host.startswith("[") or ":" in host:
        return None  # an IPv6 literal, judged by its address
    name = host[:-1] if host.endswith(".") else host
    try:
        name.encode("idna")
    except UnicodeError:
        return f"host name {host!r} is not valid"
    if any(c in name for c in "%/\\@ ") or "" in name.split("."):
        return f"host name {host!r} is not valid"
    return None


@implementer(IHostnameResolver)
class PublicOnlyResolver:
    """A Twisted name resolver (Scrapy ``TWISTED_DNS_RESOLVER``) that passes on the resolved addresses of
    a host only when every one is public, so a connection can only go to a public address.

    When any address is not public the lookup ends with no address (the download fails with Twisted's
    ``DNSLookupError``) and the reason is kept for ``take_refusal``, which the download middleware reads
    to record the refusal against the request's URL. Hosts in the allowance resolve as they are.
    """

    CACHE_SECONDS = 60.0  # a public answer is reused this long: fewer lookups, and still only public

    def __init__(
        self, reactor: Any, allowance: Allowance | None = None, keep: int = 10_000, cache: bool = True
    ):
        self.reactor = reactor
        self.original: IHostnameResolver = reactor.nameResolver
        self.allowance = allowance or Allowance()
        self._refusals: OrderedDict[str, list[str]] = OrderedDict()
        self._keep = keep
        self._cache: OrderedDict[tuple, tuple[float, list[Any]]] | None = OrderedDict() if cache else None

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: Any) -> PublicOnlyResolver:
        return cls(
            reactor,
            Allowance(crawler.settings.getlist("LOOTWATCH_ALLOW_HOSTS")),
            keep=crawler.settings.getint("DNSCACHE_SIZE", 10_000),
            cache=crawler.settings.getbool("DNSCACHE_ENABLED", True),
        )

    def install_on_reactor(self) -> None:
        self.reactor.installNameResolver(self)

    def resolveHostName(  # noqa: N802 - Twisted's interface
        self,
        resolutionReceiver: IResolutionReceiver,  # noqa: N803
        hostName: str,  # noqa: N803
        portNumber: int = 0,  # noqa: N803
        addressTypes: Sequence[type] | None = None,  # noqa: N803
        transportSemantics: str = "TCP",  # noqa: N803
    ) -> IHostResolution:
        key = (_canonical(hostName), tuple(addressTypes or ()), transportSemantics)
        if (cached := self._cached(key)) is not None:
            resolution = _Resolution(hostName)
            resolutionReceiver.resolutionBegan(resolution)
            for address in cached:
                resolutionReceiver.addressResolved(attr.evolve(address, port=portNumber))
            resolutionReceiver.resolutionComplete()
            return resolution
        screen = _Screen(self, resolutionReceiver, hostName, portNumber, key)
        self.original.resolveHostName(screen, hostName, portNumber, addressTypes, transportSemantics)
        return screen.resolution

    def _cached(self, key: tuple) -> list[Any] | None:
        if self._cache is None or key not in self._cache:
            return None
        when, addresses = self._cache[key]
        if time.monotonic() - when > self.CACHE_SECONDS:
            del self._cache[key]
            return None
        return addresses

    def remember(self, key: tuple, addresses: list[Any]) -> None:
        """Keep a screened, all-public answer for ``CACHE_SECONDS`` (refusals are never kept)."""
        if self._cache is None or not addresses:
            return
        self._cache[key] = (time.monotonic(), list(addresses))
        self._cache.move_to_end(key)
        while len(self._cache) > self._keep:
            self._cache.popitem(last=False)

    def refuse(self, host: str, reason: str) -> None:
        reasons = self._refusals.setdefault(_canonical(host), [])
        reasons.append(reason)
        self._refusals.move_to_end(_canonical(host))
        while len(self._refusals) > self._keep:
            self._refusals.popitem(last=False)

    def take_refusal(self, host: str) -> str | None:
        """The reason a lookup of ``host`` was refused (each refusal is taken once), or None."""
        reasons = self._refusals.get(_canonical(host))
        if not reasons:
            return None
        reason = reasons.pop(0)
        if not reasons:
            del self._refusals[_canonical(host)]
        return reason


@provider(IHostResolution)
class _Resolution:
    def __init__(self, name: str):
        self.name = name

    def cancel(self) -> None:
        return None


@implementer(IResolutionReceiver)
class _Screen:
    """Collects a lookup's addresses and passes them on only once all are known and all are public."""

    def __init__(self, resolver: PublicOnlyResolver, receiver: Any, host: str, port: int, key: tuple = ()):
        self.resolver, self.receiver, self.host, self.port, self.key = resolver, receiver, host, port, key
        self.addresses: list[Any] = []
        self.resolution: Any = _Resolution(host)

    def resolutionBegan(self, resolution: Any) -> None:  # noqa: N802 - Twisted's interface
        self.resolution = resolution
        self.receiver.resolutionBegan(resolution)

    def addressResolved(self, address: Any) -> None:  # noqa: N802
        self.addresses.append(address)

    def resolutionComplete(self) -> None:  # noqa: N802
        if not self.resolver.allowance.allows(self.host, self.port):
            bad = []
            for address in self.addresses:
                ip = host_address(str(getattr(address, "host", "")).split("%")[0])
                problem = address_problem(ip) if ip is not None else "not an IP address"
                if problem:
                    bad.append(f"{ip or address}, which is {problem}")
            if bad:
                self.resolver.refuse(self.host, f"host {self.host} resolves to {'; '.join(bad)}")
                self.receiver.resolutionComplete()
                return
            self.resolver.remember(self.key, self.addresses)  # all public: safe for any port
        for address in self.addresses:
            self.receiver.addressResolved(address)
        self.receiver.resolutionComplete()


def installed_resolver(allowance: Allowance) -> PublicOnlyResolver:
    """The reactor's PublicOnlyResolver, installing one if the process runs without it (a crawl started
    some other way than ``lootwatch``); ``allowance`` is added to what it allows."""
    from twisted.internet import reactor

    resolver = reactor.nameResolver
    if not isinstance(resolver, PublicOnlyResolver):
        resolver = PublicOnlyResolver(reactor)
        resolver.install_on_reactor()
    resolver.allowance.pairs |= allowance.pairs
    return resolver
