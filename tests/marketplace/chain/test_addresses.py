"""Addresses from people: checksums are enforced like Foundry's cast, account names resolve."""

from __future__ import annotations

from pathlib import Path

import pytest

from marketplace.chain.addresses import parse_address, resolve_address
from marketplace.chain.keystore import create_account
from marketplace.errors import ConfigError

GOOD = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"  # EIP-55's own example


@pytest.mark.parametrize("text", [GOOD, GOOD.lower(), "0x" + GOOD[2:].upper(), f"  {GOOD} "])
def test_valid_or_unchecksummed_addresses_are_accepted(text: str) -> None:
    assert parse_address(text) == GOOD


@pytest.mark.parametrize(
    "text",
    [
        GOOD.replace("aAeb", "aaeb"),  # one letter's case flipped: the checksum fails
        "0x1234",
        "0x" + "g" * 40,
        GOOD + "00",
        "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    ],
)
def test_bad_addresses_are_one_line_config_errors(text: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_address(text)

    assert "\n" not in info.value.user_message()


def test_account_names_resolve_to_their_address(tmp_path: Path) -> None:
    entry = create_account(tmp_path, "pw", name="carol")

    assert resolve_address("carol", tmp_path) == entry.address
    assert resolve_address("carol.json", tmp_path) == entry.address
    with pytest.raises(ConfigError, match="no account named 'dave'"):
        resolve_address("dave", tmp_path)
