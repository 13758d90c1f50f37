"""Red-flag screening of listing text: a 0-100 risk score and the reasons for it, each one readable.

Rules live in ``seeds/flags/*.yaml`` (one family per file, every rule with its source). The engine
finds each rule's terms in the normalised text (``textnorm``), keeps the longest of overlapping matches,
drops origins and object types that are negated ("not from Iraq"), reads the years in the text against
the cut-off dates (Iraq 6 Aug 1990, Syria 15 Mar 2011, UNESCO 1970), and adds up the weights, each
family capped, evidence that lowers the risk subtracted. Nothing scores above 0 without a reason.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from datetime import date
from functools import cache
from importlib.resources import files
from pathlib import Path

import yaml

from .textnorm import normalise, normalise_with_map

__all__ = ["Reason", "Screening", "FlagEngine", "REVIEW_THRESHOLD", "default_engine"]

REVIEW_THRESHOLD = 50
ENGINE_VERSION = "flags-1"
# Points are learned from labelled listings (bench/learn_flag_weights.py writes them here and into the
# YAML files): the score is 50 + 12 x the log-odds that an analyst should look, so 50 is even odds.
# An object has one origin and one type: of several origin (or object type) reasons only the strongest
# counts ("Palmyra" beside "Near East" is one origin, not two). Without a reason that ties the object to
# a Red-List region (an origin, an object type of few countries' Red Lists, desert patina) the score
# stops at NO_REGION_CAP: provenance and digging wording alone on a Roman coin is no review.
NO_REGION_CAP = 45
REGION_RULES = {
    "digging.desert",
    "category.cuneiform",
    "category.alabaster_head",
    "category.inscribed_stone",
    "category.manuscript",
}
STRONGEST_ONLY = {"origin", "category"}
ANTIQUITY_FAMILIES = {"category", "origin", "digging"}
NEGATABLE = {"category", "origin"}
UNVERIFIED_WEIGHT = 30
AFTER_UNESCO_WEIGHT = 1
DOCUMENTED_EARLY_WEIGHT = -26
AFTER_COUNTRY_WEIGHT = 1

# Feminine, plural and relative endings of Arabic adjectives and nouns (after normalisation, ة is ه).
ARABIC_SUFFIXES = "يه|يين|يون|ين|ون|ات|يات|ه"
_NEGATION = re.compile(
    r"(?<!\w)(?:not|no|never|non|nicht|kein|keine|keinen|pas|ni|niet|geen|nunca|sin|ohne|sans|senza|zonder|"
    r"ليس|لا|غير|ليست)(?!\w)"
)
_YEAR = re.compile(r"(?<![\d.,])(1[89]\d\d|20[0-2]\d)(?:'?s)?(?![\d.,]\d)")
_ANCIENT = re.compile(
    r"^\s*(?:-\s*\d{2,4}\s*)?(?:bc|b\.c|bce|ad\b|a\.d|ce\b|v\.\s*chr|n\.\s*chr|av\.\s*j|ap\.\s*j|"
    r"a\.\s*c|d\.\s*c|ق\s*\.?\s*م|م\b)"
)
_NOT_A_YEAR = re.compile(r"^\s*(?:cm|mm|m\b|g\b|gr|kg|in\b|inch|€|eur|usd|chf|gbp|\$|£)")
_CURRENCY_BEFORE = re.compile(r"(?:€|eur|usd|chf|gbp|\$|£|price|prix|preis|prezzo|precio|prijs)\s*:?\s*$")
_DECADES = re.compile(
    r"(?:(?<!\w)(\d{2})er\s*jahre|annees\s*'?(\d{2})(?!\d)|anni\s*'?(\d{2})(?!\d)|jaren\s*'?(\d{2})(?!\d)|"
    r"anos\s*'?(\d{2})(?!\d)|(?<![\d\w])'(\d{2})s)"
)
_ARABIC_DECADES = {
    "الستينيات": 1960,
    "السبعينيات": 1970,
    "الثمانينيات": 1980,
    "التسعينيات": 1990,
    "الستينات": 1960,
    "السبعينات": 1970,
    "الثمانينات": 1980,
    "التسعينات": 1990,
}


@dataclass(frozen=True)
class Reason:
    """Why a listing was flagged: the rule, its family, the seller's words and a one-line explanation."""

    rule: str
    family: str
    text: str
    start: int
    end: int
    weight: int
    why: str

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Screening:
    """The risk score of one listing and the reasons that add up to it."""

    score: int
    reasons: list[Reason] = field(default_factory=list)

    @property
    def review(self) -> bool:
        return self.score >= REVIEW_THRESHOLD

    def as_dict(self) -> dict:
        return {"score": self.score, "reasons": [r.as_dict() for r in self.reasons]}


@dataclass(frozen=True)
class Rule:
    id: str
    family: str
    weight: int
    why: str
    source: str
    countries: tuple[str, ...]
    regex: re.Pattern


class FlagEngine:
    """All rules and cut-offs of one vocabulary folder, compiled once."""

    def __init__(self, folder: Path | None = None):
        folder = Path(folder) if folder else Path(str(files("seeds").joinpath("flags")))
        self.rules: list[Rule] = []
        digest = hashlib.sha256(ENGINE_VERSION.encode())
        for path in sorted(folder.glob("*.yaml")):
            raw = path.read_text(encoding="utf-8")
            digest.update(raw.encode())
            data = yaml.safe_load(raw)
            if path.name == "cutoffs.yaml":
                self.cutoffs = data
                continue
            for r in data["rules"]:
                self.rules.append(
                    Rule(
                        r["id"],
                        data["family"],
                        int(r["weight"]),
                        r["why"],
                        r["source"],
                        tuple(r.get("countries", ())),
                        _compile(r),
                    )
                )
        self.version = f"{ENGINE_VERSION}:{digest.hexdigest()[:12]}"  # changes with any vocabulary edit

    def screen(
        self, title: str | None = "", description: str | None = "", provenance: str | None = ""
    ) -> Screening:
        """Score one listing's text."""
        text = "\n".join(t for t in (title, description, provenance) if t)
        norm, where = normalise_with_map(text)
        found = self._matches(norm)
        reasons: list[Reason] = []
        countries: set[str] = set()
        counted: set[str] = set()
        for rule, start, end in found:
            if rule.id in counted:
                continue  # a rule counts once, at its first words that are not negated
            span = (text[where[start] : where[end - 1] + 1], where[start], where[end - 1] + 1)
            if rule.family in NEGATABLE and _negated(norm, start):
                reasons.append(Reason(rule.id, rule.family, *span, 0, f"Not counted, negated. {rule.why}"))
                continue
            counted.add(rule.id)
            countries.update(rule.countries)
            reasons.append(Reason(rule.id, rule.family, *span, rule.weight, rule.why))
        reasons += self._dates(text, norm, where, countries, reasons)
        return Screening(_score(reasons), reasons)

    def _matches(self, norm: str) -> list[tuple[Rule, int, int]]:
        spans = [(rule, m.start(), m.end()) for rule in self.rules for m in rule.regex.finditer(norm)]
        spans.sort(key=lambda s: (-(s[2] - s[1]), s[1], s[0].id))
        taken: list[tuple[int, int]] = []
        kept = []
        for rule, start, end in spans:
            if all(end <= a or start >= b for a, b in taken):
                taken.append((start, end))
                kept.append((rule, start, end))
        return sorted(kept, key=lambda s: s[1])

    def _dates(
        self, text: str, norm: str, where: list[int], countries: set[str], reasons: list[Reason]
    ) -> list[Reason]:
        families = {r.family for r in reasons if r.weight > 0}
        if not families & ANTIQUITY_FAMILIES:
            return []
        out: list[Reason] = []
        years = _years(norm)
        earliest = min(years) if years else None
        unesco = self.cutoffs["unesco"]
        unesco_year = _as_date(unesco["date"]).year
        # FIELD.md: no date before 1970 and no document means no verifiable provenance, whatever the words.
        if not any(r.family == "evidence" for r in reasons) and (
            earliest is None or earliest[0] > unesco_year
        ):
            out.append(
                Reason(
                    "provenance.unverified",
                    "unverified",
                    "",
                    0,
                    0,
                    UNVERIFIED_WEIGHT,
                    "No document and no date before 1970: nothing in the listing can be checked",
                )
            )
        if earliest is None:
            return out
        year, start, end = earliest
        span = (text[where[start] : where[end - 1] + 1], where[start], where[end - 1] + 1)
        for code in sorted(countries):
            cut = self.cutoffs["countries"].get(code)
            if cut and year >= _as_date(cut["date"]).year:
                why = f"Earliest date in the text is {year}. {cut['why']}"
                return [*out, Reason(f"date.after_cutoff.{code}", "date", *span, AFTER_COUNTRY_WEIGHT, why)]
        if year > unesco_year:
            why = f"Earliest date in the text is {year}. {unesco['why']}"
            out.append(Reason("date.after_unesco", "date", *span, AFTER_UNESCO_WEIGHT, why))
        elif any(r.family == "evidence" and r.weight < 0 for r in reasons):
            why = f"Documented, and its earliest date ({year}) predates the 1970 UNESCO Convention"
            out.append(
                Reason("evidence.documented_before_1970", "evidence", *span, DOCUMENTED_EARLY_WEIGHT, why)
            )
        return out


def _compile(rule: dict) -> re.Pattern:
    if "pattern" in rule:
        return re.compile(rule["pattern"])  # written in normalised form: lower case, no accents
    latin, arabic = [], []
    for lang, terms in rule["terms"].items():
        for term in terms:
            t = normalise(str(term)).strip()
            piece = re.escape(t.rstrip("*")).replace(r"\ ", r"\s+").replace(r"\-", r"[-\s]?")
            piece += r"\w*" if t.endswith("*") else ""
            (arabic if lang == "ar" else latin).append(piece)
    parts = []
    if latin:
        parts.append(r"(?<!\w)(?:" + "|".join(sorted(set(latin), key=len, reverse=True)) + r")(?!\w)")
    if arabic:
        # Arabic joins the conjunction, prepositions and article to the word: وبالعراق.
        parts.append(
            r"(?<!\w)(?:[وفبلك]{0,2}(?:ال)?)(?:"
            + "|".join(sorted(set(arabic), key=len, reverse=True))
            + r")(?:"
            + ARABIC_SUFFIXES
            + r")?(?!\w)"
        )
    return re.compile("|".join(parts))


def _negated(norm: str, start: int) -> bool:
    """A negation among the three words before, within the same clause ("not from Iraq")."""
    before = re.split(r"[.;,:!?\n()]", norm[max(0, start - 40) : start])[-1]
    words = re.findall(r"\w+", before)[-3:]
    return any(_NEGATION.fullmatch(w) for w in words)


def _years(norm: str) -> list[tuple[int, int, int]]:
    """(year, start, end) of every calendar year or decade in the text that is not an ancient date,
    a price or a measurement."""
    out = []
    for m in _YEAR.finditer(norm):
        after, before = norm[m.end() : m.end() + 14], norm[max(0, m.start() - 12) : m.start()]
        if _ANCIENT.match(after) or _NOT_A_YEAR.match(after) or _CURRENCY_BEFORE.search(before):
            continue
        out.append((int(m.group(1)), m.start(), m.end()))
    for m in _DECADES.finditer(norm):
        two = int(next(g for g in m.groups() if g))
        out.append(((1900 if two >= 30 else 2000) + two, m.start(), m.end()))
    for word, year in _ARABIC_DECADES.items():
        for m in re.finditer(normalise(word), norm):
            out.append((year, m.start(), m.end()))
    return out


def _score(reasons: list[Reason]) -> int:
    """The sum of the reasons' points, the strongest only of the origins and of the object types, 0-100;
    at most NO_REGION_CAP without a Red-List region."""
    strongest: dict[str, int] = {}
    total = 0
    for r in reasons:
        if r.family in STRONGEST_ONLY and r.weight > 0:
            strongest[r.family] = max(strongest.get(r.family, 0), r.weight)
        else:
            total += r.weight
    total += sum(strongest.values())
    if not any(r.weight > 0 and (r.family == "origin" or r.rule in REGION_RULES) for r in reasons):
        total = min(total, NO_REGION_CAP)
    return max(0, min(100, total))


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


@cache
def default_engine() -> FlagEngine:
    """The engine over the bundled vocabularies, compiled once per process."""
    return FlagEngine()
