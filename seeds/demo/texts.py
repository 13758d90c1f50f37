"""Words for the demo: registry records in Object ID fields and lot texts as dealers write them."""

from __future__ import annotations

import re

import numpy as np

__all__ = ["registry_record", "lot_text"]

NAMES = {
    "vessel": ("jar", "amphora", "bowl", "flask", "juglet"),
    "coin": ("tetradrachm", "drachm", "denarius", "stater", "follis"),
    "tablet": ("cuneiform tablet", "administrative tablet", "school tablet", "letter tablet"),
    "figurine": ("female figurine", "idol", "votive figure", "standing figure"),
    "relief": ("relief fragment", "funerary relief", "stele fragment", "carved panel"),
    "seal": ("cylinder seal", "stamp seal", "seal with impression"),
    "lamp": ("oil lamp", "lamp with discus", "lamp with nozzle"),
}
PERIODS = (
    "Old Babylonian, c. 1900-1600 BC",
    "Neo-Assyrian, 9th-7th century BC",
    "Achaemenid, 5th century BC",
    "Hellenistic, 3rd-1st century BC",
    "Roman Imperial, 2nd century AD",
    "Parthian, 1st century AD",
    "Ur III, c. 2100-2000 BC",
    "Halaf, c. 5500 BC",
    "Sabaean, 1st millennium BC",
    "Byzantine, 6th century AD",
)
PLACES = ("Iraq", "Syria", "Yemen", "Libya", "Afghanistan", "Egypt", "Lebanon")
STATUSES = ("stolen", "looted", "missing")
HOUSE_WORDS = ("Fine", "Rare", "Attractive", "Superb", "Interesting", "Nice")
CLEAN_PROVENANCE = (
    "Ex collection of Dr. H. M., acquired at Sotheby's London, 12 May 1962, lot 214; export licence no. {n}.",
    "Published in the 1968 catalogue of the Lindgren collection, no. {n}; by descent since.",
    "Purchased from Galerie Khalil, Beirut, invoice dated 3 March 1958, copy of invoice included.",
    "With UK export licence {n} and a copy of the 1971 auction catalogue entry.",
)
FLAG_PROVENANCE = (
    "From an old private collection. Acquired in the 1990s.",
    "Property of a gentleman; Swiss private collection. No paperwork.",
    "Recently surfaced; from a reliable supplier. Uncleaned, as found, with earth deposits.",
    "European private collection, acquired from the Near East market in the 2010s.",
    "Metal detecting find. Desert patina. Sold without export documents.",
)


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def _measure(rng: np.random.Generator) -> str:
    return f"H. {rng.uniform(2, 45):.1f} cm; W. {rng.uniform(2, 35):.1f} cm"


def registry_record(kind: str, material: str, rng: np.random.Generator, n: int) -> dict[str, str]:
    """Object ID fields of one stolen or looted object."""
    place = _pick(rng, PLACES)
    name = _pick(rng, NAMES[kind])
    period = _pick(rng, PERIODS)
    return {
        "object_type": name,
        "materials": material,
        "period": period,
        "measurements": _measure(rng),
        "inscriptions": "cuneiform text, 12 lines"
        if kind == "tablet"
        else ("legend around rim" if kind == "coin" else ""),
        "title": f"{material.capitalize()} {name}",
        "place_of_origin": place,
        "status": _pick(rng, STATUSES),
        "inventory_number": f"IM {int(rng.integers(10000, 99999))}" if place == "Iraq" else f"INV-{n:05d}",
        "description": f"{material.capitalize()} {name}, {period}. Reported {_pick(rng, STATUSES)} from a "
        f"museum store in {place}. Surface wear and old inventory number in ink.",
    }


def lot_text(
    kind: str, material: str, rng: np.random.Generator, flagged: bool, record: dict | None = None
) -> dict[str, str]:
    """Title, description and provenance of one lot; ``flagged`` lots use the phrases analysts look for.

    With ``record``, the dealer describes that registry object: its name and its size, in a unit of
    their own.
    """
    name = record["object_type"] if record else _pick(rng, NAMES[kind])
    period = _pick(rng, PERIODS)
    adjective = _pick(rng, HOUSE_WORDS)
    if flagged:
        origin = _pick(rng, ("Mesopotamian", "Western Asiatic", "South Arabian", "Near Eastern", "Sumerian"))
        title = f"{origin} {material} {name}"
        provenance = _pick(rng, FLAG_PROVENANCE)
    else:
        title = f"{adjective} {material} {name}"
        provenance = _pick(rng, CLEAN_PROVENANCE).format(n=int(rng.integers(10000, 99999)))
    size = _restate(record["measurements"], rng) if record else _measure(rng)
    marks = (
        f" Marked in ink on the base: {record['inventory_number']}." if record and rng.random() < 0.25 else ""
    )
    description = (
        f"<p>{adjective} {material} {name}, {period}.</p><p>{size}. "
        f"Good condition for age, minor chips.{marks}</p>"
    )
    return {"title": title, "description_html": description, "provenance": provenance}


def _restate(measurements: str, rng: np.random.Generator) -> str:
    """The registry's "H. 12.5 cm; W. 8.0 cm" as a dealer might write it: cm, mm or inches."""
    cm = [float(v) for v in re.findall(r"\d+(?:\.\d+)?", measurements)]
    unit = _pick(rng, ("cm", "cm", "mm", "in"))
    if unit == "mm":
        return " x ".join(f"{v * 10:.0f}" for v in cm) + " mm"
    if unit == "in":
        return "Size " + " x ".join(f"{v / 2.54:.1f}" for v in cm) + " in."
    return "Dimensions " + " x ".join(f"{v:g}" for v in cm) + " cm"
