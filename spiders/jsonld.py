"""schema.org JSON-LD as pages really publish it: reading each ``<script type="application/ld+json">``
block leniently, walking the nodes of every block as one graph, resolving ``@id`` references and picking
the node that is the page's lot.

Shapes read (each with a fixture in ``tests/files/pages/``, listed in ``docs/crawling.md``):

* blocks: raw control characters inside strings; HTML comment and CDATA wrappers; ``//`` and ``/* */``
  comments; trailing commas and semicolons; several values in one block; several blocks per page;
  ``@graph``; a ``type`` attribute in any case or with parameters; a block written entity-escaped
  (``{&quot;@type&quot;: ...}``); PHP ``addslashes`` (``\\'``) and stray backslashes; JavaScript's
  ``undefined``, ``NaN`` and ``Infinity`` (null); a block over ``MAX_JSONLD`` characters is skipped
  unparsed and reported; values nested deeper than ``MAX_BRACKETS`` are cut (null) before parsing.
* nodes: entities nested under any property (``mainEntity``, ``itemOffered``, ``subjectOf``, ``about``,
  ``hasPart``, ...) down to ``MAX_DEPTH``; ``@type`` as a string or a list, short or as an IRI
  (``http://schema.org/Product``, ``https://schema.org/Product``, ``schema:Product``, ``s:Product`` where
  the ``@context`` maps ``s`` to schema.org), property names likewise; ``@list``/``@set`` objects as
  their lists; ``@id`` references resolved within the page (relative ones against the page URL), cycles
  cut.
* the lot: product-like nodes before bare Offers; the node of a wanted type that is the page's main
  entity (``mainEntity``/``about`` of a page node, ``mainEntityOfPage``, ``url`` or ``@id`` naming this
  page) before other lot nodes, and those before lot nodes in "related items" (``isRelatedTo``,
  ``isSimilarTo``, an ``ItemList``); an Offer whose ``itemOffered`` is a product is merged into that
  product; a ProductGroup before its variants (``hasVariant``, or ``isVariantOf`` naming it).

Nothing here raises on a page: what cannot be read is returned as a one-line problem.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import chompjs

__all__ = [
    "MAX_JSONLD",
    "MAX_DEPTH",
    "MAX_BRACKETS",
    "JsonLdGraph",
    "parse_block",
    "read_blocks",
    "schema_prefixes",
    "schema_term",
    "types_of",
]

MAX_JSONLD = 1_000_000  # characters: a larger block is not one lot's data, and parsing it costs
MAX_DEPTH = 16  # real JSON-LD nests a few levels; hostile pages nest thousands
MAX_BRACKETS = 64  # brackets deeper than this are cut from a block before it is parsed
MAX_NODES = 20_000  # dicts kept per page
MAX_LIST = 1_000  # items kept per list
MAX_VALUES = 50  # top-level values read from one block
MAX_LOTS = 20  # lot nodes returned per page: the first is the lot, the rest only alternatives
EMBED_DEPTH = 8  # levels of references followed when a node is copied out with its references
EMBED_BUDGET = 1_000  # dicts copied per node: references may form a DAG that doubles at each level

_SCHEMA_PREFIXES = (
    "http://schema.org/",
    "https://schema.org/",
    "http://www.schema.org/",
    "https://www.schema.org/",
    "schema:",
)
# Keys under which a node is the page's subject, or one of a list of other things.
_MAIN_KEYS = {"mainEntity", "about"}
_RELATED_KEYS = {
    "isRelatedTo",
    "isSimilarTo",
    "isAccessoryOrSparePartFor",
    "isConsumableFor",
    "itemListElement",
    "relatedLink",
    "significantLink",
    "workExample",
}
_LIST_TYPES = {"ItemList", "OfferCatalog", "BreadcrumbList", "CollectionPage", "SearchResultsPage"}
_OFFER_TYPES = {"Offer", "AggregateOffer"}

# Wrappers CMS templates put around the JSON so that old browsers or XHTML parsers skip it.
_LEADING = re.compile(r"\A\s*(?:<!--|/\*\s*<!\[CDATA\[\s*\*/|//\s*<!\[CDATA\[|<!\[CDATA\[)")
_TRAILING = re.compile(r"(?:-->|/\*\s*\]\]>\s*\*/|//\s*\]\]>|\]\]>)\s*\Z")
# What the lenient reading drops: comments, and commas before a closing bracket. Strings are matched
# too, whole, so that nothing inside one is touched ("https://..." is no comment).
# A string left open runs to the end (and each match is tried once: linear on hostile quotes).
_DROPPABLE = re.compile(
    r'"[^"\\]*(?:\\.?[^"\\]*)*(?:"|\Z)'
    r"|(?P<drop>//[^\n]*|/\*.*?(?:\*/|\Z)|,(?=\s*[}\]]))",  # an unclosed comment runs to the end
    re.S,
)
# A key written the JavaScript way: in single quotes, or bare.
_JS_KEY = re.compile(r"[{,]\s*(?:'[^'\n]{1,100}'|[A-Za-z_$@][\w$]{0,100})\s*:")
_SEPARATORS = " \t\r\n;,\ufeff"
# A block written into the page entity-escaped: {&quot;@type&quot;: ...}.
_ESCAPED_BLOCK = re.compile(r"\A[\s\[{]*&(?:quot|#0*34|#[xX]0*22);")
# Strings (whole, so that brackets inside them are text) and brackets, for measuring depth.
_BRACKETS = re.compile(r'"[^"\\]*(?:\\.?[^"\\]*)*(?:"|\Z)|[\[\]{}]', re.S)
# JavaScript values JSON lacks, read as null.
_JS_CONSTANTS = {"undefined", "NaN", "Infinity", "-Infinity", "+Infinity"}
_CUT_DEEP = f"nested over {MAX_BRACKETS} levels deep; the deeper values read as null"


def _constant(_: str) -> None:
    """NaN, Infinity and -Infinity, which Python's JSON reader accepts, read as null."""
    return None


def _integer(digits: str) -> int | float:
    """A JSON integer; one of thousands of digits (which ``int()`` refuses) is infinite."""
    return int(digits) if len(digits) < 1_000 else float("inf")


_READ = {"strict": False, "parse_constant": _constant, "parse_int": _integer}


def parse_block(text: str) -> tuple[list[Any], str | None]:
    """The JSON values of one JSON-LD block, and a one-line problem or None.

    A block written entity-escaped (``{&quot;@type&quot;: ...}``) is decoded first. Any bracketed value
    nested deeper than ``MAX_BRACKETS`` is replaced by null before parsing (recorded as a problem), so
    that no parser recurses on hostile depth. Strict JSON first (control characters allowed in strings,
    as extruct's reader allows them; NaN and Infinity read as null); then leniently: HTML comment and
    CDATA wrappers, JavaScript comments and trailing commas removed, values separated by ``;`` or ``,``
    read one after another; then repaired (``_repaired``). Values read before an unreadable part are
    kept, with the problem.
    """
    if len(text) > MAX_JSONLD:
        return [], f"{len(text):,} characters, over the {MAX_JSONLD:,} limit, skipped"
    if not text.strip():
        return [], None
    if _ESCAPED_BLOCK.match(_unwrapped(text)):
        text = html.unescape(text)
    text, cut = _shallow(text, MAX_BRACKETS)
    values, problem = _parse(text)
    if cut:
        problem = f"{_CUT_DEEP}; {problem}" if problem else _CUT_DEEP
    return values, problem


def _shallow(text: str, limit: int) -> tuple[str, bool]:
    """``text`` with every bracketed value that opens deeper than ``limit`` levels replaced by ``null``
    (one left open runs to the end), and whether any was. Strings are skipped whole, so brackets inside
    them are text. One pass, no recursion."""
    if text.count("[") + text.count("{") <= limit:
        return text, False
    out: list[str] = []
    depth, last, cut_at = 0, 0, -1
    for match in _BRACKETS.finditer(text):
        token = match.group(0)
        if token in "[{":
            depth += 1
            if depth == limit + 1:
                cut_at = match.start()
        elif token in "]}":
            if depth == 0:
                continue  # a stray closer: left to the lenient reading
            depth -= 1
            if depth == limit and cut_at >= 0:
                out += [text[last:cut_at], "null"]
                last, cut_at = match.end(), -1
    if cut_at >= 0:
        out += [text[last:cut_at], "null"]
        last = len(text)
    if not out:
        return text, False
    out.append(text[last:])
    return "".join(out), True


def _parse(text: str) -> tuple[list[Any], str | None]:
    try:
        return [json.loads(text, **_READ)], None
    except RecursionError:
        return [], "nested too deeply to read"
    except ValueError as exc:
        first = exc
    cleaned = _lenient(text)
    decoder = json.JSONDecoder(**_READ)
    values: list[Any] = []
    at, end = 0, len(cleaned)
    while len(values) < MAX_VALUES:
        while at < end and cleaned[at] in _SEPARATORS:
            at += 1
        if at >= end:
            break
        try:
            value, at = decoder.raw_decode(cleaned, at)
        except RecursionError:
            return values, "nested too deeply to read"
        except ValueError as exc:
            if values and not cleaned[at:].strip(_SEPARATORS + "}]"):
                break  # a stray closing bracket after the last value (extruct#87)
            if not values and (repaired := _repaired(_unwrapped(text))) is not None:
                return repaired
            reason = exc if values else first
            return values, f"not JSON even leniently: {_one_line(str(reason))}"
        values.append(value)
    return values, None


def _repaired(text: str) -> tuple[list[Any], str | None] | None:
    """What a block broken in the ways templates break it still says, with the repair named; None when
    it cannot be read at all. Tried in turn: quotes left unescaped inside a string (``12" high``, HTML
    attributes), PHP's ``addslashes`` (``\\'``) and stray backslashes (``C:\\path``), JavaScript's
    ``undefined`` (null), a comma missing between members, a block cut off before its brackets close, and
    JavaScript object syntax (single quotes, unquoted keys, read with chompjs)."""
    fixed, notes = _mend(text)
    try:
        value = json.loads(fixed, **_READ)
    except RecursionError:
        return None
    except ValueError:
        pass
    else:
        cut = {"a block cut off before its end closed", "an unclosed string closed"} & set(notes)
        # Repairs a lenient reader makes are no error of the page; a block cut short has lost its end.
        return [value], "cut off before its end; what it holds is read" if cut else None
    if not _JS_KEY.search(text):
        return None  # chompjs would read anything, an unrendered template too, as strings
    try:
        value = chompjs.parse_js_object(text)
    except (ValueError, RecursionError):
        return None
    return ([value], None) if isinstance(value, dict | list) else None


def _mend(text: str) -> tuple[str, list[str]]:
    """``text`` with inner quotes escaped, comments and trailing commas dropped, missing commas put in,
    ``\\'`` read as ``'`` and a backslash that escapes nothing JSON knows kept as a character,
    ``undefined``/``NaN``/``Infinity`` as null, and open strings and brackets closed; and the names of the
    repairs made.

    A quote ends a string only when what follows it can follow a string (``,`` ``:`` ``}`` ``]``, the end,
    or a line break and the next key); any other is taken as a character of the string. Two values side
    by side get a comma between them.
    """
    mender = _Mender(text)
    return mender.run(), sorted(mender.notes)


class _Mender:
    """One pass over a broken block (see ``_mend``), one character or token at a time."""

    def __init__(self, text: str):
        self.text, self.n = text, len(text)
        self.out: list[str] = []
        self.closers: list[str] = []
        self.notes: set[str] = set()
        self.in_string = False
        self.after_value = False  # the last thing written was a whole value or key

    def run(self) -> str:
        i = 0
        while i < self.n:
            if self.in_string:
                i = self._string_char(i)
            else:
                i = self._token(i)
                if i < 0:
                    break  # one whole value read, or a stray closing bracket after it
        if self.in_string:
            self.out.append('"')
            self.notes.add("an unclosed string closed")
        if self.closers:
            while self.out and self.out[-1].strip() in ("", ","):
                self.out.pop()
            if self.out and self.out[-1].strip() == ":":
                self.out.append("null")
            self.out.extend(reversed(self.closers))
            self.notes.add("a block cut off before its end closed")
        return "".join(self.out)

    def _string_char(self, i: int) -> int:
        text, c = self.text, self.text[i]
        if c == "\\":
            return self._escape(i)
        if c == '"':
            j = i + 1
            while j < self.n and text[j] in " \t\r\n":
                j += 1
            ends = j >= self.n or text[j] in ",:}]" or (text[j] == '"' and "\n" in text[i + 1 : j])
            if not ends:
                self.out.append('\\"')
                self.notes.add("quotes inside a string escaped")
                return i + 1
            self.in_string, self.after_value = False, True
        self.out.append(c)
        return i + 1

    def _escape(self, i: int) -> int:
        """A backslash in a string: a JSON escape kept; PHP's ``\\'`` a quote; any other (``C:\\path``,
        a lone one at the end) the backslash itself, the next character read as usual."""
        text = self.text
        following = text[i + 1] if i + 1 < self.n else ""
        if following and following in '"\\/bfnrt':
            self.out.append(text[i : i + 2])
            return i + 2
        if following == "u" and _HEX4.fullmatch(text, i + 2, i + 6):
            self.out.append(text[i : i + 6])
            return i + 6
        self.notes.add("backslashes read leniently")
        if following == "'":
            self.out.append("'")
            return i + 2
        self.out.append("\\\\")
        return i + 1

    def _token(self, i: int) -> int:
        text, c = self.text, self.text[i]
        if c in " \t\r\n":
            self.out.append(c)
            return i + 1
        if text.startswith(("//", "/*"), i):
            line = text[i + 1] == "/"
            stop = text.find("\n" if line else "*/", i + 2)
            return self.n if stop < 0 else stop + (1 if line else 2)
        if c == "," and _NEXT_CHAR.match(text, i + 1).group(1) in ("}", "]", ""):  # type: ignore[union-attr]
            return i + 1  # a trailing comma
        if self.after_value and c in '"{[':
            self.out.append(",")
            self.notes.add("missing commas put in")
        self.after_value = False
        if c in "}]":
            if not self.closers:
                return -1
            self.closers.pop()
            self.out.append(c)
            self.after_value = True
            return i + 1 if self.closers else -1
        if c not in '"{[,:':
            j = i
            while j < self.n and text[j] not in ' \t\r\n,:}]"{[':
                j += 1
            word = text[i:j]  # a number, true, false or null; undefined, NaN, Infinity as null
            self.out.append("null" if word in _JS_CONSTANTS else word)
            self.after_value = True
            return j if self.closers else -1
        if c == '"':
            self.in_string = True
        elif c in "{[":
            self.closers.append("}" if c == "{" else "]")
        self.out.append(c)
        return i + 1


_HEX4 = re.compile(r"[0-9a-fA-F]{4}")
_NEXT_CHAR = re.compile(r"\s*(.?)", re.S)  # the next character that is not white space, or ""


def _unwrapped(text: str) -> str:
    text = text.strip().lstrip("\ufeff")
    for _ in range(4):  # wrappers come nested: "<!-- //<![CDATA[ ... //]]> -->"
        stripped = _TRAILING.sub("", _LEADING.sub("", text)).strip()
        if stripped == text:
            break
        text = stripped
    return text


def _lenient(text: str) -> str:
    text = _unwrapped(text)
    return _DROPPABLE.sub(lambda m: "" if m.group("drop") is not None else m.group(0), text)


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]


def read_blocks(scripts: Iterable[str]) -> tuple[list[Any], list[str]]:
    """The values of every block, in page order, and one problem line per block skipped or partly
    unreadable (``JSON-LD block 2 of 3 ...``)."""
    scripts = list(scripts)
    values: list[Any] = []
    problems: list[str] = []
    for number, text in enumerate(scripts, 1):
        found, problem = parse_block(text)
        values += found
        if problem:
            problems.append(f"JSON-LD block {number} of {len(scripts)}: {problem}")
    return values, problems


def schema_term(name: Any, prefixes: frozenset[str] = frozenset()) -> str:
    """A schema.org type or property name without its vocabulary: ``https://schema.org/Product``,
    ``http://schema.org/Product/`` and ``schema:Product`` all give ``Product``, and so does ``s:Product``
    when ``s`` is one of ``prefixes`` (those the block's ``@context`` maps to schema.org); other strings
    are kept."""
    if not isinstance(name, str):
        return ""
    name = name.strip()
    for prefix in _SCHEMA_PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix) :].strip("/")
    if prefixes and ":" in name:
        prefix, _, term = name.partition(":")
        if prefix in prefixes and term and not term.startswith("//"):
            return term
    return name


_SCHEMA_VOCABULARIES = {
    "http://schema.org",
    "https://schema.org",
    "http://www.schema.org",
    "https://www.schema.org",
}


def schema_prefixes(context: Any) -> frozenset[str]:
    """The prefixes a JSON-LD ``@context`` (a string, an object or a list of those) maps to schema.org:
    ``{"s": "http://schema.org/"}`` and ``{"s": {"@id": "https://schema.org/"}}`` give ``{"s"}``."""
    found: set[str] = set()
    for item in (context if isinstance(context, list) else [context])[:20]:
        if not isinstance(item, dict):
            continue
        for key, value in list(item.items())[:200]:
            if isinstance(value, dict):
                value = value.get("@id")
            if (
                isinstance(key, str)
                and not key.startswith("@")
                and isinstance(value, str)
                and value.strip().rstrip("/#") in _SCHEMA_VOCABULARIES
            ):
                found.add(key.strip())
    return frozenset(found)


# schema.org names are case-sensitive, but templates write "product" and "imageObject" all the same.
_KNOWN_TYPES = {
    t.lower(): t
    for t in (
        *_LIST_TYPES,
        *_OFFER_TYPES,
        "Product", "IndividualProduct", "ProductGroup", "ProductModel", "VisualArtwork", "Sculpture",
        "CreativeWork",
        "ItemPage", "WebPage", "ImageObject", "Organization", "Person", "Brand", "PropertyValue",
        "PriceSpecification", "UnitPriceSpecification", "CompoundPriceSpecification", "Thing",
    )
}  # fmt: skip


def types_of(node: Any, prefixes: frozenset[str] = frozenset()) -> set[str]:
    """The short schema.org types of a node (``@type`` a string or a list of strings, in any letter
    case for the types lootwatch reads, compact IRIs with ``prefixes`` too), else empty."""
    if not isinstance(node, dict):
        return set()
    t = node.get("@type")
    items = t if isinstance(t, list) else [t]
    terms = (schema_term(x, prefixes) for x in items[:20])
    return {_KNOWN_TYPES.get(s.lower(), s) for s in terms if s}


@dataclass
class _Seen:
    """One place a node appears in the page, and what that place says of it."""

    node: dict[str, Any]
    order: int
    main: bool
    related: bool
    inside_lot: bool


@dataclass
class JsonLdGraph:
    """All JSON-LD (or extruct's JSON-LD-shaped microdata) values of one page as one graph.

    ``page_urls`` are the addresses of the page (its URL, canonical link, ``og:url``): relative ``@id``
    values resolve against the first, and a node whose ``mainEntityOfPage`` names one of them is the
    page's main entity.
    """

    values: list[Any]
    page_urls: list[str] = field(default_factory=list)
    wanted: frozenset[str] = frozenset()
    by_id: dict[str, dict[str, Any]] = field(default_factory=dict, init=False)
    seen: list[_Seen] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self._count = 0
        self._base = self.page_urls[0] if self.page_urls else ""
        self._pages = {_same_page(u) for u in self.page_urls if isinstance(u, str)}
        self.values = [self._normalise(v, 0, False, False, False) for v in self.values[:MAX_LIST]]

    # -- reading ---------------------------------------------------------------------------------

    def _normalise(
        self,
        value: Any,
        depth: int,
        main: bool,
        related: bool,
        inside_lot: bool,
        prefixes: frozenset[str] = frozenset(),
    ) -> Any:
        """A copy with short property names and types, bounded in depth, list length and node count;
        every dict is remembered with what its place says of it. ``{"@list": [...]}`` and
        ``{"@set": [...]}`` become their lists; compact IRIs whose prefix an ``@context`` on the way
        down maps to schema.org (``prefixes``) become short names."""
        value = _unlisted(value)
        if isinstance(value, list):
            if depth > MAX_DEPTH:
                return None
            items = (
                self._normalise(v, depth + 1, main, related, inside_lot, prefixes) for v in value[:MAX_LIST]
            )
            return [v for v in items if v is not None]
        if not isinstance(value, dict):
            return value
        if depth > MAX_DEPTH or self._count >= MAX_NODES:
            return None
        self._count += 1
        order = self._count
        if "@context" in value:
            prefixes = prefixes | schema_prefixes(value["@context"])
        types = types_of(value, prefixes)
        is_lot = bool(types & self.wanted)
        related = related or bool(types & _LIST_TYPES)
        node: dict[str, Any] = {}
        graph: list[Any] = []
        for key, item in list(value.items())[:200]:
            term = schema_term(key, prefixes)
            if term == "@type":
                node["@type"] = sorted(types)
            elif term == "@id":
                node["@id"] = self._absolute(item)
            elif term == "@graph":
                graph = item if isinstance(item, list) else [item]
            elif term and term != "@context":
                node[term] = self._normalise(
                    item,
                    depth + 1,
                    main=term in _MAIN_KEYS and not is_lot,
                    related=related or term in _RELATED_KEYS,
                    inside_lot=inside_lot or (is_lot and term != "itemOffered"),
                    prefixes=prefixes,
                )
        if graph:
            # @graph members are top-level nodes of the page, not parts of the object that holds them.
            node["@graph"] = self._normalise(graph, depth + 1, False, related, inside_lot, prefixes)
        self._remember(_Seen(node, order, main, related, inside_lot))
        return node

    def _remember(self, seen: _Seen) -> None:
        self.seen.append(seen)
        ident = seen.node.get("@id")
        if isinstance(ident, str) and ident:
            known = self.by_id.setdefault(ident, seen.node)
            if known is not seen.node:  # the same node described twice (often once whole, once by @id)
                for k, v in seen.node.items():
                    known.setdefault(k, v)

    def _absolute(self, ident: Any) -> str | None:
        if not isinstance(ident, str) or not ident.strip():
            return None
        try:
            return urljoin(self._base, ident.strip()) if self._base else ident.strip()
        except ValueError:  # a malformed IPv6 host and such
            return ident.strip()

    def resolve(self, node: Any) -> Any:
        """The node an ``{"@id": ...}`` reference names, if the page describes it; else the node."""
        if isinstance(node, dict) and isinstance(node.get("@id"), str):
            return self.by_id.get(node["@id"], node)
        return node

    def embed(self, node: Any, budget: list[int] | None = None) -> Any:
        """A copy of ``node`` with every reference replaced by the node it names, to ``EMBED_DEPTH``
        levels, a reference back to a node being copied left as it is (cycles); at most ``budget[0]``
        dicts copied (``EMBED_BUDGET`` unless given, a shared budget is spent)."""
        return self._embed(node, 0, frozenset(), budget if budget is not None else [EMBED_BUDGET])

    def _embed(self, value: Any, depth: int, path: frozenset[str], budget: list[int]) -> Any:
        if isinstance(value, list):
            if depth > EMBED_DEPTH or budget[0] <= 0:
                return None
            return [e for e in (self._embed(v, depth + 1, path, budget) for v in value) if e is not None]
        if not isinstance(value, dict):
            return value
        ident = value.get("@id") if isinstance(value.get("@id"), str) else None
        if ident in path or depth > EMBED_DEPTH or budget[0] <= 0:
            return {"@id": ident} if ident else None
        budget[0] -= 1
        full = self.by_id.get(ident, value) if ident else value
        inner = path | {ident} if ident else path
        return {k: self._embed(v, depth + 1, inner, budget) for k, v in full.items()}

    # -- choosing the lot ------------------------------------------------------------------------

    def nodes(self) -> list[dict[str, Any]]:
        """Every node of a wanted type, each once, references resolved and embedded, best lot first.

        Product-like nodes come before bare Offers (an Offer is the lot only when nothing else is); then
        the page's main entity (``mainEntity``/``about`` of a page node, ``mainEntityOfPage`` naming this
        page, or the node's own ``url`` or ``@id`` naming it), then other nodes in page order, then nodes
        that are parts of another lot, then related items. An Offer whose ``itemOffered`` is one of the
        others is merged into it as its ``offers`` (unless it has its own) instead of being listed, and a
        Product whose ``isVariantOf`` is a listed ProductGroup is placed after it and given to it as
        ``hasVariant`` (unless it lists its own); the group takes the better place of the two."""
        places: dict[int, list[Any]] = {}  # id(node) -> [rank, order, node]
        for seen in self.seen:
            node = self.resolve(seen.node)
            types = types_of(node)
            if not types & self.wanted or (types & _OFFER_TYPES and seen.inside_lot):
                continue  # not a lot, or a lot's own offer
            own_page = not (seen.related or seen.inside_lot) and self._is_this_page(node)
            if seen.main or own_page or self._names_page(node.get("mainEntityOfPage")):
                rank = 0
            else:
                rank = 3 if seen.related else 2 if seen.inside_lot else 1
            best = places.get(id(node))
            if best is None or (rank, seen.order) < (best[0], best[1]):
                places[id(node)] = [rank, seen.order, node]
        offers: dict[int, dict[str, Any]] = {}
        variants: dict[int, list[dict[str, Any]]] = {}
        for key, place in list(places.items()):
            node = place[2]
            item = self._offered(node) if types_of(node) & _OFFER_TYPES else None
            if item is not None and id(item) in places and id(item) != key:
                target = places[id(item)]
                target[:2] = min(target[:2], place[:2])
                offers.setdefault(id(item), {k: v for k, v in node.items() if k != "itemOffered"})
                del places[key]
                continue
            group = self._group_of(node)
            if group is not None and id(group) in places and id(group) != key:
                target = places[id(group)]
                target[:2] = min(target[:2], place[:2])
                place[0] = max(place[0], 2)
                variants.setdefault(id(group), []).append(node)
        product_like = self.wanted - _OFFER_TYPES

        def best_first(place: list[Any]) -> tuple[bool, int, int]:
            return (not types_of(place[2]) & product_like, place[0], place[1])

        result = []
        for _, _, node in sorted(places.values(), key=best_first)[:MAX_LOTS]:
            copy = self.embed(node)
            if id(node) in offers and not copy.get("offers"):
                copy["offers"] = self.embed(offers[id(node)])
            if id(node) in variants and not copy.get("hasVariant"):
                budget = [EMBED_BUDGET]
                copy["hasVariant"] = [self.embed(v, budget) for v in variants[id(node)][:MAX_LIST]]
            result.append(copy)
        return result

    def _group_of(self, node: dict[str, Any]) -> dict[str, Any] | None:
        """The ProductGroup a node's ``isVariantOf`` names, if it is one the page describes."""
        group = node.get("isVariantOf")
        if isinstance(group, list):
            group = next((g for g in group if isinstance(g, dict)), None)
        group = self.resolve(group)
        return group if isinstance(group, dict) and "ProductGroup" in types_of(group) else None

    def _is_this_page(self, node: dict[str, Any]) -> bool:
        """Whether the node's ``url`` or ``@id`` names this page (fragment, query, trailing slash,
        scheme and ``www.`` aside)."""
        for key in ("url", "@id"):
            value = node.get(key)
            if isinstance(value, list):
                value = next((v for v in value[:20] if isinstance(v, str)), None)
            if isinstance(value, str) and _same_page(self._absolute(value) or "") in self._pages:
                return True
        return False

    def _offered(self, offer: dict[str, Any]) -> dict[str, Any] | None:
        item = offer.get("itemOffered")
        if isinstance(item, list):
            item = next((i for i in item if isinstance(i, dict)), None)
        item = self.resolve(item)
        return item if isinstance(item, dict) else None

    def _names_page(self, value: Any) -> bool:
        if value is True:
            return True
        value = self.resolve(value)
        if isinstance(value, dict):
            value = value.get("@id") or value.get("url")
        if isinstance(value, list):
            value = next((v for v in value if isinstance(v, str)), None)
        return isinstance(value, str) and _same_page(self._absolute(value) or "") in self._pages


def _unlisted(value: Any) -> Any:
    """The items of a JSON-LD list or set object (``{"@list": [...]}``, ``{"@set": [...]}``) as a list;
    any other value as it is."""
    if isinstance(value, dict) and ("@list" in value or "@set" in value):
        inner = value.get("@list", value.get("@set"))
        return inner if isinstance(inner, list) else [inner]
    return value


def _same_page(url: str) -> str:
    """A URL compared as a page address: no scheme, ``www.``, query, fragment or trailing slash."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url
    host = parts.netloc.lower().removeprefix("www.")
    return f"{host}{parts.path.rstrip('/')}"
