import pytest

from matcher.text.measure import agreement, lengths


@pytest.mark.parametrize(
    "text, cm",
    [
        ("H. 12.5 cm; W. 8.0 cm", [12.5, 8.0]),
        ("12 x 8 x 3 cm", [12.0, 8.0, 3.0]),
        ("Höhe 12,5 cm", [12.5]),
        ("125 mm high", [12.5]),
        ("4.9 in. high", [12.45]),
        ('4 7/8" tall', [12.38]),
        ("Dimensions: 30 by 20 cm", [30.0, 20.0]),
        ("الارتفاع ١٢ سم", [12.0]),
    ],
)
def test_lengths_in_any_unit(text, cm):
    assert lengths(text) == cm


@pytest.mark.parametrize(
    "text",
    ["Lot 1990, 25 g, sold 1970", "Lot of 3 in a box", "acquired 1990 in London", "licence 12345 cm", ""],
)
def test_no_lengths_from_years_weights_or_prose(text):
    assert lengths(text) == []


def test_agreement_across_units_and_tolerance():
    assert agreement(lengths("H. 12.5 cm; W. 8.0 cm"), lengths("4.9 x 3.15 in")) == (2, 2)
    assert agreement(lengths("12 x 8 cm"), lengths("12.9 x 8 cm")) == (1, 2)
    assert agreement([], [3.0]) == (0, 1)
