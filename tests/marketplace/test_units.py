"""Token amounts: parsing, display rounding, and the exact JSON/CSV forms."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.errors import ConfigError
from marketplace.units import (
    amount_columns,
    amount_json,
    format_amount,
    from_units,
    to_units,
    units_of,
)

TOKEN = 10**18


@pytest.mark.parametrize(
    ("units", "text"),
    [
        (1000 * TOKEN, "1,000 FMT"),
        (TOKEN // 4, "0.25 FMT"),
        (0, "0 FMT"),
        (899_996149682672561000, "899.9961 FMT"),  # the demo table's old raw value
        (1_234_567 * TOKEN, "1,234,567 FMT"),
        (-5 * TOKEN // 2, "-2.5 FMT"),
        (1, "<0.0001 FMT"),
        (-1, ">-0.0001 FMT"),
        (99_995 * TOKEN // 100_000 * 10, "9.9995 FMT"),
    ],
)
def test_format_amount_is_readable(units: int, text: str) -> None:
    assert format_amount(units) == text


def test_format_amount_other_units() -> None:
    assert format_amount(3 * 10**17, symbol="ETH") == "0.3 ETH"
    assert format_amount(1500, decimals=3, symbol="") == "1.5"


@given(st.integers(min_value=-(2**256), max_value=2**256))
def test_no_amount_shows_a_long_digit_run(units: int) -> None:
    assert not re.search(r"\d{16,}", format_amount(units))


@given(st.integers(min_value=0, max_value=2**256))
def test_json_form_is_exact_and_round_trips(units: int) -> None:
    obj = amount_json(units)

    assert obj["decimals"] == 18
    assert obj["units"] == str(units)
    whole, _, fraction = obj["value"].partition(".")
    assert int(whole) * 10**18 + int(fraction.ljust(18, "0") or 0) == units
    assert units_of(obj) == units
    assert to_units(obj["value"]) == units


def test_csv_columns() -> None:
    assert amount_columns("payout", 1500 * 10**15) == {
        "payout_units": "1500000000000000000",
        "payout": "1.5",
    }


@pytest.mark.parametrize("text", ["10", "0.5", "1,000", "1_000.25"])
def test_to_units_accepts_what_people_type(text: str) -> None:
    assert from_units(to_units(text)) == text.replace(",", "").replace("_", "")


@pytest.mark.parametrize("text", ["ten", "-1", "1e-19", "nan", "inf", ""])
def test_to_units_refuses_with_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError):
        to_units(text)
