"""Deploying RewardToken and Marketplace to a fresh chain and funding the dev accounts."""

from __future__ import annotations

from web3 import Web3

from devnet.accounts import dev_accounts
from marketplace.chain.contracts import artifact, artifact_hash, revert_decoder, token_contract
from marketplace.chain.deployments import Deployments
from marketplace.chain.transactor import Transactor

#: Tokens (in whole FMT) minted to every dev account at deployment.
DEV_FUNDING_TOKENS = 1_000_000
TOKEN_DECIMALS = 18


def deploy_all(w3: Web3, *, rpc_url: str, engine: str) -> Deployments:
    """Deploy both contracts from dev account 0 and mint tokens to every dev account."""
    deployer = dev_accounts(1)[0]
    tx = Transactor(w3, deployer, revert_decoder())
    token_art, market_art = artifact("RewardToken"), artifact("Marketplace")
    token_address, token_receipt = tx.deploy(token_art["abi"], token_art["bytecode"])
    market_address, _ = tx.deploy(market_art["abi"], market_art["bytecode"], token_address)
    token = token_contract(w3, token_address)
    amount = DEV_FUNDING_TOKENS * 10**TOKEN_DECIMALS
    for acct in dev_accounts():
        tx.transact(token.functions.mint(acct.address, amount), name="mint")
    return Deployments(
        chain_id=int(w3.eth.chain_id),
        rpc_url=rpc_url,
        engine=engine,
        deployed_block=token_receipt.block_number,
        contracts={"Marketplace": market_address, "RewardToken": token_address},
        artifact_hashes={n: artifact_hash(n) for n in ("Marketplace", "RewardToken")},
        deployer=deployer.address,
    )
