"""Gas of every Marketplace call that scales, measured on a real Anvil started for the run.

Prints (``--json``: one object)::

    {"create_task": g, "join": g, "commit": g, "reveal": g,
     "settle": {"10": g, "100": g, "1000": g},          # by participants paid in the round
     "claim": {"1": g, "10": g, "100": g},              # by rounds collected in one claim
     "push_payout_baseline": {"10": g, "100": g}}       # same payees paid by direct transfers

Targets: commit + reveal per participant per round <= 120k; settle <= 150k whatever the number
of participants; a claim covering any number of rounds <= 100k. Settlement and claims do not
loop over participants: settle stores one Merkle root, a claim verifies one proof, so the
baseline (one ERC-20 transfer per payee) is what the pull design avoids.

    python bench/gas.py [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from eth_account import Account

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devnet import manager
from devnet.accounts import dev_account
from devnet.process import free_port
from marketplace.chain.client import MarketplaceClient
from marketplace.chain.commitment import commitment
from marketplace.chain.rpc import connect
from marketplace.chain.structs import TaskParams
from marketplace.chain.transactor import Transactor
from marketplace.protocol.merkle import PayoutTree
from marketplace.settings import Settings

TOKEN = 10**18
CID = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
TARGETS = {"commit_plus_reveal": 120_000, "settle": 150_000, "claim": 100_000}


class Bench:
    def __init__(self, rpc_url: str, marketplace: str, token: str) -> None:
        self.w3 = connect(rpc_url)
        self.requester = MarketplaceClient(self.w3, marketplace, token, dev_account(1))
        self.aggregator = self.requester.with_account(dev_account(2))
        self.participant = self.requester.with_account(dev_account(3))
        self.participant.approve(10**30)
        self.aggregator.approve(10**30)
        self.requester.approve(10**30)

    def advance(self, seconds: int) -> None:
        self.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    def new_task(self, rounds: int) -> int:
        params = TaskParams(
            spec_cid=CID, initial_model_cid=CID, validation_sha256=bytes(32), rounds=rounds,
            round_budget=1000 * TOKEN, min_stake=TOKEN, commit_window=10, reveal_window=10,
            settle_window=100, challenge_window=10, aggregator=self.aggregator.address,
            settle_bond=TOKEN, slash_bps=1000, max_samples=10_000,
        )  # fmt: skip
        return self.requester.create_task(params)

    def gas(self, client: MarketplaceClient, name: str) -> int:
        return client.gas_log.last(name)

    def one_round(
        self, task: int, round_: int, root: bytes, paid: int, *, commit_reveal: bool = False
    ) -> dict[str, int]:
        out: dict[str, int] = {}
        self.aggregator.open_round(task, CID)
        if commit_reveal:
            salt, digest = os.urandom(32), os.urandom(32)
            c = commitment(task, round_, CID, digest, 100, self.participant.address, salt)
            self.participant.commit(task, c)
            out["commit"] = self.gas(self.participant, "commit")
            self.advance(11)
            self.participant.reveal(task, CID, digest, 100, salt)
            out["reveal"] = self.gas(self.participant, "reveal")
            self.advance(11)
        else:
            self.advance(22)
        self.aggregator.settle(task, CID, CID, root, paid)
        out["settle"] = self.gas(self.aggregator, "settle")
        self.advance(11)
        return out


def payees(n: int) -> list[str]:
    return [Account.create().address for _ in range(n)]


def run() -> dict[str, object]:
    home = Path(tempfile.mkdtemp(prefix="fedmarket-gas-"))
    settings = Settings(home=home)
    up = manager.up(settings, port=free_port())
    try:
        b = Bench(up.deployments.rpc_url, up.deployments.marketplace, up.deployments.token)
        result: dict[str, object] = {}
        task = b.new_task(rounds=1)
        result["create_task"] = b.gas(b.requester, "createTask")
        b.participant.join(task, TOKEN)
        result["join"] = b.gas(b.participant, "join")
        me = b.participant.address
        tree = PayoutTree({me: 10 * TOKEN, **{a: TOKEN for a in payees(9)}})
        first = b.one_round(task, 1, tree.root, 19 * TOKEN, commit_reveal=True)
        result["commit"], result["reveal"] = first["commit"], first["reveal"]

        settle: dict[str, int] = {}
        for n in (10, 100, 1000):
            t = b.new_task(rounds=1)
            amounts = {a: TOKEN for a in payees(n)}
            tree = PayoutTree(amounts)
            settle[str(n)] = b.one_round(t, 1, tree.root, n * TOKEN)["settle"]
        result["settle"] = settle

        claim: dict[str, int] = {}
        for rounds in (1, 10, 100):
            t = b.new_task(rounds=rounds)
            b.participant.join(t, TOKEN)
            others = payees(15)
            for r in range(1, rounds + 1):  # cumulative amounts grow every round
                tree = PayoutTree({me: r * TOKEN, **{a: r * TOKEN for a in others}})
                b.one_round(t, r, tree.root, 16 * TOKEN)
            b.aggregator.finalize(t)
            b.participant.claim(t, rounds * TOKEN, tree.proof(me))
            claim[str(rounds)] = b.gas(b.participant, "claim")
        result["claim"] = claim

        baseline: dict[str, int] = {}
        pusher = Transactor(b.w3, dev_account(4), b.requester.tx.decoder)
        for n in (10, 100):
            total = 0
            for address in payees(n):
                receipt = pusher.transact(b.requester.token.functions.transfer(address, TOKEN))
                total += receipt.gas_used
            baseline[str(n)] = total
        result["push_payout_baseline"] = baseline
        return result
    finally:
        manager.down(settings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    result = run()
    if args.json:
        print(json.dumps(result))
        return 0
    cr = int(result["commit"]) + int(result["reveal"])  # type: ignore[call-overload]
    settle = dict(result["settle"])  # type: ignore[call-overload]
    claim = dict(result["claim"])  # type: ignore[call-overload]
    base = dict(result["push_payout_baseline"])  # type: ignore[call-overload]
    print(f"createTask {result['create_task']:>9,}   join {result['join']:>9,}")
    print(f"commit+reveal {cr:>9,}   (target <= {TARGETS['commit_plus_reveal']:,})")
    for n, g in settle.items():
        push = base.get(n)
        ratio = f"   push baseline {push:,} ({push / g:.1f}x settle)" if push else ""
        print(f"settle, {n:>4} paid {g:>9,}   (target <= {TARGETS['settle']:,}){ratio}")
    for n, g in claim.items():
        print(f"claim, {n:>3} rounds {g:>8,}   (target <= {TARGETS['claim']:,})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
