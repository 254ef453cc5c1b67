"""The devnet's well-known development accounts (public test keys: never use them for value)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

#: Anvil's and Hardhat's default mnemonic. Its keys are public; they exist only on devnets.
DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_ACCOUNT_COUNT = 10


@cache
def dev_account(index: int) -> LocalAccount:
    """Account ``index`` of the dev mnemonic (BIP-44 path m/44'/60'/0'/0/index)."""
    if not 0 <= index < 1000:
        raise ValueError(f"dev account index out of range: {index}")
    from eth_account import Account  # imported here: eth_account is slow to import

    Account.enable_unaudited_hdwallet_features()
    acct: LocalAccount = Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
    return acct


def dev_accounts(count: int = DEV_ACCOUNT_COUNT) -> list[LocalAccount]:
    """The first ``count`` dev accounts (0 deploys and acts as the faucet)."""
    return [dev_account(i) for i in range(count)]
