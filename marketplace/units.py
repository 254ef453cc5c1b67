"""Token amounts: parsing what people type, and the one way fedmarket shows and exports amounts.

On chain every amount is an integer of *base units* (FMT has 18 decimals, so 1 FMT is
10**18 units). fedmarket never shows those integers to people:

- **Text** (terminal output, logs, error messages, the demo table): :func:`format_amount`, a
  rounded decimal with thousands separators and the unit, e.g. ``1,000 FMT``, ``0.25 FMT``,
  ``899.9961 FMT``; a non-zero amount too small to show is ``<0.0001 FMT``.
- **JSON** (``--json`` of every command, JSON-lines events): :func:`amount_json`, an object
  with the exact base units as a string (JSON numbers lose precision past 2**53), the exact
  decimal value as a string, and the decimals::

      {"units": "1500000000000000000", "value": "1.5", "decimals": 18}

- **CSV**: two columns per amount, ``<name>_units`` (exact base units) and ``<name>``
  (the exact decimal value), plus one ``decimals`` column (:func:`amount_columns`).

Input (``--stake 10``, ``--round-budget 0.5``) goes through :func:`to_units`, which refuses
anything negative or finer than one base unit.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

from marketplace.errors import ConfigError

#: Decimals of the fedmarket reward token (FMT), as for most ERC-20 tokens.
TOKEN_DECIMALS = 18
#: The reward token's symbol, shown after every amount.
TOKEN_SYMBOL = "FMT"
#: Decimal places kept when an amount is shown to people (exact values go to JSON and CSV).
DISPLAY_PLACES = 4


def to_units(amount: str | int | float, decimals: int = TOKEN_DECIMALS) -> int:
    """Whole tokens (a decimal string like "12.5", "1,000") to integer base units, exactly."""
    text = str(amount).strip().replace(",", "").replace("_", "")
    try:
        value = Decimal(text)  # construction from a string is exact
    except InvalidOperation as exc:
        raise ConfigError(
            f"not a token amount: {amount!r}", hint="write it like 10 or 0.5"
        ) from exc
    if not value.is_finite():
        raise ConfigError(f"not a token amount: {amount!r}", hint="write it like 10 or 0.5")
    with localcontext() as ctx:
        ctx.prec = 200  # exact for any uint256 amount
        units = value.scaleb(decimals)
    if units < 0 or units != units.to_integral_value():
        raise ConfigError(
            f"token amount {amount} is negative or finer than 1e-{decimals}",
            hint="amounts are whole tokens with at most 18 decimals, like 10 or 0.5",
        )
    return int(units)


def from_units(units: int, decimals: int = TOKEN_DECIMALS) -> str:
    """Integer base units to the exact decimal string of whole tokens (``"1.5"``, ``"1000"``)."""
    raw = int(units)
    whole, fraction = divmod(abs(raw), 10**decimals)
    digits = f"{fraction:0{decimals}d}".rstrip("0") if decimals else ""
    return ("-" if raw < 0 else "") + str(whole) + (f".{digits}" if digits else "")


def format_amount(
    units: int | str,
    *,
    symbol: str = TOKEN_SYMBOL,
    decimals: int = TOKEN_DECIMALS,
    places: int = DISPLAY_PLACES,
) -> str:
    """An amount for people: ``1,000 FMT``, ``0.25 FMT``, ``-2.5 FMT``, ``<0.0001 FMT``.

    Rounded half-to-even to ``places`` decimals, trailing zeros dropped. Never prints the raw
    base-unit integer, so no run of 16+ digits can appear, whatever the amount.
    """
    raw = int(units)
    places = max(0, min(places, decimals))
    step = 10 ** (decimals - places)
    shown, rest = divmod(abs(raw), step)
    if 2 * rest > step or (2 * rest == step and shown % 2):  # half to even
        shown += 1
    unit = f" {symbol}" if symbol else ""
    if raw != 0 and shown == 0:
        smallest = from_units(1, places)
        return f"{'>-' if raw < 0 else '<'}{smallest}{unit}"
    whole, fraction = divmod(shown, 10**places)
    digits = f"{fraction:0{places}d}".rstrip("0") if places else ""
    sign = "-" if raw < 0 else ""
    return f"{sign}{whole:,}" + (f".{digits}" if digits else "") + unit


def amount_json(units: int | str, decimals: int = TOKEN_DECIMALS) -> dict[str, Any]:
    """An amount for machines: exact base units and exact value as strings, and the decimals."""
    raw = int(units)
    return {"units": str(raw), "value": from_units(raw, decimals), "decimals": decimals}


def amount_columns(name: str, units: int | str, decimals: int = TOKEN_DECIMALS) -> dict[str, str]:
    """CSV columns for one amount: ``<name>_units`` (exact base units), ``<name>`` (exact value).

    The table's single ``decimals`` column is added by the writer, once per row.
    """
    raw = int(units)
    return {f"{name}_units": str(raw), name: from_units(raw, decimals)}


def units_of(value: Any) -> int:
    """Base units back from :func:`amount_json`'s object, a decimal string of units, or an int."""
    if isinstance(value, dict):
        return int(value["units"])
    return int(value)
