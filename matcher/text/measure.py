"""Measurements in listing and registry text, read into centimetres and compared.

Dealers and registries give the same object's size in different units and forms: "H. 12.5 cm",
"12 x 8 x 3 cm", "Höhe 12,5 cm", "125 mm", "4.9 in", '4 7/8"'. Only numbers with a length unit count;
weights, years and lot numbers do not.
"""

from __future__ import annotations

import re
from fractions import Fraction

__all__ = ["lengths", "agreement", "CM_PER_UNIT"]

CM_PER_UNIT = {
    "mm": 0.1,
    "cm": 1.0,
    "m": 100.0,
    "in": 2.54,
    "inch": 2.54,
    "inches": 2.54,
    '"': 2.54,
    "\u2033": 2.54,
    "zoll": 2.54,
    "pouces": 2.54,
    "pouce": 2.54,
    "pollici": 2.54,
    "pulgadas": 2.54,
    "duim": 2.54,
    "سم": 1.0,
    "مم": 0.1,
}
_NUMBER = r"\d+(?:[.,]\d+)?(?:\s+\d/\d{1,2})?"
_UNIT = r"(mm|cm|m|inches|inch|in|zoll|pouces|pouce|pollici|pulgadas|duim|\"|\u2033|سم|مم)"
_SERIES = re.compile(
    rf"(?<![\w.,])({_NUMBER})((?:\s*(?:x|\u00d7|by|par|per|bij|por)\s*{_NUMBER}){{0,3}})\s*{_UNIT}(?!\w)",
    re.IGNORECASE,
)
_ANY_NUMBER = re.compile(_NUMBER)
_PROSE_IN = re.compile(r"\s+(?!(?:high|tall|long|wide|deep|diam|across)\b)[^\W\d_]", re.IGNORECASE)
MAX_CM = 1000.0  # ten metres: beyond that it is not an object's size


def lengths(text: str | None) -> list[float]:
    """Every length in ``text`` in centimetres, rounded to 0.01 cm, largest first, without repeats."""
    if not text:
        return []
    found: set[float] = set()
    for m in _SERIES.finditer(text):
        unit = m.group(3).lower()
        if unit == "in" and _PROSE_IN.match(text, m.end()):
            continue  # "3 in a box", "1990 in London": the word, not the unit
        factor = CM_PER_UNIT[unit]
        for number in _ANY_NUMBER.findall(m.group(1) + " " + m.group(2)):
            value = _value(number) * factor
            if 0 < value <= MAX_CM:
                found.add(round(value, 2))
    return sorted(found, reverse=True)


def _value(number: str) -> float:
    whole, _, frac = number.partition(" ")
    value = float(whole.replace(",", "."))
    if frac:
        value += float(Fraction(frac))
    return value


def agreement(a: list[float], b: list[float]) -> tuple[int, int]:
    """(dimensions that agree, dimensions given by the side that gives more).

    Two lengths agree within 4 % or 0.15 cm, whichever is more: a dealer's 4.9 in is a registry's
    12.5 cm, and a rounded 12 cm is not 12.9 cm. Each length is used once.
    """
    if not a or not b:
        return 0, max(len(a), len(b))
    unused = list(b)
    matched = 0
    for x in a:
        best = min(unused, key=lambda y: abs(x - y), default=None)
        if best is not None and abs(x - best) <= max(0.04 * max(x, best), 0.15):
            unused.remove(best)
            matched += 1
    return matched, max(len(a), len(b))
