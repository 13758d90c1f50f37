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
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from functools import cache
from importlib.resources import files
from itertools import accumulate
from pathlib import Path

import yaml

from .textnorm import normalise, normalise_with_spans

__all__ = ["Reason", "Screening", "FlagEngine", "REVIEW_THRESHOLD", "MAX_SCREENED", "default_engine"]

REVIEW_THRESHOLD = 50
ENGINE_VERSION = "flags-4"
# Points are learned from labelled listings (bench/learn_flag_weights.py writes them here and into the
# YAML files): the score is 50 + SCORE_SCALE x the log-odds that an analyst should look, so 50 is even
# odds and every SCORE_SCALE points more multiply the odds by e.
# An object has one origin and one type: of several origin (or object type) reasons only the strongest
# counts ("Palmyra" beside "Near East" is one origin, not two). Without a reason that ties the object to
# a Red-List region (an origin, an object type of few countries' Red Lists, desert patina) the score
# stops at NO_REGION_CAP: provenance and digging wording alone on a Roman coin is no review.
SCORE_SCALE = 8  # points per unit of log-odds, chosen by the learning script's cross-validation
NO_REGION_CAP = 45
REGION_RULES = {
    "digging.desert",
    "category.cuneiform",
    "category.cylinder_seal",
    "category.alabaster_head",
    "category.inscribed_stone",
    "category.manuscript",
}
STRONGEST_ONLY = {"origin", "category"}
ANTIQUITY_FAMILIES = {"category", "origin", "digging"}
NEGATABLE = {"category", "origin"}
# Evidence that says what the object is (a replica, a modern make, a recent or Iranian object) says
# nothing when negated: "Not a replica!", "definitely not a modern reproduction".
NEGATABLE_RULES = {
    "evidence.replica",
    "evidence.modern",
    "evidence.modern_make",
    "evidence.recent_work",
    "evidence.iranian_origin",
}
UNVERIFIED_WEIGHT = 29
AFTER_UNESCO_WEIGHT = 7
BEFORE_CUTOFF_WEIGHT = -16
UNNAMED_EARLY_WEIGHT = -20
AFTER_COUNTRY_WEIGHT = 13
# Evidence rules that are not a document of the object's history: they say what the object is (an
# Iranian culture, a 19th-century date), not that anything about it can be checked; they tie no date.
NOT_A_DOCUMENT = {"evidence.iranian_origin", "evidence.recent_work", "evidence.modern_make"}
# Feminine, plural and relative endings of Arabic adjectives and nouns (after normalisation, ة is ه).
ARABIC_SUFFIXES = "يه|يين|يون|ين|ون|ات|يات|ه"
_NEGATION = re.compile(
    r"(?<!\w)(?:not|no|never|non|nicht|kein|keine|keinen|pas|ni|niet|geen|nunca|sin|ohne|sans|senza|zonder|"
    r"ليس|لا|غير|ليست)(?!\w)"
)
# Something must say the object is an antiquity before "unverified" and the date reasons apply, and
# before a score can reach review: an object type or a digging reason, an origin named as a culture
# ("Sumerian", "Khmer", "Ptolemaic") rather than a modern country ("Egyptian cotton", "Afghan rug"), or
# beside such an origin one of these words: ancient, antique and their forms, an antiquity or
# archaeology word, a dynasty, a prehistoric or ancient period (Neolithic, Bronze Age, Iron Age,
# Hellenistic, Byzantine), a millennium, a date BC/AD ("v. Chr.", "av. J.-C.", "a.C.", "ق.م"), or a
# century before the 18th.
_ANTIQUITY = re.compile(
    r"(?<!\w)(?:ancient|antiques?|antiquit(?:y|ies|e|es)|antik\w*|antich[eiao]|antichita|antiguos?|antiguas?|"
    r"antiguedad\w*|antieke?|oudheid|archa?e?olog\w*|archeolog\w*|arqueolog\w*|(?:pre|proto)?dynast\w*|(?:pre|proto)?dinast\w*|"
    r"neolith\w*|neolitic\w*|chalcolithi\w*|paleolithi\w*|palaeolithi\w*|bronze\s+age|iron\s+age|"
    r"stone\s+age|(?:jung|alt|mittel)?steinzeit\w*|bronzezeit\w*|eisenzeit\w*|age\s+du\s+(?:bronze|fer)|"
    r"eta\s+del\s+(?:bronzo|ferro)|edad\s+del\s+(?:bronce|hierro)|bronstijd|ijzertijd|hellenisti\w*|"
    r"byzantin\w*|bizantin\w*|millenni\w*|millenaire\w*|milenio\w*|jahrtausend\w*|"
    r"[وفبلك]{0,2}(?:ال)?(?:اثري|اثار|قديم)(?:" + ARABIC_SUFFIXES + r")?)(?!\w)"
    r"|\d\s*(?:bc|b\.\s*c|bce|ad|a\.\s*d|v\.\s*chr|n\.\s*chr|av\.\s*j|ap\.\s*j|a\.\s*c|d\.\s*c|ق\s*\.?\s*م)(?!\w)"
    r"|(?<!\w)(?:ad|a\.d\.)\s*\d"
    r"|(?<![\w.])(?:1[0-7]|[1-9])\s*(?:st|nd|rd|th|e|er|eme|°|\.)?\s*(?:-\s*\d+\s*(?:st|nd|rd|th|e|°|\.)?\s*)?"
    r"(?:century|centuries|jh|jahrhundert\w*|siecle\w*|secolo|eeuw)(?!\w)"
    r"|(?<!\w)(?:siglo|secolo|sec\.)\s+(?!(?:xviii|xix|xx|xxi)(?!\w))[ivx]+(?!\w)"
    r"|(?<!\w)(?!(?:xviii|xix|xx|xxi)(?:e|eme|er)?\s)[ivx]+(?:e|eme|er)?\s+(?:siecle|secolo)(?!\w)"
)
# Origin words that name a modern country, its people or one of its cities, not an ancient culture:
# alone they do not say the object is old ("Egyptian cotton", "Afghan rug", "Aleppo soap").
_MODERN_COUNTRY = re.compile(
    r"(?:irak|iraq|irac|syri|siri|yemen|jemen|liby|libi|afghan|afgan|egypt|aegypt|agypt|egipt|egizian|"
    r"mali|leban|liban|cambod|kambod|camboy|cambog|cambodj|ukrain|ucrain|oekrain|crimea|crimee|krim|"
    r"aleppo|mosul|baghdad|bagdad|kabul|homs|hama|idlib|raqqa|nigeria|niger|middle\s+east|moyen-orient|"
    r"medio\s+oriente|mediorientale|oriente\s+medio|midden-oosten|nahost)\w*"
    r"|[وفبلك]{0,2}(?:ال)?(?:"
    + "|".join(
        normalise(w, expand_umlauts=True)
        for w in "عراق سوري سوريا يمن ليبيا ليبي مصر مصري أفغانستان أفغاني مالي لبنان لبناني كمبوديا كمبودي "
        "أوكرانيا قرم بغداد حلب موصل حمص حماة إدلب صنعاء كابل نيجيريا خليج".split()
    )
    + r")(?:"
    + ARABIC_SUFFIXES
    + r")?"
    # Raqqa only with its article: "برقة" is Cyrenaica (Barqa), not ب + رقة
    + r"|[وفبلك]{0,2}ال"
    + normalise("رقة", expand_umlauts=True)
)
# A calendar year is a whole token: not inside a longer number ("Lot 19552"), a reference ("LIN-1995")
# or a decimal ("3.1990"); "1990s", "1990er" and "'90s" are decades. Dates written 15.03.2012,
# 15/03/2012, 03/2012 and 2012-03-15 are read with their day and month.
_YEAR = re.compile(r"(?<![\w/])(?<!\d[.,])(?<![^\W\d_]-)(1[89]\d\d|20[0-2]\d)('?s|er)?(?![^\W_]|[.,/]\d)")
_ISO_DATE = re.compile(r"(?<![\w/])(?<!\d[.,-])(1[89]\d\d|20[0-2]\d)-(\d\d?)-(\d\d?)(?![^\W_]|[.,/-]\d)")
_NUMERIC_DATE = re.compile(
    r"(?<![\w/])(?<!\d[.,-])(?:(\d\d?)([./-])\s?)?(\d\d?)([./-])\s?(1[89]\d\d|20[0-2]\d)(?![^\W_]|[.,/-]\d)"
)
_ANCIENT = re.compile(
    r"^\s*(?:-\s*\d{2,4}\s*)?(?:bc|b\.c|bce|ad\b|a\.d|ce\b|v\.\s*chr|n\.\s*chr|av\.\s*j|ap\.\s*j|"
    r"a\.\s*c|d\.\s*c|ق\s*\.?\s*م|م\b)"
)
# What follows a number that is a measure, a price or an age, not a year.
_NOT_A_YEAR = re.compile(
    r"^(?:[.,]-+)?\s*(?:cm|mm|m\b|g\b|gr|kg|inch|in(?:\.|ches)?\s*(?:$|[x×);,/])|€|eur|usd|chf|gbp|sfr|dm\b|"
    r"dollar|pound|franc|\$|£)"
)
_AGE_AFTER = re.compile(r"^\s*(?:years?\b|yrs\b|jahre\b|ans\b|anni\b|anos\b|jaar\b|عام|سنه)")
_CURRENCY_BEFORE = re.compile(r"(?:€|eur|usd|chf|gbp|\$|£|price|prix|preis|prezzo|precio|prijs)\s*:?\s*$")
# A number after these is a lot, licence, inventory, page or plate number ("Lot 1995", "no. 1886").
_NUMBER_BEFORE = re.compile(
    r"(?:(?<!\w)(?:lots?|los|lotto|lote|kavel|nos?|nrs?|n°|num|number|nummer|numero|nummern|inv|inventory|"
    r"inventar|ref|reference|cat|kat|pl|fig|abb|taf|pp?|رقم)\.?\s*[:#]?\s*|#\s*)$"
)
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
_DIGITS = re.compile(r"\d+")
_ARABIC_DECADES_NORM = {normalise(w, expand_umlauts=True): y for w, y in _ARABIC_DECADES.items()}
_ARABIC_DECADE = re.compile("|".join(sorted(_ARABIC_DECADES_NORM, key=len, reverse=True)))
# Text beyond this many characters is not screened (and a reason says so): a bound on the work a
# listing can make, whatever its size.
MAX_SCREENED = 100_000
_COUNTRY_NAMES = {
    "AF": "Afghanistan",
    "EG": "Egypt",
    "IQ": "Iraq",
    "LB": "Lebanon",
    "LY": "Libya",
    "ML": "Mali",
    "SY": "Syria",
    "YE": "Yemen",
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
        rests: list[dict[str, str] | None] = []
        for path in sorted(folder.glob("*.yaml")):
            raw = path.read_text(encoding="utf-8")
            digest.update(raw.encode())
            data = yaml.safe_load(raw)
            if path.name == "cutoffs.yaml":
                self.cutoffs = data
                continue
            for r in data["rules"]:
                regex, rest = _compile(r)
                rests.append(rest)
                self.rules.append(
                    Rule(
                        r["id"],
                        data["family"],
                        int(r["weight"]),
                        r["why"],
                        r["source"],
                        tuple(r.get("countries", ())),
                        regex,
                    )
                )
        self.version = f"{ENGINE_VERSION}:{digest.hexdigest()[:12]}"  # changes with any vocabulary edit
        self._pattern_rules, self._keyed = _combine(self.rules, rests)
        begun = [(r, _beginnings(r.regex)) for r in self._pattern_rules]
        self._begun = _Begun([(r, b) for r, b in begun if b]) if any(b for _, b in begun) else None
        self._pattern_rules = [r for r, b in begun if not b]

    def screen(
        self, title: str | None = "", description: str | None = "", provenance: str | None = ""
    ) -> Screening:
        """Score one listing's text: the fields are joined with a line break, and every reason's
        ``start``/``end`` are positions in that joined text. Text beyond ``MAX_SCREENED`` characters
        is not read; a reason of family ``notice`` (weight 0) says how much was left out. Linear in
        the length of the text (the rules' regular expressions are bounded)."""
        fields = [t for t in (title, description, provenance) if t]
        full = "\n".join(fields)
        text = _cut(full, MAX_SCREENED)
        norm, starts, ends = normalise_with_spans(text, expand_umlauts=True)
        joins = list(accumulate(len(f) + 1 for f in fields[:-1]))
        found = self._matches(text, norm, starts, ends, [j - 1 for j in joins if j - 1 < len(text)])
        reasons: list[Reason] = []
        countries: dict[str, set[str]] = {}
        first_origin: set[str] = set()
        counted: set[str] = set()
        culture = False  # an origin named as a culture, not a modern country (see _antiquity)
        for rule, start, end in found:
            if rule.id in counted and (culture or rule.family != "origin"):
                continue  # a rule counts once, at its first words that are not negated
            span = (text[start:end], start, end)
            negatable = rule.family in NEGATABLE or rule.id in NEGATABLE_RULES
            negated = negatable and _negated(text[max(0, start - 40) : start])
            if rule.family == "origin" and not negated:
                culture = culture or not _MODERN_COUNTRY.fullmatch(normalise(span[0], expand_umlauts=True))
            if rule.id in counted:
                continue
            if negated:
                reasons.append(Reason(rule.id, rule.family, *span, 0, f"Not counted, negated. {rule.why}"))
                continue
            counted.add(rule.id)
            countries.setdefault(rule.family, set()).update(rule.countries)
            if rule.family == "origin" and rule.countries and not first_origin:
                first_origin = set(rule.countries)
            reasons.append(Reason(rule.id, rule.family, *span, rule.weight, rule.why))
        # Something must say the object is an antiquity (_ANTIQUITY): an object type or a digging
        # reason, an origin named as a culture, or beside an origin named as a modern country an
        # antiquity word. Without it no "unverified" or date reason, and no review.
        antiquity = culture or any(r.weight > 0 and r.family in ("category", "digging") for r in reasons)
        if not antiquity and any(r.weight > 0 and r.family == "origin" for r in reasons):
            antiquity = bool(_ANTIQUITY.search(norm))
        # The object's own origin decides whose cut-off applies: the first origin the text names that
        # has a country (the title names it first: "Syrian bronze ... 'Mesopotamia in the First
        # Days'" is Syrian); an object type listed on several countries' Red Lists (cuneiform: Iraq
        # and Syria) says only when no origin does.
        own = first_origin or countries.get("category") or set()
        if antiquity:
            reasons += self._dates(text, norm, (starts, ends), own, reasons)
        if len(text) < len(full):
            left = len(full) - len(text)
            why = (
                f"Only the first {len(text):,} characters were screened; the {left:,} after them were not "
                "read and may hold more red flags"
            )
            reasons.append(Reason("notice.not_screened", "notice", "", len(text), len(full), 0, why))
        return Screening(_score(reasons, antiquity), reasons)

    def _matches(
        self, text: str, norm: str, starts: Sequence[int], ends: Sequence[int], joins: Sequence[int] = ()
    ) -> list[tuple[Rule, int, int]]:
        """Every rule's matches (as each rule's own ``finditer`` would give them) as [start, end) in
        ``text``, the longest of overlapping ones kept: sorted once and swept over a map of taken
        characters, so the work is O(m log m + total match length), not every match against every
        other. ``norm`` is ``text`` normalised with umlauts expanded, ``starts``/``ends`` its spans.

        ``joins`` are the positions in ``text`` of the line breaks that join its fields: no match
        spans one ("bust of a woman" at the end of the title, "Limestone" at the start of the
        description). Term rules see a character there that no term holds or skips; hand-written
        patterns are tried on each field on its own."""
        found: list[tuple[Rule, int, int]] = []  # in normalised positions
        cuts = [bisect_left(starts, j) for j in joins]
        if self._keyed is not None:
            barred = norm
            for i in cuts:
                barred = barred[:i] + "\x00" + barred[i + 1 :]
            found += self._keyed.matches(barred)  # every term rule in one pass over the word starts
        found += self._pattern_matches(norm, cuts)
        spans = {(r, starts[a], ends[b - 1]) for r, a, b in found if b > a}
        if (self._begun or self._pattern_rules) and not text.isascii():
            # Hand-written patterns were written for text whose ä reads as a ("kopfe" for Köpfe):
            # they also see that form, so that both spellings they name are found.
            plain, plain_starts, plain_ends = normalise_with_spans(text)
            if plain != norm:
                plain_cuts = [bisect_left(plain_starts, j) for j in joins]
                spans.update(
                    (r, plain_starts[a], plain_ends[b - 1])
                    for r, a, b in self._pattern_matches(plain, plain_cuts)
                    if b > a
                )
        taken = bytearray(len(text))
        kept = []
        for rule, start, end in sorted(spans, key=lambda s: (s[1] - s[2], s[1], s[0].id)):
            if taken.find(1, start, end) == -1:
                taken[start:end] = b"\x01" * (end - start)
                kept.append((rule, start, end))
        return sorted(kept, key=lambda s: s[1])

    def _pattern_matches(self, norm: str, cuts: Sequence[int] = ()) -> list[tuple[Rule, int, int]]:
        """The hand-written patterns' matches in ``norm``, each field (between the ``cuts``) on its own."""
        if cuts:
            out: list[tuple[Rule, int, int]] = []
            lo = 0
            for hi in [*cuts, len(norm)]:
                out += [(r, a + lo, b + lo) for r, a, b in self._pattern_matches(norm[lo:hi])]
                lo = hi + 1
            return out
        found = self._begun.matches(norm) if self._begun is not None else []
        return found + [(r, m.start(), m.end()) for r in self._pattern_rules for m in r.regex.finditer(norm)]

    def _dates(
        self,
        text: str,
        norm: str,
        spans: tuple[Sequence[int], Sequence[int]],
        countries: set[str],
        reasons: list[Reason],
    ) -> list[Reason]:
        out: list[Reason] = []
        starts, ends = spans
        claims = _claims(norm, _years(norm))
        earliest = min(claims, key=lambda y: (y[3] or date(y[0], 1, 1), y[1])) if claims else None
        unesco = self.cutoffs["unesco"]
        unesco_year = _as_date(unesco["date"]).year
        documents = [
            r for r in reasons if r.family == "evidence" and r.weight < 0 and r.rule not in NOT_A_DOCUMENT
        ]
        cuts = [
            (_as_date(self.cutoffs["countries"][c]["date"]), c)
            for c in sorted(countries)
            if c in self.cutoffs["countries"]
        ]
        # A history before the object's own cut-off (the earliest of several countries': before all
        # of them), tied to a name or a document, can be checked: the dealer, collector, sale or
        # publication it names holds a record.
        own_cut, own_code = min(cuts) if cuts else (_as_date(unesco["date"]), "")
        named = None
        for claim in sorted(claims, key=lambda y: (y[3] or date(y[0], 1, 1), y[1])):
            if not _before(claim, own_cut, same_year=not own_code):
                break
            a, b = starts[claim[1]], ends[claim[2] - 1]
            tie = _tie(text, a, b) or (documents[0].text if documents else None)
            if tie:
                named = (claim, tie)
                break
        if named:
            (year, start, end, exact, bound), tie = named
            span = (text[starts[start] : ends[end - 1]], starts[start], ends[end - 1])
            when = _when(year, exact, bound)
            where = (
                f"{_COUNTRY_NAMES.get(own_code, own_code)}'s cut-off of {own_cut.day} {own_cut:%B %Y}"
                if own_code
                else "the 1970 UNESCO Convention"
            )
            why = (
                f"A history dated {when}, before {where}, tied to a name or document that can be "
                f"checked ({tie})"
            )
            return [Reason("date.before_cutoff", "date", *span, BEFORE_CUTOFF_WEIGHT, why)]
        # FIELD.md: no date before 1970 and no document means no verifiable provenance, whatever the
        # words; an unnamed claim back before 1970 is no document either, so "unverified" stands beside it.
        if not any(r.family == "evidence" and r.weight < 0 for r in reasons):
            out.append(
                Reason(
                    "provenance.unverified",
                    "unverified",
                    "",
                    0,
                    0,
                    UNVERIFIED_WEIGHT,
                    "No document and no date before 1970 tied to a name or document: nothing in the "
                    "listing can be checked",
                )
            )
        if earliest is None:
            return out
        year, start, end, exact, bound = earliest
        span = (text[starts[start] : ends[end - 1]], starts[start], ends[end - 1])
        when = _when(year, exact, bound)
        passed = []
        for cut_date, code in cuts:
            cut = self.cutoffs["countries"][code]
            # A year alone counts as after its country's cut-off in the year of the cut-off itself.
            if not _before(earliest, cut_date):
                passed.append((cut_date, code, cut))
        if passed:
            cut_date, code, cut = max(passed, key=lambda p: p[0])  # the latest passed: the earlier too
            why = (
                f"Earliest date in the text is {when}, after {_COUNTRY_NAMES.get(code, code)}'s cut-off of "
                f"{cut_date.day} {cut_date:%B %Y}. {cut['why']} ({cut['source']})"
            )
            return [*out, Reason(f"date.after_cutoff.{code}", "date", *span, AFTER_COUNTRY_WEIGHT, why)]
        if year > unesco_year:
            named_countries = [_COUNTRY_NAMES.get(c, c) for c in sorted(countries)]
            which = f" (origin: {', '.join(named_countries)})" if named_countries else ""
            why = f"Earliest date in the text is {when}, after 1970{which}. {unesco['why']}"
            out.append(Reason("date.after_unesco", "date", *span, AFTER_UNESCO_WEIGHT, why))
        else:
            why = (
                f"A history claimed back to {when}, before 1970, but tied to no name or document: "
                "a claim, not a record (an unnamed collection cannot be asked)"
            )
            out.append(Reason("date.unnamed_before_1970", "date", *span, UNNAMED_EARLY_WEIGHT, why))
        return out


def _cut(text: str, limit: int) -> str:
    """``text`` up to ``limit`` characters, ended at a space where there is one near the limit so that
    no word is cut into another ("Iraqi" into "Iraq")."""
    if len(text) <= limit:
        return text
    space = max(text.rfind(" ", limit - 100, limit + 1), text.rfind("\n", limit - 100, limit + 1))
    return text[: space if space > 0 else limit]


def _fold_pattern(pattern: str) -> str:
    """A hand-written pattern in the engine's normalised form: its letters outside ASCII folded as the
    text is (é -> e, Arabic letter forms); ä ö ü match "ae", "a" (German typed either way)."""
    out = []
    in_class = escaped = False
    for ch in pattern:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "[" and not in_class:
            in_class = True
        elif ch == "]" and in_class:
            in_class = False
        if ch.isascii():
            out.append(ch)
        elif ch in "äöüÄÖÜ":
            base = normalise(ch)
            out.append(base if in_class else f"(?:{base}e?)")
        else:
            folded = normalise(ch, expand_umlauts=True)
            out.append(folded if in_class else re.escape(folded))
    return "".join(out)


def _term_atoms(term: str) -> tuple[str, ...]:
    """The regular expression of one term as a sequence of atoms: ä ö ü match "ae" or the bare letter
    (the text has them as "ae"), a space any white space, a hyphen a hyphen, a space or nothing, and
    ``*`` at the end any ending."""
    t = term.strip()
    atoms: list[str] = []
    for chunk in re.split(r"([äöüÄÖÜ])", t.rstrip("*")):
        if chunk and chunk in "äöüÄÖÜ":
            atoms += [normalise(chunk), "e?"]
            continue
        for c in normalise(chunk, expand_umlauts=True):
            atoms.append(r"\s+" if c.isspace() else r"[-\s]?" if c == "-" else re.escape(c))
    if t.endswith("*"):
        atoms.append(r"\w*")
    return tuple(atoms)


def _trie(terms: list[tuple[str, ...]]) -> dict:
    root: dict = {}
    for atoms in terms:
        node = root
        for atom in atoms:
            node = node.setdefault(atom, {})
        node[""] = {}  # a term ends here
    return root


def _emit(node: dict) -> str:
    """The alternation of a trie's terms with common beginnings shared, so that at each position the
    regular expression compares a few letters rather than every term; longer terms are tried first."""
    if not node:
        return ""
    alts = [atom + _emit(child) for atom, child in _ordered(node)]
    return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"


def _ordered(node: dict) -> list[tuple[str, dict]]:
    def depth(n: dict) -> int:
        return max((1 + depth(c) for c in n.values()), default=0)

    return sorted(node.items(), key=lambda kv: (kv[0] == "", -depth(kv[1]), kv[0]))


# A continuation of a term after its first letter: a trie node and what must follow the term, or
# (None, a regular expression) for the Arabic prefixes and article.
_Rest = dict[str, list[tuple[dict | None, str]]]


def _compile(rule: dict) -> tuple[re.Pattern, _Rest | None]:
    """The rule's regular expression, and (for term rules whose every match starts a word with a
    letter) how a match continues after each possible first letter, for the one pass over word
    starts (``_combine``). Both find the same matches."""
    if "pattern" in rule:
        return re.compile(_fold_pattern(rule["pattern"])), None  # written in normalised form
    latin, arabic = [], []
    initial = True
    for lang, terms in rule["terms"].items():
        for term in terms:
            atoms = _term_atoms(str(term))
            if not atoms:
                continue
            initial = initial and bool(re.match(r"\w", normalise(str(term), expand_umlauts=True).strip()))
            (arabic if lang == "ar" else latin).append(atoms)
    parts = []
    rest: _Rest = {}
    if latin:
        trie = _trie(latin)
        parts.append(r"(?<!\w)" + _emit(trie) + r"(?!\w)")
        for first, child in _ordered(trie):
            rest.setdefault(first, []).append((child, r"(?!\w)"))
    if arabic:
        # Arabic joins the conjunction, prepositions and article to the word: وبالعراق.
        trie = _trie(arabic)
        tail = r"(?:" + ARABIC_SUFFIXES + r")?(?!\w)"
        parts.append(r"(?<!\w)(?:[وفبلك]{0,2}(?:ال)?)" + _emit(trie) + tail)
        # after the first letter, in the order the expression above tries them: a prefix, the
        # article, the word itself
        for first in "وفبلك":
            rest.setdefault(first, []).append((None, r"[وفبلك]?(?:ال)?" + _emit(trie) + tail))
        rest.setdefault("ا", []).append((None, "ل" + _emit(trie) + tail))
        for first, child in _ordered(trie):
            rest.setdefault(first, []).append((child, tail))
    return re.compile("|".join(parts) or r"(?!)"), (rest if initial else None)


def _literal(atom: str) -> bool:
    """One letter (escaped or not), not an optional or repeated piece."""
    return len(atom) == 1 or (len(atom) == 2 and atom[0] == "\\")


_KEY = 4  # letters of a term's beginning that pick the rules to try at a word start


class _Keyed:
    """All term rules found in one pass over the word starts, in two steps.

    First one expression without groups finds the word starts where some term can begin: a trie of
    the terms' first letters (up to ``_KEY``, fewer where a term's letters stop being fixed), so most
    words are passed over at C speed. Then, at each such word start only, the few rules whose terms
    begin with those letters are tried, each in an always-successful lookahead that captures where
    the rule's match ends (``(?=(...)|)``). A rule's match found this way is the match its own
    expression finds there (a test checks it)."""

    def __init__(self, entries: dict[str, list[tuple[Rule, str]]]):
        self.entries = entries
        trie = _trie([tuple(re.escape(c) for c in key) for key in entries])
        self.starts = re.compile(r"(?<!\w)(?=(" + _emit(trie) + "))")
        self._compiled: dict[str, tuple[re.Pattern, list[Rule]]] = {}

    def at(self, key: str) -> tuple[re.Pattern, list[Rule]]:
        """The lookaheads for every rule whose beginning is ``key`` or a beginning of it (compiled on
        first use: most beginnings never occur)."""
        found = self._compiled.get(key)
        if found is None:
            pairs = [pair for n in range(1, len(key) + 1) for pair in self.entries.get(key[:n], ())]
            regex = re.compile("".join(f"(?=({pattern})|)" for _, pattern in pairs))
            found = self._compiled[key] = (regex, [rule for rule, _ in pairs])
        return found

    def matches(self, norm: str) -> list[tuple[Rule, int, int]]:
        found: list[tuple[Rule, int, int]] = []
        last_end: dict[str, int] = {}
        for m in self.starts.finditer(norm):
            start = m.start()
            regex, rules = self.at(m.group(1))
            hit = regex.match(norm, start)
            for group, rule in enumerate(rules, start=1):
                end = hit.end(group)
                if end > start and start >= last_end.get(rule.id, 0):
                    found.append((rule, start, end))
                    last_end[rule.id] = end
        return found


def _beginnings(pattern: re.Pattern, limit: int = _KEY) -> set[str] | None:
    """The literal beginnings (up to ``limit`` letters) one of which every match of a hand-written
    ``pattern`` starts with, or None when the pattern can begin otherwise (or cannot be read).

    Read from the expression's parsed form: zero-width checks are skipped, alternatives followed,
    an optional group read both with and without it; anything else ends a beginning."""
    try:
        from re import _constants as c
        from re import _parser

        items = list(_parser.parse(pattern.pattern).data)
    except Exception:  # noqa: BLE001 - a private module of the standard library: read it or do without
        return None
    out: set[str] = set()

    def go(items: list, acc: str, depth: int = 0) -> bool:
        if len(acc) >= limit or (acc and not items):
            out.add(acc)
            return True
        if not items or depth > 50 or len(out) > 5000:
            return False  # an empty match, or too many beginnings to be worth it
        op, av = items[0]
        rest = items[1:]
        if op is c.LITERAL:
            return go(rest, acc + chr(av), depth)
        if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            return go(rest, acc, depth)  # zero-width: the match itself checks it
        if op is c.SUBPATTERN and not av[1] and not av[2]:
            return go(list(av[3]) + rest, acc, depth + 1)
        if op is c.BRANCH:
            return all(go(list(alt) + rest, acc, depth + 1) for alt in av[1])
        if op in (c.MAX_REPEAT, c.MIN_REPEAT) and not acc and av[0] == 0 and av[1] == 1:
            return go(rest, acc, depth + 1) and go(list(av[2]) + rest, acc, depth + 1)
        if acc:
            out.add(acc)
            return True
        return False

    return out if go(items, "") and all(out) else None


class _Begun:
    """Hand-written patterns that can begin only with known letters: one pass finds where any of
    their beginnings occurs, and only there each pattern is tried, in the order ``finditer`` would
    find its matches (leftmost first, not overlapping)."""

    def __init__(self, rules: list[tuple[Rule, set[str]]]):
        self.entries: dict[str, list[Rule]] = {}
        for rule, beginnings in rules:
            for b in beginnings:
                self.entries.setdefault(b, []).append(rule)
        trie = _trie([tuple(re.escape(ch) for ch in key) for key in self.entries])
        self.starts = re.compile("(?=(" + _emit(trie) + "))")
        self._rules: dict[str, list[Rule]] = {}

    def matches(self, norm: str) -> list[tuple[Rule, int, int]]:
        found: list[tuple[Rule, int, int]] = []
        last_end: dict[str, int] = {}
        for m in self.starts.finditer(norm):
            start = m.start()
            key = m.group(1)
            rules = self._rules.get(key)
            if rules is None:
                rules = self._rules[key] = list(
                    dict.fromkeys(r for n in range(1, len(key) + 1) for r in self.entries.get(key[:n], ()))
                )
            for rule in rules:
                if start < last_end.get(rule.id, 0):
                    continue
                hit = rule.regex.match(norm, start)
                if hit and hit.end() > start:
                    found.append((rule, start, hit.end()))
                    last_end[rule.id] = hit.end()
        return found


def _combine(rules: list[Rule], rests: list[_Rest | None]) -> tuple[list[Rule], _Keyed | None]:
    """The rules left to search one by one (hand-written patterns), and the term rules keyed by the
    letters their terms begin with (``_Keyed``)."""
    patterns = [r for r, rest in zip(rules, rests, strict=True) if rest is None]
    entries: dict[str, list[tuple[Rule, str]]] = {}

    def walk(rule: Rule, key: str, regex: str, node: dict, tail: str) -> None:
        if len(key) < _KEY and node and all(map(_literal, node)):
            for atom, child in _ordered(node):
                walk(rule, key + atom[-1], regex + atom, child, tail)
        else:
            entries.setdefault(key, []).append((rule, regex + _emit(node) + tail))

    for rule, rest in zip(rules, rests, strict=True):
        for first, items in (rest or {}).items():  # first letters are word characters: not escaped
            if len(items) == 1 and items[0][0] is not None:
                walk(rule, first, first, *items[0])
                continue
            pattern = "|".join(_emit(node) + tail if node is not None else tail for node, tail in items)
            entries.setdefault(first, []).append((rule, f"{first}(?:{pattern})"))
    if not entries:
        return patterns, None
    try:
        return patterns, _Keyed(entries)
    except (re.error, RecursionError, OverflowError):
        return rules, None  # too large for one expression: every rule on its own


def _negated(before: str) -> bool:
    """A negation among the three words before a match (``before``: the text just before it), within
    the same clause ("not from Iraq")."""
    clause = re.split(r"[.;,:!?\n()]", normalise(before, expand_umlauts=True))[-1]
    words = re.findall(r"\w+", clause)[-3:]
    return any(_NEGATION.fullmatch(w) for w in words)


_Year = tuple[int, int, int, date | None]


def _years(norm: str) -> list[_Year]:
    """(year, start, end, exact date or None) of every calendar year or decade in the text that is
    not an ancient date, a price, a measure, an age or a number (lot, licence, inventory, page).

    Only runs of digits are looked at (found in one fast scan), each with the expressions anchored
    there, so the work is linear in the text however many digits it holds."""
    out: list[_Year] = []
    dated_end = -1  # digits inside a whole date already read are not read again
    for run in _DIGITS.finditer(norm):
        a, b = run.span()
        if a < dated_end:
            continue
        whole = _date_at(norm, a, b)
        if whole:
            out.append(whole)
            dated_end = whole[2]
        elif b - a == 4:
            m = _YEAR.match(norm, a)
            if m and not _not_a_year(norm, a, m.end(), decade=bool(m.group(2))):
                out.append((int(m.group(1)), a, m.end(), None))
        elif b - a == 2:
            for m in _DECADES.finditer(norm, max(0, a - 12), min(len(norm), b + 12)):
                if any(g[0] == a for g in m.regs[1:]):
                    two = int(norm[a:b])
                    out.append(((1900 if two >= 30 else 2000) + two, m.start(), m.end(), None))
                    break
    if not norm.isascii():
        for m in _ARABIC_DECADE.finditer(norm):
            out.append((_ARABIC_DECADES_NORM[m.group(0)], m.start(), m.end(), None))
    return out


def _date_at(norm: str, a: int, b: int) -> _Year | None:
    """A whole date beginning with the digits at [a, b): 2012-03-15, 15.03.2012, 15/03/2012 or 03/2012."""
    if b - a == 4:
        m = _ISO_DATE.match(norm, a)
        exact = _date(int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None
        if m and exact and not _not_a_year(norm, a, m.end()):
            return (exact.year, a, m.end(), exact)
        return None
    m = _NUMERIC_DATE.match(norm, a) if b - a <= 2 else None
    if not m:
        return None
    day, sep1, month, sep2, year = m.groups()
    # "3-2012" is a range or a reference, not a month; 15.03/2012 is not a date
    if not ((day is None and sep2 != "-") or (day is not None and sep1 == sep2)):
        return None
    exact = _date(int(year), int(month), int(day or 1))
    if not exact or _not_a_year(norm, a, m.end()):
        return None
    return (exact.year, a, m.end(), exact if day else None)


_Claim = tuple[int, int, int, date | None, str | None]
# The second year of a range ("1966-1969", "1990 - 1993", "1966-69", "between 1960 and 1970", a
# collector's life "(1844-1939)"): the history is only sure from its end.
_RANGE_GAP = re.compile(
    r"\s*(?:[-/]|–|—|to|bis|au|al|a|and|und|et|e|y|en|tot)\s*(?:the\s+|den\s+|il\s+|el\s+|de\s+)?(?:early\s+|late\s+|mid-?\s*|fruhen\s+|spaten\s+)?$"
)
_RANGE_SHORT = re.compile(r"[-/]\s?'?(\d\d)(s|er)?(?![\w/])")
# "before 1990", "bef. 1970", "vor 1955", "avant 1990", "prima del 1970", "antes de 1970": a bound.
_BEFORE = re.compile(
    r"(?<!\w)(?:before|bef\.?|prior\s+to|pre-|vor|avant|prima\s+del|antes\s+de|voor|قبل(?:\s+عام)?)\s*$"
)
_WARS = re.compile(
    r"(?<!\w)(?:(?:second|2nd)\s+world\s+war|world\s+war\s+(?:ii|2)|ww\s?(?:ii|2)|zweiten?\s+weltkrieg\w*|"
    r"seconde\s+guerre\s+mondiale|seconda\s+guerra\s+mondiale|segunda\s+guerra\s+mundial|tweede\s+wereldoorlog)"
    r"|(?<!\w)(?:(?:first|1st)\s+world\s+war|world\s+war\s+(?:i|1)(?!\w)|ersten?\s+weltkrieg\w*|premiere\s+guerre\s+mondiale|"
    r"prima\s+guerra\s+mondiale|primera\s+guerra\s+mundial|eerste\s+wereldoorlog)"
)


def _claims(norm: str, years: list[_Year]) -> list[_Claim]:
    """The dates a history can be read from: a range counts from its end ("acquired 1966-1969" is
    sure only from 1969; a collector's "(1844-1939)" by 1939), a decade from its last year ("the
    1970s" from 1979, "1960s/70s" too), "before 1990" as 1989, and the world wars as 1918 and 1945."""
    ordered = sorted(years, key=lambda y: y[1])
    out: list[_Claim] = []
    for i, (year, start, end, exact) in enumerate(ordered):
        nxt = ordered[i + 1] if i + 1 < len(ordered) else None
        if nxt and nxt[0] > year and nxt[1] - end <= 24 and _RANGE_GAP.match(norm[end : nxt[1]]):
            continue  # the start of a range: its end is read next
        short = _RANGE_SHORT.match(norm, end)
        if short and not exact:
            later = year // 100 * 100 + int(short.group(1))
            if later > year:
                out.append((later + (9 if short.group(2) else 0), start, short.end(), None, None))
                continue
        before = _BEFORE.search(norm[max(0, start - 16) : start])
        if before and not exact:
            out.append((year - 1, start - len(before.group(0)), end, None, f"before {year}"))
            continue
        if not exact and not re.fullmatch(r"\d{4}", norm[start:end]):
            # A decade: "acquired in the 1970s" is sure only from 1979, and is named as the decade.
            out.append((year + 9, start, end, None, f"the {year}s"))
            continue
        out.append((year, start, end, exact, None))
    for m in _WARS.finditer(norm):
        first = m.group(0).startswith(("first", "1st", "erst", "prem", "prim", "eerste")) or re.search(
            r"(?:war\s+(?:i|1)$)", m.group(0)
        )
        out.append((1918 if first else 1945, m.start(), m.end(), None, "by " + ("1918" if first else "1945")))
    return out


def _before(claim: _Claim, cut: date, same_year: bool = False) -> bool:
    """Whether a date is before a cut-off: a whole date by its day; a year alone counts as after a
    country's cut-off in the cut-off's own year, and as before UNESCO's (14 November 1970)."""
    year, _, _, exact, _ = claim
    if exact:
        return exact < cut
    return year <= cut.year if same_year else year < cut.year


def _when(year: int, exact: date | None, bound: str | None) -> str:
    return bound or (f"{exact.day} {exact:%B %Y}" if exact else str(year))


# Words that are capitalised but name no one: provenance wording, places and peoples, months, titles.
_NOT_NAMES = set(
    """provenance provenienz herkunft provenienza procedencia herkomst collection collections sammlung
    sammlungen privatsammlung privatsammlungen collezione coleccion colección verzameling collectie
    private privat privee privée privata privada particuliere particulière particular old alte alter altes
    ancienne ancien antigua vecchia antica oude ex from aus de du des von van by with mit avec con
    acquired erworben acquis acquise acquistato acquisito adquirido adquirida verworven purchased bought
    gekauft achete acheté collected gesammelt property eigentum besitz privatbesitz familienbesitz
    nachlass estate family famille famiglia familia familie thence since seit depuis dal desde sinds before
    vor avant prima antes voor after nach apres après dopo despues después na the this der die das le la
    les il lo el los las het een a an in im en au al at on formerly ehemals zuvor then dann later
    gentleman lady herr frau mr mrs ms dr prof professor sir lord baron baronin count graf comte conte
    conde major colonel captain general reverend rev madame monsieur mme signor signora don dona doña
    art market kunsthandel handel kunstmarkt marche marché mercato mercado markt trade dealer haendler
    händler galerie gallery galleria galeria auction auktion vente asta subasta veiling sale sales lot
    los lotto lote catalogue catalog katalog catalogo catálogo inventory inventar museum musee musée
    museo european europe europa europaeische europäische europeen européen europea europeo swiss
    schweizer suisse svizzera suiza zwitserse german deutsche deutscher deutschen allemand allemande
    tedesca alemana duitse french franzoesische französische francaise française francese francesa
    franse british britische britischen britannique britannica britanica britse english englische
    anglaise inglese inglesa engelse american amerikanische americaine américaine americana amerikaanse
    belgian belgische belge belga dutch niederlaendische niederländische hollandaise olandese holandesa
    nederlandse austrian oesterreichische österreichische autrichienne austriaca oostenrijkse italian
    italienische italienne italiana italiaanse spanish spanische espagnole spagnola espanola española
    spaanse scandinavian skandinavische north south east west northern southern eastern western nord
    sud est ouest nordeutsche norddeutsche süddeutsche sueddeutsche london paris new york geneva genf
    geneve genève zurich zürich basel bale bâle munich muenchen münchen berlin brussels bruxelles
    amsterdam rome roma madrid barcelona vienna wien uk usa us gb switzerland schweiz suisse germany
    deutschland allemagne france frankreich belgium belgien belgique england angleterre america
    january february march april may june july august september october november december januar
    februar maerz märz juni juli oktober dezember janvier fevrier février mars avril mai juin juillet
    aout août septembre octobre novembre decembre décembre gennaio febbraio marzo aprile maggio giugno
    luglio agosto settembre ottobre dicembre enero febrero abril mayo junio julio septiembre octubre
    noviembre diciembre second world war first weltkrieg guerre mondiale guerra mondiale mundial
    early late mid end ende anfang mitte fin debut début inizio fine jahre jahren years century
    jahrhundert siecle siècle secolo siglo period epoch era roman greek egyptian ancient antique
    antik antike note notes certificate zertifikat middle near far gulf arab arabian oriental orient
    levant asian asia african africa mediterranean""".split()
)
_HOUSES = re.compile(
    r"(?i)(?<!\w)(?:sotheby|christie|bonhams|phillips|drouot|lempertz|gorny|hirsch|spink|glendining|"
    r"parke[- ]bernet|koller|dorotheum|cahn|emmerich|spink|hess|munzen\s+und\s+medaillen)"
)
# Documents a dated history can be checked in.
_DOCUMENT_WORDS = re.compile(
    r"(?i)(?<!\w)(?:catalog\w*|katalog\w*|catalogo|catálogo|published|publiziert|veröffentlicht|publié\w*|"
    r"publie\w*|pubblicat\w*|publicad\w*|gepubliceerd|invoice|receipt|rechnung|quittung|facture|fattura|"
    r"factura|factuur|letter|brief|lettre|lettera|carta|stock\s*book|stockbook|inventory|inventar\w*|"
    r"inventaire|inventario|archive\w*|archiv\w*|archivio|archivo|exhibited|exhibition|ausstellung|"
    r"exposition|expos[ée]|mostra|esposto|exposición|diar(?:y|ies)|tagebuch|journal|export\s+licen[cs]e|"
    r"ausfuhrgenehmigung|licence\s+d.exportation|licenza\s+di\s+esportazione|lots?\s*(?:no\.?\s*)?\d+|"
    r"los\s+\d+|lotto\s+\d+|lote\s+\d+|n°\s*\d+)"
)
_TOKEN = re.compile(r"[^\W\d_]+(?:['’.][^\W\d_]+)*\.?|[,;:()\[\]]")
_PARTICLES = {
    "de",
    "la",
    "le",
    "du",
    "des",
    "van",
    "von",
    "der",
    "den",
    "di",
    "del",
    "della",
    "da",
    "y",
    "v.",
    "zu",
    "ten",
    "ter",
    "d'",
}


def _tie(text: str, a: int, b: int) -> str | None:
    """A name or a document in the same clause as the date at [a, b) of ``text``: a person, firm or
    collection written as a name (two or more capitalised words, not initials or words of the trade:
    "Margaret De Patta", "Galerie Khalil", "Collection Mariaud de Serres"; "Private Collection",
    "K. M." and "North London collection" are none), an auction house, or a catalogue, publication,
    invoice, letter, stock book, inventory, exhibition or lot number. Returns its words, or None."""
    left = max(0, a - 120)
    before = text[left:a]
    cut = max(
        before.rfind(";"),
        before.rfind("\n"),
        *(m.end() for m in re.finditer(r"[^\W\d_]{3,}\.\s+(?=[A-Z])", before)),
    )
    lo = left + cut + 1 if cut >= 0 else left
    after = text[b : b + 80]
    m = re.search(r"[;\n]|[^\W\d_]{3,}\.\s+(?=[A-Z])|\.\s*$", after)
    hi = b + (m.end() if m else len(after))
    window = text[lo:hi]
    found = _HOUSES.search(window) or _DOCUMENT_WORDS.search(window)
    if found:
        return found.group(0).strip()
    run: list[str] = []
    for tok in [*_TOKEN.findall(window), ","]:
        low = tok.lower()
        initial = (
            bool(re.fullmatch(r"(?:[^\W\d_]\.?)+", tok))
            and sum(c.isalpha() for c in tok) <= 3
            and tok[0].isupper()
            and (len(tok) <= 2 or "." in tok)
        )
        if tok[0].isupper() or (run and low in _PARTICLES) or initial:
            run.append(tok)
            continue
        if len(run) >= 2 and any(
            t[0].isupper()
            and len(t.rstrip(".")) >= 3
            and "." not in t.rstrip(".")
            and t.lower().rstrip(".") not in _NOT_NAMES
            for t in run
        ):
            return " ".join(run)
        run = []
    return None


def _not_a_year(norm: str, start: int, end: int, decade: bool = False) -> bool:
    after, before = norm[end : end + 14], norm[max(0, start - 16) : start]
    return bool(
        _ANCIENT.match(after)
        or _NOT_A_YEAR.match(after)
        or (not decade and _AGE_AFTER.match(after))
        or _CURRENCY_BEFORE.search(before)
        or _NUMBER_BEFORE.search(before)
    )


def _date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _score(reasons: list[Reason], antiquity: bool = True) -> int:
    """The sum of the reasons' points, the strongest only of the origins and of the object types, 0-100;
    at most NO_REGION_CAP without a Red-List region, or when nothing says the object is an antiquity."""
    strongest: dict[str, int] = {}
    total = 0
    for r in reasons:
        if r.family in STRONGEST_ONLY and r.weight > 0:
            strongest[r.family] = max(strongest.get(r.family, 0), r.weight)
        else:
            total += r.weight
    total += sum(strongest.values())
    if not antiquity or not any(
        r.weight > 0 and (r.family == "origin" or r.rule in REGION_RULES) for r in reasons
    ):
        total = min(total, NO_REGION_CAP)
    return max(0, min(100, total))


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


@cache
def default_engine() -> FlagEngine:
    """The engine over the bundled vocabularies, compiled once per process."""
    return FlagEngine()
