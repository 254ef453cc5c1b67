"""Encrypted keystore accounts (Web3 Secret Storage via eth-account) under $FEDMARKET_HOME/keystore.

Private keys exist in memory only while a command runs; they are never printed or logged.
Passwords come from a prompt or from FEDMARKET_KEY_PASSWORD (for scripts and the demo).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from marketplace.atomic_files import write_json_atomic
from marketplace.errors import ConfigError

if TYPE_CHECKING:  # eth_account is slow to import; listing accounts does not need it
    from eth_account.signers.local import LocalAccount


@dataclass(frozen=True)
class KeystoreEntry:
    """A keystore file and the address it holds (readable without the password)."""

    path: Path
    address: str


def create_account(
    keystore_dir: Path, password: str, *, private_key: bytes | None = None, name: str | None = None
) -> KeystoreEntry:
    """Create (or import, with ``private_key``) an account and write its encrypted keystore."""
    from eth_account import Account

    if not password:
        raise ConfigError("an empty keystore password is not allowed")
    acct: LocalAccount = Account.from_key(private_key) if private_key else Account.create()
    encrypted = Account.encrypt(acct.key, password, iterations=2**16)  # scrypt n; fast enough
    filename = f"{name or acct.address.lower()}.json"
    path = keystore_dir / filename
    if path.exists():
        raise ConfigError(f"keystore {path} already exists")
    write_json_atomic(path, encrypted)
    os.chmod(path, 0o600)
    return KeystoreEntry(path=path, address=acct.address)


def list_accounts(keystore_dir: Path) -> list[KeystoreEntry]:
    """Every keystore in the directory, sorted by file name."""
    if not keystore_dir.exists():
        return []
    entries = []
    for path in sorted(keystore_dir.glob("*.json")):
        try:
            data = json.loads(path.read_text())
            address = "0x" + str(data["address"]).removeprefix("0x")
        except (ValueError, KeyError, TypeError):
            continue
        entries.append(KeystoreEntry(path=path, address=_checksum(address)))
    return entries


def resolve_keystore(key: str, keystore_dir: Path) -> Path:
    """A keystore path from a path, a file name in the keystore dir, or an address."""
    candidate = Path(key).expanduser()
    if candidate.is_file():
        return candidate
    for entry in list_accounts(keystore_dir):
        if entry.path.name in (key, f"{key}.json") or entry.address.lower() == key.lower():
            return entry.path
    raise ConfigError(
        f"no keystore found for {key!r}",
        hint=f"pass a keystore file, or create one with `fedmarket account new` in {keystore_dir}",
    )


def load_account(path: Path, password: str) -> LocalAccount:
    """Decrypt a keystore; a wrong password is a one-line error, not a traceback."""
    from eth_account import Account

    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read keystore {path}: {exc}") from exc
    try:
        key = Account.decrypt(data, password)
    except ValueError as exc:
        raise ConfigError(f"wrong password for keystore {path.name}") from exc
    acct: LocalAccount = Account.from_key(key)
    return acct


def _checksum(address: str) -> str:
    from web3 import Web3

    return str(Web3.to_checksum_address(address))
