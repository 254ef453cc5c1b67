"""The devnet faucet: dev account 0 (the token's owner) mints tokens and sends ETH for gas."""

from __future__ import annotations

from web3 import Web3

from devnet.accounts import dev_account
from marketplace.chain.contracts import revert_decoder, token_contract
from marketplace.chain.deployments import Deployments
from marketplace.chain.transactor import Transactor
from marketplace.errors import ConfigError

TOKEN_UNIT = 10**18


def fund(w3: Web3, deployments: Deployments, address: str, *, tokens: int, eth: float) -> None:
    """Give ``address`` ``tokens`` whole FMT and ``eth`` ETH from the devnet's faucet account."""
    if not Web3.is_address(address):
        raise ConfigError(f"not an Ethereum address: {address!r}")
    if tokens < 0 or eth < 0:
        raise ConfigError("fund amounts must not be negative")
    target = Web3.to_checksum_address(address)
    faucet = dev_account(0)
    tx = Transactor(w3, faucet, revert_decoder())
    if tokens:
        token = token_contract(w3, deployments.token)
        tx.transact(token.functions.mint(target, tokens * TOKEN_UNIT), name="mint")
    if eth:
        nonce = w3.eth.get_transaction_count(faucet.address, "pending")
        signed = faucet.sign_transaction(
            {
                "to": target,
                "value": int(eth * 10**18),
                "gas": 21_000,
                "nonce": nonce,
                "chainId": w3.eth.chain_id,
                "gasPrice": int(w3.eth.gas_price) * 2,
            }
        )
        tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
        w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)
