"""Normalise listing text for matching, keeping a map back to the original characters.

What is folded, so that the way a seller types does not decide what is found:

- HTML character references are decoded (``&auml;``, ``&#228;``, ``&#xE4;``, also once more escaped as
  ``&amp;auml;``);
- case is folded and accents are stripped (NFKD, combining marks dropped): French and Italian typed
  without accents read the same as with them;
- with ``expand_umlauts`` (the red-flag engine), ä ö ü read as ae oe ue and ß as ss, the way German is
  typed without umlauts ("aegyptisch" = "ägyptisch"). Without it (the default, for the registry text
  search, whose SQLite index strips diacritics) ä reads as a;
- Arabic is reduced to its letter skeleton: diacritics (tashkeel) and tatweel removed, alef forms
  unified, ta marbuta read as ha and alef maksura as ya; the Persian and Urdu forms of Arabic letters
  (ی ې ۍ ێ ے, ک ڪ, ہ ۀ ۃ ھ ە) read as the Arabic ones (ي، ك، ه);
- Arabic-Indic and Persian digits (٠-٩, ۰-۹) read as 0-9, the Arabic comma, semicolon and question
  mark as , ; ?
- invisible characters that split a word without showing (soft hyphen, zero-width space and joiners,
  direction marks, byte-order mark) are dropped.

``normalise_with_spans`` gives, for every normalised character, the span of original characters it
came from, so that a match is reported as the words the seller wrote.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Sequence

__all__ = ["normalise", "normalise_with_map", "normalise_with_spans"]

_ARABIC = {
    "\u0623": "\u0627",
    "\u0625": "\u0627",
    "\u0622": "\u0627",
    "\u0671": "\u0627",  # alef forms
    "\u0629": "\u0647",  # ta marbuta -> ha
    "\u0649": "\u064a",  # alef maksura -> ya
    "\u0624": "\u0648",
    "\u0626": "\u064a",  # hamza on waw / ya
    # Persian and Urdu keyboards type these for the Arabic letters
    "\u06cc": "\u064a",  # farsi yeh
    "\u06d0": "\u064a",  # yeh "e"
    "\u06cd": "\u064a",  # yeh with tail
    "\u06ce": "\u064a",  # yeh with small v
    "\u06d2": "\u064a",  # yeh barree (ۓ decomposes to it)
    "\u06a9": "\u0643",  # keheh
    "\u06aa": "\u0643",  # swash kaf
    "\u06c1": "\u0647",  # heh goal (ۂ decomposes to it)
    "\u06be": "\u0647",  # heh doachashmee
    "\u06c3": "\u0647",  # teh marbuta goal
    "\u06d5": "\u0647",  # ae (ۀ decomposes to it)
    # Arabic punctuation, so that clauses split the same way
    "\u060c": ",",
    "\u061b": ";",
    "\u061f": "?",
    "\u066b": ".",  # decimal separator
    "\u066c": ",",  # thousands separator
}
_ARABIC.update({chr(0x0660 + d): str(d) for d in range(10)})  # Arabic-Indic digits
_ARABIC.update({chr(0x06F0 + d): str(d) for d in range(10)})  # Persian digits
_DROP = {"\u0640", "\u00ad", "\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u2060", "\ufeff"}
_UMLAUT_BASE = set("aouAOU")
_MAX_EXPANSION = 4  # a compatibility ligature (U+FDFA) would expand to 18 characters: read as a space
# One escaping more is common ("&amp;auml;" from a template that escaped twice): decode both.
_ENTITY = re.compile(r"&(?:amp;)*(#[0-9]{1,8};?|#[xX][0-9a-fA-F]{1,8};?|[A-Za-z][A-Za-z0-9]{1,31};?)")


def _fold_char(ch: str, expand_umlauts: bool) -> str:
    if ch in _DROP:
        return ""
    mapped = _ARABIC.get(ch)
    if mapped is not None:
        return mapped
    decomposed = unicodedata.normalize("NFKD", ch)
    if (
        expand_umlauts
        and len(decomposed) == 2
        and decomposed[1] == "\u0308"
        and decomposed[0] in _UMLAUT_BASE
    ):
        return decomposed[0].lower() + "e"  # ä ö ü as German types them without umlauts
    out = []
    for c in decomposed:
        if unicodedata.combining(c) or "\u064b" <= c <= "\u065f" or c == "\u0670" or c in _DROP:
            continue
        out.append(_ARABIC.get(c, c))
    folded = "".join(out).casefold().replace("\u2019", "'").replace("\u2018", "'")
    return folded if len(folded) <= _MAX_EXPANSION else " "


class _Folder:
    """The folded form of every character seen so far, as a ``str.translate`` table, and which of
    them do not fold to exactly one character. Bounded: past ``_CACHE_LIMIT`` characters (text in
    every script at once) new ones are folded for the call only."""

    def __init__(self, expand_umlauts: bool):
        self.expand = expand_umlauts
        self.table: dict[int, str] = {}
        self.known: set[str] = set()
        self.odd: set[str] = set()

    def fold(self, ch: str) -> str:
        out = self.table.get(ord(ch))
        return out if out is not None else self.tables({ch})[0][ord(ch)]

    def tables(self, used: set[str]) -> tuple[dict[int, str], set[str]]:
        new = used - self.known
        if new and len(self.known) + len(new) > _CACHE_LIMIT:
            table = {ord(c): _fold_char(c, self.expand) for c in used}
            return table, {c for c in used if len(table[ord(c)]) != 1}
        for c in new:
            folded = self.table[ord(c)] = _fold_char(c, self.expand)
            if len(folded) != 1:
                self.odd.add(c)
            self.known.add(c)
        return self.table, used & self.odd


_CACHE_LIMIT = 20_000
_FOLDERS = (_Folder(False), _Folder(True))


def _fold(ch: str, expand_umlauts: bool) -> str:
    return _FOLDERS[expand_umlauts].fold(ch)


def _slow(text: str, expand_umlauts: bool) -> tuple[list[str], list[int], list[int]]:
    """Normalised pieces, one per original character, with each one's [start, end); for text with
    a combining diaeresis, which needs the letter before it."""
    pieces: list[str] = []
    previous = ""
    for ch in text:
        if expand_umlauts and ch == "\u0308" and previous in _UMLAUT_BASE:
            pieces.append("e")  # ä typed as a + combining diaeresis
        else:
            pieces.append(_fold(ch, expand_umlauts))
        previous = ch
    return pieces, list(range(len(text))), list(range(1, len(text) + 1))


def _plain(text: str, offset: int, expand_umlauts: bool) -> tuple[str, Sequence[int], Sequence[int]]:
    """Normalise text without character references: one ``str.translate`` over the characters it
    uses, and the spans built by whole stretches between the characters that do not fold to exactly
    one (ß, ä with umlauts expanded, dropped marks)."""
    if expand_umlauts and "\u0308" in text:
        pieces, starts, ends = _slow(text, expand_umlauts)
        return _spread(pieces, [s + offset for s in starts], [e + offset for e in ends])
    table, odd = _FOLDERS[expand_umlauts].tables(set(text))
    norm = text.translate(table)
    if not odd:
        return norm, range(offset, offset + len(text)), range(offset + 1, offset + len(text) + 1)
    starts: list[int] = []
    ends: list[int] = []
    pos = 0
    for m in re.finditer("[" + "".join(re.escape(c) for c in odd) + "]", text):
        i = m.start()
        starts.extend(range(offset + pos, offset + i))
        ends.extend(range(offset + pos + 1, offset + i + 1))
        n = len(table[ord(text[i])])
        starts.extend([offset + i] * n)
        ends.extend([offset + i + 1] * n)
        pos = i + 1
    starts.extend(range(offset + pos, offset + len(text)))
    ends.extend(range(offset + pos + 1, offset + len(text) + 1))
    return norm, starts, ends


def _spread(pieces: list[str], starts: list[int], ends: list[int]) -> tuple[str, list[int], list[int]]:
    out_starts: list[int] = []
    out_ends: list[int] = []
    for piece, a, b in zip(pieces, starts, ends, strict=True):
        out_starts.extend([a] * len(piece))
        out_ends.extend([b] * len(piece))
    return "".join(pieces), out_starts, out_ends


def normalise_with_spans(
    text: str, *, expand_umlauts: bool = False
) -> tuple[str, Sequence[int], Sequence[int]]:
    """The normalised text and, for each of its characters, the start and end (exclusive) of the
    original characters it came from: ``text[starts[i]:ends[j - 1]]`` are the seller's words for the
    normalised ``norm[i:j]``. Linear in the length of ``text``."""
    if text.isascii() and "&" not in text:
        return text.lower(), range(len(text)), range(1, len(text) + 1)  # the common case, kept fast
    if "&" not in text:
        return _plain(text, 0, expand_umlauts)
    norms: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    pos = 0
    for m in (*_ENTITY.finditer(text), None):
        stop = m.start() if m else len(text)
        if stop > pos:
            n, a, b = _plain(text[pos:stop], pos, expand_umlauts)
            norms.append(n)
            starts.extend(a)
            ends.extend(b)
        if m is None:
            break
        decoded = html.unescape(m.group(0))
        if decoded == m.group(0):  # not a character reference after all ("AT&Tx"): as it is
            n, a, b = _plain(decoded, m.start(), expand_umlauts)
        else:
            if decoded.startswith("&") and m.group(0)[1:4] == "amp" and m.group(0).count("&") == 1:
                decoded = html.unescape(decoded)  # escaped once more than needed: "&amp;auml;"
            n = "".join(_fold(c, expand_umlauts) for c in decoded)
            a, b = [m.start()] * len(n), [m.end()] * len(n)
        norms.append(n)
        starts.extend(a)
        ends.extend(b)
        pos = m.end()
    return "".join(norms), starts, ends


def normalise_with_map(text: str, *, expand_umlauts: bool = False) -> tuple[str, list[int]]:
    """The normalised text and, for each of its characters, the index of the first original character
    it came from."""
    norm, starts, _ = normalise_with_spans(text, expand_umlauts=expand_umlauts)
    return norm, list(starts)


def normalise(text: str, *, expand_umlauts: bool = False) -> str:
    """Case-, accent-, entity-, digit- and Arabic-letter-form-insensitive form of ``text``."""
    if text.isascii() and "&" not in text:
        return text.lower()
    return normalise_with_spans(text, expand_umlauts=expand_umlauts)[0]
