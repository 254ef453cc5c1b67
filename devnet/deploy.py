"""Deploying RewardToken and Marketplace to a fresh chain and funding the dev accounts."""

from __future__ import annotations

from web3 import Web3

from devnet.accounts import dev_account, dev_accounts
from marketplace.chain.contracts import artifact, artifact_hash, revert_decoder, token_contract
from marketplace.chain.deployments import Deployments
from marketplace.chain.transactor import Transactor

#: Tokens (in whole FMT) minted to every dev account at deployment.
DEV_FUNDING_TOKENS = 1_000_000
TOKEN_DECIMALS = 18
#: The devnet Marketplace's `minWindow`, in seconds: the shortest window any task may use.
#: Anvil mines every transaction at once and an empty block every second (block time 1 s),
#: so a 2-second window always holds a block in which a transaction sent in time lands; the
#: demo's windows are a few seconds long. A production chain passes its own value to
#: :func:`deploy_marketplace` (several block times plus the participants' latency; see
#: docs/protocol.md, "Parameter bounds").
DEVNET_MIN_WINDOW_S = 2


def deploy_marketplace(tx: Transactor, token_address: str, *, min_window: int) -> str:
    """Deploy (from ``tx``'s account) a Marketplace paying in ``token_address`` whose task
    windows must all be at least ``min_window`` seconds; returns its address."""
    if min_window <= 0:
        raise ValueError("min_window must be a positive number of seconds")
    market_art = artifact("Marketplace")
    address, _ = tx.deploy(market_art["abi"], market_art["bytecode"], token_address, min_window)
    return address


def deploy_all(
    w3: Web3, *, rpc_url: str, engine: str, min_window: int = DEVNET_MIN_WINDOW_S
) -> Deployments:
    """Deploy both contracts from dev account 0 and mint tokens to every dev account."""
    deployer = dev_account(0)
    tx = Transactor(w3, deployer, revert_decoder())
    token_art = artifact("RewardToken")
    token_address, token_receipt = tx.deploy(token_art["abi"], token_art["bytecode"])
    market_address = deploy_marketplace(tx, token_address, min_window=min_window)
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
