"""Addresses as people type them: hex with a valid EIP-55 checksum, or a keystore account's name.

Like Foundry's ``cast``, a mixed-case address whose checksum does not verify is refused (one
mistyped character would otherwise send tokens or a role to a stranger); an all-lowercase or
all-uppercase address carries no checksum and is accepted. Anywhere an address is taken, the
name of an account in the keystore directory works too (``--aggregator carol``).
"""

from __future__ import annotations

import re
from pathlib import Path

from eth_utils import to_checksum_address

from marketplace.chain.keystore import list_accounts
from marketplace.errors import ConfigError

_HEX_ADDRESS = re.compile(r"0[xX][0-9a-fA-F]{40}")


def parse_address(text: str) -> str:
    """The checksummed form of a hex address; ConfigError when malformed or mis-checksummed."""
    value = text.strip()
    if not _HEX_ADDRESS.fullmatch(value):
        raise ConfigError(
            f"{value!r} is not an address",
            hint="an address is 0x followed by 40 hex digits, or the name of an account",
        )
    body = value[2:]
    checksummed = str(to_checksum_address("0x" + body.lower()))
    if body not in (body.lower(), body.upper()) and "0x" + body != checksummed:
        raise ConfigError(
            f"{value} fails its EIP-55 checksum: a character is probably mistyped",
            hint="copy the address again; all lower case skips the check",
        )
    return checksummed


def looks_like_address(text: str) -> bool:
    """True for anything meant as a hex address (starts with 0x), valid or not."""
    return text.strip().lower().startswith("0x")


def resolve_address(text: str, keystore_dir: Path) -> str:
    """An address from a hex address or the name of an account under ``keystore_dir``."""
    if looks_like_address(text):
        return parse_address(text)
    for entry in list_accounts(keystore_dir):
        if entry.path.stem == text or entry.path.name == text:
            return entry.address
    raise ConfigError(
        f"no account named {text!r}, and it is not an address",
        hint="see `fedmarket account list`, or pass 0x followed by 40 hex digits",
    )
