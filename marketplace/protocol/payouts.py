"""Per-round payouts and claims: what an address can claim, round by round, with its proofs.

Each settlement's payout root covers that round's payouts only; a round's amounts come from
its effective report on IPFS (the arbiter's corrected one where it upheld a challenge), which
must hash to the root the chain finalized. One `claim` transaction collects any number of
final rounds (:func:`claimable_rounds` builds the list).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from marketplace.chain.client import MarketplaceClient
from marketplace.chain.structs import Phase, RoundClaim
from marketplace.errors import FedmarketError, ProtocolError
from marketplace.protocol.ledger import Ledger, RoundLedger
from marketplace.protocol.merkle import PayoutTree
from marketplace.protocol.round_report import RoundReport
from marketplace.storage import ContentStore


def load_report(store: ContentStore, cid: str) -> RoundReport:
    return RoundReport.from_json(store.cat_bytes(cid))


def round_tree(report: RoundReport) -> PayoutTree:
    """The payout tree of ``report``'s round (what its settlement's root must be)."""
    return PayoutTree(report.task_id, report.round, report.round_payouts)


def effective_report(store: ContentStore, rl: RoundLedger) -> RoundReport:
    """The report of ``rl``'s effective settlement, checked against the settled root."""
    settlement = rl.effective
    if settlement is None:
        raise ProtocolError(f"round {rl.round} has no settlement")
    report = load_report(store, str(settlement["report_cid"]))
    root = round_tree(report).root_hex
    if root != str(settlement["payout_root"]).lower() or report.round != rl.round:
        raise ProtocolError(
            f"round {rl.round}'s report {settlement['report_cid']} does not match its settled "
            "payout root",
            hint="the settlement can be challenged during its challenge window",
        )
    return report


@dataclass
class Claimable:
    """What ``account`` can claim now: one entry per round, and rounds it cannot claim (why)."""

    claims: list[RoundClaim] = field(default_factory=list)
    problems: dict[int, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(c.amount for c in self.claims)

    @property
    def rounds(self) -> list[int]:
        return [c.round for c in self.claims]


def due_round(client: MarketplaceClient, task_id: int, ledger: Ledger) -> int | None:
    """The latest round when its settlement is due to become final without a ruling but has
    not been finalized yet (finalization is lazy; `claim` finalizes it first)."""
    if not ledger.rounds:
        return None
    last = max(ledger.rounds)
    rl = ledger.rounds[last]
    if rl.final or rl.settlement is None:
        return None
    phase = client.phase(task_id)
    return last if phase in (Phase.FINAL, Phase.ENDED) else None


def claimable_rounds(
    client: MarketplaceClient,
    store: ContentStore,
    task_id: int,
    account: str,
    ledger: Ledger | None = None,
) -> Claimable:
    """Every final round ``account`` revealed in, was paid in and has not claimed yet, with
    its amount and proof (a round due to become final counts: `claim` finalizes it first)."""
    if ledger is None:
        ledger = Ledger.from_events(task_id, client.task_events(task_id))
    due = due_round(client, task_id, ledger)
    who = account.lower()
    result = Claimable()
    for r in sorted(ledger.rounds):
        rl = ledger.rounds[r]
        if not (rl.final or r == due):
            continue
        if who not in {p.lower() for p in rl.reveals}:
            continue  # the chain pays only a round's revealers
        if any(a.lower() == who for a in rl.claims):
            continue
        try:
            report = effective_report(store, rl)
        except FedmarketError as exc:
            result.problems[r] = exc.user_message()
            continue
        tree = round_tree(report)
        amounts = {a.lower(): v for a, v in tree.amounts.items()}
        amount = amounts.get(who, 0)
        if amount:
            result.claims.append(RoundClaim(r, amount, tree.proof(account)))
    return result
