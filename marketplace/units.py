"""Token amounts: whole-token decimal strings to integer base units and back."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from marketplace.errors import ConfigError

#: Decimals of the fedmarket reward token (FMT), as for most ERC-20 tokens.
TOKEN_DECIMALS = 18


def to_units(amount: str | int | float, decimals: int = TOKEN_DECIMALS) -> int:
    """Whole tokens (a decimal string like "12.5") to integer base units."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation as exc:
        raise ConfigError(f"not a token amount: {amount!r}") from exc
    units = value * (Decimal(10) ** decimals)
    if units < 0 or units != units.to_integral_value():
        raise ConfigError(f"token amount {amount} is negative or finer than 1e-{decimals}")
    return int(units)


def from_units(units: int, decimals: int = TOKEN_DECIMALS) -> str:
    """Integer base units to a readable decimal string of whole tokens."""
    value = Decimal(units) / (Decimal(10) ** decimals)
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
