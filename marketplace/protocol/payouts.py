"""Cumulative payouts and claims: what each address is owed, and the proof to collect it.

Each settlement's payout root covers the *cumulative* amounts of every valid round so far, so
one claim against the latest final root collects everything at once (claim gas does not grow
with the number of rounds). The amounts come from the latest final round report on IPFS.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from marketplace.chain.client import MarketplaceClient
from marketplace.errors import ProtocolError
from marketplace.protocol.ledger_lookup import find_event
from marketplace.protocol.merkle import PayoutTree
from marketplace.protocol.round_report import RoundReport
from marketplace.storage import ContentStore


@dataclass(frozen=True)
class Entitlement:
    """What ``account`` can claim in total, with the Merkle proof for the final root."""

    cumulative: int
    proof: list[bytes]
    round: int


def add_payouts(base: Mapping[str, int], round_payouts: Mapping[str, int]) -> dict[str, int]:
    """Cumulative amounts after a round (addresses as given; zero entries kept out)."""
    total = dict(base)
    for account, amount in round_payouts.items():
        if amount < 0:
            raise ValueError(f"negative payout for {account}")
        if amount:
            total[account] = total.get(account, 0) + int(amount)
    return total


def load_report(store: ContentStore, cid: str) -> RoundReport:
    return RoundReport.from_json(store.cat_bytes(cid))


def final_report(
    client: MarketplaceClient, store: ContentStore, task_id: int
) -> RoundReport | None:
    """The report of the latest final, valid settlement (None before the first one)."""
    last_final = int(client.task(task_id).last_final_round)
    if last_final == 0:
        return None
    events = client.task_events(task_id)
    settled = find_event(events, "RoundSettled", last_final)
    if settled is None:
        raise ProtocolError(f"round {last_final} is final but has no RoundSettled event")
    return load_report(store, str(settled.args["report_cid"]))


def claim_entitlement(
    client: MarketplaceClient, store: ContentStore, task_id: int, account: str
) -> Entitlement | None:
    """``account``'s cumulative entitlement under the latest final root, or None if nothing."""
    report = final_report(client, store, task_id)
    if report is None:
        return None
    amounts = {a.lower(): v for a, v in report.cumulative_payouts.items()}
    cumulative = amounts.get(account.lower(), 0)
    if cumulative == 0:
        return None
    tree = PayoutTree(report.cumulative_payouts)
    if "0x" + tree.root.hex() != report.payout_root.lower():
        raise ProtocolError(f"round {report.round}'s report does not match its payout root")
    return Entitlement(cumulative=cumulative, proof=tree.proof(account), round=report.round)
