"""Which addresses the crawler may connect to (spiders.addresses): every spelling of an address, the
addresses IPv6 carries, the narrow allowance, and the resolver that screens what a connection is given."""

import ipaddress

import pytest
from twisted.internet.address import IPv4Address, IPv6Address

from spiders.addresses import Allowance, PublicOnlyResolver, address_problem, host_address, url_problem


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0x7F.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("127.0.0.1.", "127.0.0.1"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("169.254.169.254", "169.254.169.254"),
        ("012.0.0.5", "10.0.0.5"),
        ("example.org", None),
        ("deadbeef", None),
        ("0x7f.example", None),
    ],
)
def test_every_spelling_is_the_address_it_stands_for(host, address):
    found = host_address(host)
    assert (str(found) if found else None) == address


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.2",
        "10.0.0.5",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "255.255.255.255",
        "224.0.0.1",
        "192.0.2.10",
        "::1",
        "::",
        "fd00::1",
        "fe80::1%eth0",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:a00:5",
        "2002:7f00:1::1",  # 6to4 around 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 around 169.254.169.254
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo around 192.0.2.45
    ],
)
def test_non_public_addresses_are_named(address):
    assert address_problem(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:93.184.216.34"])
def test_public_addresses_pass(address):
    assert address_problem(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/x.jpg",
        "http://169.254.169.254/latest/meta-data/",
        "http://2130706433/",
        "http://0177.0.0.1/",
        "http://0x7f000001/",
        "http://127.1/",
        "http://0/",
        "http://[::1]/a.jpg",
        "http://[::ffff:127.0.0.1]/a.jpg",
        "http://user@10.0.0.5/a.jpg",
        "http://localhost/a.jpg",
        "http://LOCALHOST./a.jpg",
        "http://printer.localhost/a.jpg",
        "http://example.org:99999/a.jpg",
        "http://127.0.0.2%2e:8000/",
        "http://127%2e0%2e0%2e2/",
        "http://%31%32%37.0.0.2/",
        "http://127.0.0.2../",
        "http://shop..example/a.jpg",
        "javascript:alert(1)",
        "data:image/png;base64,AAAA",
        "file:///etc/passwd",
        "ftp://example.org/a.jpg",
    ],
)
def test_refused_by_the_url_alone(url):
    assert url_problem(url, allow_files=False, allowance=Allowance())


@pytest.mark.parametrize(
    "url",
    [
        "https://example.org/a.jpg",
        "http://93.184.216.34/a.jpg",
        "https://bücher.example/a.jpg",
        "http://my_cdn.example/",
    ],
)
def test_public_urls_pass(url):
    assert url_problem(url, allow_files=False, allowance=Allowance()) is None


def test_the_allowance_is_narrow():
    allowed = Allowance(["127.0.0.1:8000", "[::1]:9000"])
    assert url_problem("http://127.0.0.1:8000/x.jpg", False, allowed) is None
    assert url_problem("http://127.1:8000/x.jpg", False, allowed) is None  # the same address and port
    assert url_problem("http://127.0.0.1:8001/x.jpg", False, allowed)
    assert url_problem("http://127.0.0.2:8000/x.jpg", False, allowed)
    assert url_problem("http://[::1]:9000/", False, allowed) is None
    assert url_problem("file:///tmp/a.jpg", allow_files=True, allowance=Allowance()) is None
    assert url_problem("javascript:alert(1)", allow_files=True, allowance=allowed)
    demo = Allowance(["127.0.0.1:8123"])
    assert url_problem("http://127.0.0.1:8123/lot", False, allowed, others=demo)  # another spider's
    assert url_problem("http://127.0.0.1:8123/lot", False, demo, others=demo) is None
    with pytest.raises(ValueError, match="host:port"):
        Allowance(["127.0.0.1"])


class _Answers:
    """A name resolver that answers from a table, one answer per lookup (the last one repeats)."""

    def __init__(self, table):
        self.table = {k: list(v) for k, v in table.items()}

    def resolveHostName(self, receiver, host, port=0, address_types=None, semantics="TCP"):  # noqa: N802
        answers = self.table.get(host, [[]])
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        receiver.resolutionBegan(object())
        for ip in answer:
            cls = IPv6Address if ":" in ip else IPv4Address
            receiver.addressResolved(cls("TCP", ip, port))
        receiver.resolutionComplete()


class _Got:
    def __init__(self):
        self.addresses, self.done = [], False

    def resolutionBegan(self, resolution):  # noqa: N802
        pass

    def addressResolved(self, address):  # noqa: N802
        self.addresses.append(address.host)

    def resolutionComplete(self):  # noqa: N802
        self.done = True


def _resolver(table, allowed=(), cache=False):
    reactor = type("Reactor", (), {"nameResolver": _Answers(table)})()
    return PublicOnlyResolver(reactor, Allowance(allowed), cache=cache)


def _lookup(resolver, host, port=80):
    got = _Got()
    resolver.resolveHostName(got, host, port)
    assert got.done
    return got.addresses


def test_resolver_passes_public_answers_and_refuses_any_private_one():
    resolver = _resolver(
        {
            "shop.example": [["93.184.216.34", "2606:4700::1111"]],
            "evil.example": [["93.184.216.34", "10.0.0.5"]],
            "meta.example": [["169.254.169.254"]],
        }
    )
    assert _lookup(resolver, "shop.example") == ["93.184.216.34", "2606:4700::1111"]
    assert resolver.take_refusal("shop.example") is None
    assert _lookup(resolver, "evil.example") == []
    reason = resolver.take_refusal("evil.example")
    assert "10.0.0.5" in reason and "private" in reason
    assert resolver.take_refusal("evil.example") is None  # each refusal is taken once
    assert _lookup(resolver, "meta.example") == []
    assert "169.254.169.254" in resolver.take_refusal("META.example")


def test_resolver_judges_each_answer_so_rebinding_is_refused():
    resolver = _resolver({"rebind.example": [["93.184.216.34"], ["127.0.0.1"]]})
    assert _lookup(resolver, "rebind.example") == ["93.184.216.34"]
    assert _lookup(resolver, "rebind.example") == []
    assert "127.0.0.1" in resolver.take_refusal("rebind.example")


def test_resolver_lets_listed_pairs_through_and_only_them():
    resolver = _resolver({"registry.internal": [["10.1.2.3"]]}, allowed=["registry.internal:8443"])
    assert _lookup(resolver, "registry.internal", 8443) == ["10.1.2.3"]
    assert _lookup(resolver, "registry.internal", 0) == ["10.1.2.3"]  # a proxy-style lookup of the host
    assert _lookup(resolver, "registry.internal", 80) == []


def test_only_screened_public_answers_are_cached():
    resolver = _resolver(
        {
            "shop.example": [["93.184.216.34"], ["10.0.0.5"]],
            "registry.internal": [["10.1.2.3"], ["10.1.2.4"]],
        },
        allowed=["registry.internal:8443"],
        cache=True,
    )
    assert _lookup(resolver, "shop.example") == ["93.184.216.34"]
    assert _lookup(resolver, "shop.example", 443) == ["93.184.216.34"]  # the public answer, reused
    # An allowed host's private answer is never reused, not for its own port, not for another.
    assert _lookup(resolver, "registry.internal", 8443) == ["10.1.2.3"]
    assert _lookup(resolver, "registry.internal", 80) == []
    assert "10.1.2.4" in resolver.take_refusal("registry.internal")
