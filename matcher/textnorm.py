"""Normalise listing text for matching, keeping a map back to the original characters.

Case is folded, accents are stripped (NFKD, combining marks dropped), and Arabic is reduced to its
letter skeleton: diacritics (tashkeel) and tatweel removed, alef forms unified, ta marbuta read as ha and
alef maksura as ya. The map lets every match be reported as the words the seller wrote.
"""

from __future__ import annotations

import unicodedata

__all__ = ["normalise", "normalise_with_map"]

_ARABIC = {
    "\u0623": "\u0627",
    "\u0625": "\u0627",
    "\u0622": "\u0627",
    "\u0671": "\u0627",  # alef forms
    "\u0629": "\u0647",  # ta marbuta -> ha
    "\u0649": "\u064a",  # alef maksura -> ya
    "\u0624": "\u0648",
    "\u0626": "\u064a",  # hamza on waw / ya
}
_DROP = {"\u0640"}  # tatweel


def _fold(ch: str) -> str:
    if ch in _DROP:
        return ""
    if ch in _ARABIC:
        return _ARABIC[ch]
    out = []
    for c in unicodedata.normalize("NFKD", ch):
        if unicodedata.combining(c) or "\u064b" <= c <= "\u065f" or c == "\u0670":
            continue
        out.append(c)
    return "".join(out).casefold().replace("\u2019", "'").replace("\u2018", "'")


def normalise_with_map(text: str) -> tuple[str, list[int]]:
    """The normalised text and, for each of its characters, the index of the original character."""
    chars: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        for c in _fold(ch):
            chars.append(c)
            where.append(i)
    return "".join(chars), where


def normalise(text: str) -> str:
    """Case-, accent- and Arabic-letter-form-insensitive form of ``text``."""
    return "".join(_fold(ch) for ch in text)
