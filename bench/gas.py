"""Gas of every Marketplace call, measured on a real Anvil started for the run.

Prints a table, or with ``--json`` one object (gas units; dicts are keyed by a size)::

    {"create_task": g, "join": g, "open_round": g,      # round 1: pulls the aggregator's bond
     "open_round_next": g,                              # a later round: bond already held
     "commit": g, "reveal": g, "commit_plus_reveal": g,
     "settle": {"10": g, "100": g, "1000": g},          # by payees in the round's tree
     "finalize": g,
     "claim": {"1": g, "2": g, "10": g, "100": g},      # by rounds collected in one claim
     "claim_one_round": g,                              # = claim["1"]
     "claim_extra_round": g,                            # marginal gas of each further round
     "claim_finalizing": g,                             # one round, finalized lazily by claim
     "challenge": g, "reveal_evidence": g, "reject": g, "uphold": g, "collect_challenge": g,
     "push_payout_baseline": {"10": g, "100": g}}       # same payees paid by direct transfers

``claim_extra_round`` is ``(claim[N] - claim[1]) / (N - 1)`` for the largest N measured; the
per-step marginals (``claim_marginals``) show it is flat. Payout trees are per round (16 payees
here, so 4-node proofs); claiming pays every round's leaf separately but in one transfer.

Targets: commit + reveal per participant per round <= 120k; settle <= 150k whatever the number
of payees (it stores one Merkle root: the push baseline is what the pull design avoids); a claim
of one round <= 100k.

Measured on this machine's Anvil (fresh run, ``python bench/gas.py``; gas is deterministic up
to a few units from random addresses and salts): figures in bench/README.md.
Last run: commit + reveal 108,429; settle 114,016 at 1000 payees; claim_one_round 75,848;
claim_extra_round 17,627; openRound 1 94,126; challenge 107,961; uphold 102,449.

    python bench/gas.py [--json] [--claim-rounds 1,2,10,100]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from eth_account import Account

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devnet import manager
from devnet.accounts import dev_account
from devnet.process import free_port
from marketplace.chain.client import MarketplaceClient
from marketplace.chain.commitment import commitment, evidence_commitment
from marketplace.chain.rpc import connect
from marketplace.chain.structs import RoundClaim, TaskParams
from marketplace.chain.transactor import Transactor
from marketplace.protocol.merkle import PayoutTree
from marketplace.settings import Settings

TOKEN = 10**18
CID = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
EVIDENCE_CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
TARGETS = {"commit_plus_reveal": 120_000, "settle": 150_000, "claim_one_round": 100_000}
#: Dev accounts by role (tests/fmkit.py's convention, plus a participant and a challenger).
ARBITER, REQUESTER, AGGREGATOR, PARTICIPANT, CHALLENGER, PUSHER = 0, 1, 2, 3, 4, 5
#: Others paid in every claim round's tree besides the participant (16 leaves in all).
OTHER_PAYEES = 15


class Bench:
    """The roles' clients on one marketplace, with windows at least its ``minWindow``."""

    def __init__(self, rpc_url: str, marketplace: str, token: str) -> None:
        self.w3 = connect(rpc_url)
        self.requester = MarketplaceClient(self.w3, marketplace, token, dev_account(REQUESTER))
        self.aggregator = self.requester.with_account(dev_account(AGGREGATOR))
        self.arbiter = self.requester.with_account(dev_account(ARBITER))
        self.participant = self.requester.with_account(dev_account(PARTICIPANT))
        self.challenger = self.requester.with_account(dev_account(CHALLENGER))
        for client in (self.requester, self.aggregator, self.participant, self.challenger):
            client.approve(10**30)
        self.window = max(10, self.requester.min_window())

    def advance(self, seconds: int) -> None:
        self.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    def new_task(self, rounds: int) -> int:
        w = self.window
        params = TaskParams(
            spec_cid=CID, initial_model_cid=CID, validation_sha256=bytes(32), rounds=rounds,
            round_budget=1000 * TOKEN, min_stake=TOKEN, commit_window=w, reveal_window=w,
            settle_window=10 * w, challenge_window=w, resolve_window=w, claim_window=100 * w,
            aggregator=self.aggregator.address, arbiter=self.arbiter.address,
            settle_bond=TOKEN, slash_bps=1000, max_samples=10_000,
        )  # fmt: skip
        return self.requester.create_task(params)

    def gas(self, name: str) -> int:
        return self.requester.gas_log.last(name)

    def play_round(
        self, task: int, round_: int, tree: PayoutTree | None, *, reveal: bool = True
    ) -> dict[str, int]:
        """Open, commit and reveal (the participant), settle ``tree``; the challenge window
        is left open (call :meth:`finalize` or challenge next)."""
        out: dict[str, int] = {}
        self.aggregator.open_round(task, CID)
        out["openRound"] = self.gas("openRound")
        if reveal:
            salt, digest = os.urandom(32), os.urandom(32)
            c = commitment(task, round_, CID, digest, 100, self.participant.address, salt)
            self.participant.commit(task, c)
            out["commit"] = self.gas("commit")
            self.advance(self.window + 1)
            self.participant.reveal(task, CID, digest, 100, salt)
            out["reveal"] = self.gas("reveal")
            self.advance(self.window + 1)
        else:
            self.advance(2 * self.window + 2)
        root = tree.root if tree is not None else bytes(32)
        paid = sum(tree.amounts.values()) if tree is not None else 0
        self.aggregator.settle(task, CID, CID, root, paid)
        out["settle"] = self.gas("settle")
        return out

    def finalize(self, task: int) -> int:
        self.advance(self.window + 1)
        self.aggregator.finalize(task)
        return self.gas("finalize")


def payees(n: int) -> list[str]:
    return [Account.create().address for _ in range(n)]


def round_tree(task: int, round_: int, me: str, others: list[str]) -> PayoutTree:
    """Round ``round_``'s tree: ``me`` gets ``round_`` tokens, each of ``others`` one."""
    return PayoutTree(task, round_, {me: round_ * TOKEN, **{a: TOKEN for a in others}})


def measure_claims(b: Bench, sizes: list[int]) -> dict[str, Any]:
    """Claims of 1..N final rounds in one transaction, and a claim that finalizes lazily."""
    me = b.participant.address
    claim: dict[str, int] = {}
    for rounds in sizes:
        t = b.new_task(rounds=rounds)
        b.participant.join(t, TOKEN)
        others = payees(OTHER_PAYEES)
        claims = []
        for r in range(1, rounds + 1):
            tree = round_tree(t, r, me, others)
            b.play_round(t, r, tree)
            b.finalize(t)
            claims.append(RoundClaim(r, r * TOKEN, tree.proof(me)))  # see round_tree
        b.participant.claim(t, claims)
        claim[str(rounds)] = b.gas("claim")
    ordered = sorted((int(k), v) for k, v in claim.items())
    marginals = {
        f"{n0}->{n1}": round((g1 - g0) / (n1 - n0))
        for (n0, g0), (n1, g1) in itertools.pairwise(ordered)
    }
    (n_first, g_first), (n_last, g_last) = ordered[0], ordered[-1]
    out: dict[str, Any] = {"claim": claim, "claim_marginals": marginals}
    if n_first == 1:
        out["claim_one_round"] = g_first
    if n_last > n_first:
        out["claim_extra_round"] = round((g_last - g_first) / (n_last - n_first))

    t = b.new_task(rounds=1)  # settled, challenge window over, not finalized: claim finalizes
    b.participant.join(t, TOKEN)
    tree = round_tree(t, 1, me, payees(OTHER_PAYEES))
    b.play_round(t, 1, tree)
    b.advance(b.window + 1)
    b.participant.claim(t, [RoundClaim(1, TOKEN, tree.proof(me))])
    out["claim_finalizing"] = b.gas("claim")
    return out


def measure_disputes(b: Bench) -> dict[str, int]:
    """A challenge with revealed evidence, rejected on one task and upheld on another."""
    out: dict[str, int] = {}
    me = b.participant.address
    for ruling in ("reject", "uphold"):
        t = b.new_task(rounds=1)
        b.participant.join(t, TOKEN)
        tree = round_tree(t, 1, me, payees(OTHER_PAYEES))
        b.play_round(t, 1, tree)
        salt = os.urandom(32)
        b.challenger.challenge(
            t, 1, evidence_commitment(t, 1, EVIDENCE_CID, b.challenger.address, salt)
        )
        out["challenge"] = b.gas("challenge")
        b.advance(b.window + 1)
        b.challenger.reveal_evidence(t, 1, EVIDENCE_CID, salt)
        out["reveal_evidence"] = b.gas("revealEvidence")
        b.advance(b.window + 1)
        if ruling == "reject":
            b.arbiter.reject(t, 1)
            out["reject"] = b.gas("reject")
        else:
            corrected = PayoutTree(t, 1, {me: TOKEN})
            b.arbiter.uphold(t, 1, CID, CID, corrected.root, TOKEN)
            out["uphold"] = b.gas("uphold")
            b.challenger.collect_challenge(t, 1)
            out["collect_challenge"] = b.gas("collectChallenge")
    return out


def run(claim_sizes: list[int]) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="fedmarket-gas-"))
    settings = Settings(home=home)
    up = manager.up(settings, port=free_port())
    try:
        b = Bench(up.deployments.rpc_url, up.deployments.marketplace, up.deployments.token)
        result: dict[str, Any] = {}
        task = b.new_task(rounds=2)
        result["create_task"] = b.gas("createTask")
        b.participant.join(task, TOKEN)
        result["join"] = b.gas("join")
        me = b.participant.address
        others = payees(9)
        first = b.play_round(task, 1, round_tree(task, 1, me, others))
        result["open_round"] = first["openRound"]
        result["commit"], result["reveal"] = first["commit"], first["reveal"]
        result["commit_plus_reveal"] = first["commit"] + first["reveal"]
        result["finalize"] = b.finalize(task)
        second = b.play_round(task, 2, round_tree(task, 2, me, others))
        result["open_round_next"] = second["openRound"]

        settle: dict[str, int] = {}
        for n in (10, 100, 1000):
            t = b.new_task(rounds=1)
            tree = PayoutTree(t, 1, {a: TOKEN for a in payees(n)})
            settle[str(n)] = b.play_round(t, 1, tree, reveal=False)["settle"]
        result["settle"] = settle

        result.update(measure_claims(b, claim_sizes))
        result.update(measure_disputes(b))

        baseline: dict[str, int] = {}
        pusher = Transactor(b.w3, dev_account(PUSHER), b.requester.tx.decoder)
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


def table(result: dict[str, Any]) -> list[str]:
    """The figures as aligned lines, with the targets and the push baseline's ratio."""

    def row(label: str, gas: int, note: str = "") -> str:
        return f"{label:<34} {gas:>10,}{'   ' + note if note else ''}"

    lines = [
        row("createTask", result["create_task"]),
        row("join", result["join"]),
        row("openRound 1 (posts the bond)", result["open_round"]),
        row("openRound 2 (bond held)", result["open_round_next"]),
        row("commit", result["commit"]),
        row("reveal", result["reveal"]),
        row("commit + reveal", result["commit_plus_reveal"],
            f"(target <= {TARGETS['commit_plus_reveal']:,})"),
    ]  # fmt: skip
    base = result["push_payout_baseline"]
    for n, g in result["settle"].items():
        push = base.get(n)
        ratio = f"; push baseline {push:,} = {push / g:.1f}x" if push else ""
        lines.append(row(f"settle, {n} payees", g, f"(target <= {TARGETS['settle']:,}{ratio})"))
    lines.append(row("finalize (unchallenged)", result["finalize"]))
    for n, g in result["claim"].items():
        lines.append(row(f"claim, {n} round{'s' if n != '1' else ''}", g))
    if "claim_one_round" in result:
        lines.append(row("claim_one_round", result["claim_one_round"],
                         f"(target <= {TARGETS['claim_one_round']:,})"))  # fmt: skip
    if "claim_extra_round" in result:
        steps = ", ".join(f"{k}: {v:,}" for k, v in result["claim_marginals"].items())
        lines.append(row("claim_extra_round", result["claim_extra_round"], f"({steps})"))
    lines.append(row("claim, 1 round, finalizing lazily", result["claim_finalizing"]))
    for key, label in (
        ("challenge", "challenge (posts the bond)"),
        ("reveal_evidence", "revealEvidence"),
        ("reject", "reject"),
        ("uphold", "uphold"),
        ("collect_challenge", "collectChallenge (upheld)"),
    ):
        lines.append(row(label, result[key]))
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--claim-rounds",
        default="1,2,10,100",
        help="rounds collected per measured claim, comma-separated (include 1)",
    )
    args = parser.parse_args()
    sizes = sorted({int(x) for x in args.claim_rounds.split(",") if x.strip()})
    if not sizes or sizes[0] < 1:
        parser.error("--claim-rounds needs positive round counts, e.g. 1,2,10")
    result = run(sizes)
    if args.json:
        print(json.dumps(result))
    else:
        print("\n".join(table(result)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
