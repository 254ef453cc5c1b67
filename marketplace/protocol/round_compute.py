"""One round's computation, shared by the coordinator (to settle) and the audit (to check).

``gather_inputs`` reads what the chain fixed for a round (its global model, the reveals in
commit order, the seed) and the valuation state the previous effective report carried;
``compute_round`` fetches and screens the updates (exact and near copies go to their earliest
committer), aggregates them into the new global model, values every accepted participant with
coalition models built by the same aggregation rule, turns values into integer payouts and
builds this round's payout Merkle root and the round report (a root covers its own round only).
Everything is a deterministic function of those inputs, so an auditor running the same code
on the same public artifacts reproduces the same CIDs and amounts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from eth_abi import encode
from eth_utils import keccak
from web3 import Web3

from marketplace.aggregators.registry import get_aggregator
from marketplace.chain.client import MarketplaceClient
from marketplace.errors import CorruptContent, FedmarketError, ProtocolError
from marketplace.protocol.dataset import Dataset, dataset_sha256
from marketplace.protocol.ledger import Ledger
from marketplace.protocol.ledger_lookup import TaskFacts
from marketplace.protocol.merkle import PayoutTree
from marketplace.protocol.payouts import load_report
from marketplace.protocol.round_report import RoundReport, SubmissionRecord, SubmissionStatus
from marketplace.protocol.task_spec import TaskSpec
from marketplace.protocol.update_checks import CandidateUpdate, RejectionReason, screen_updates
from marketplace.protocol.valuation_step import Validation, near_duplicates, value_round
from marketplace.protocol.weights import decode_weights, encode_weights, sha256_hex
from marketplace.storage import (  # compute_cid: CIDs without writing (audit)
    ContentStore,
    compute_cid,
)
from valuation.architecture import forward
from valuation.local_loss import disagreement_losses
from valuation.model_spec import ModelSpec, parameter_shapes
from valuation.report import InputDigests


@dataclass(frozen=True)
class Reveal:
    """A participant's revealed update reference, as the Revealed event published it."""

    participant: str
    cid: str
    sha256: str
    num_samples: int


#: Rejection reason for an all-zero update (the free-rider that returns the global model
#: unchanged). Aggregated, it would only shrink the honest step, which the coalition utility
#: can reward by chance; it carries no information, so it is neither aggregated nor paid.
EMPTY_UPDATE = RejectionReason.EMPTY_UPDATE
#: Rejection reason for a CID already revealed in an earlier round (copied or replayed).
REPLAYED_CID = RejectionReason.REPLAYED_CID


@dataclass(frozen=True)
class RoundInputs:
    """What the chain fixed for one round before valuation started."""

    task_id: int
    round: int
    marketplace: str
    chain_id: int
    spec_cid: str
    spec: TaskSpec
    global_model_cid: str
    reveals: list[Reveal]  # sorted by address
    replayed_cids: frozenset[str]  # CIDs revealed in earlier rounds (stale replays)
    seed: int
    seed_source: dict[str, Any]
    round_budget: int
    previous_report_cid: str  # the previous round's effective report ("" for round 1)
    commit_order: tuple[str, ...] = ()  # participants in Committed-event (chain) order
    previous_evidence: dict[str, Any] | None = None  # valuation state of the last valued round


@dataclass(frozen=True)
class RoundOutcome:
    """The settlement a round's inputs lead to, and the report that explains it."""

    report: RoundReport
    report_cid: str
    new_global_cid: str
    payout_root: bytes
    total_paid: int
    accuracy: float | None
    prev_params: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)
    accepted_updates: dict[str, dict[str, np.ndarray]] = field(
        default_factory=dict, repr=False, compare=False
    )
    evidence: dict[str, Any] | None = None  # the valuation state the next round starts from


def derive_seed(task_id: int, round_: int, block_hash: bytes) -> int:
    """The valuation seed: keccak256(abi.encode(taskId, round, blockHash)) truncated to 63 bits.

    ``block_hash`` is the hash of the block holding the round's last protocol event before
    valuation (its last reveal, else its last commit, else its opening), a value fixed on
    chain before the coordinator values anything and that anyone can look up.
    """
    digest = keccak(encode(["uint256", "uint32", "bytes32"], [task_id, round_, block_hash]))
    return int.from_bytes(digest[:8], "big") >> 1


def gather_inputs(
    client: MarketplaceClient,
    store: ContentStore,
    task_id: int,
    round_: int,
    facts: TaskFacts,
    spec: TaskSpec,
) -> RoundInputs:
    """Read a round's fixed inputs from the chain's events."""
    ledger = Ledger.from_events(task_id, client.task_events(task_id, facts.created_block))
    return inputs_from_ledger(
        client.w3,
        ledger,
        round_,
        spec,
        marketplace=client.market.address,
        previous_evidence=carried_evidence(ledger, store, round_),
    )


def carried_evidence(ledger: Ledger, store: ContentStore, round_: int) -> dict[str, Any] | None:
    """The valuation state carried into ``round_``: the one in the effective reports before it
    (as settled, or as the arbiter corrected them)."""
    previous = ledger.effective_before(round_)
    previous_cid = str(previous.effective["report_cid"]) if previous and previous.effective else ""
    return evidence_before(store, previous_cid)


def evidence_before(store: ContentStore, report_cid: str) -> dict[str, Any] | None:
    """The valuation state after the latest valued round up to report ``report_cid``.

    Follows ``previous_report_cid`` back past rounds that valued nobody; ``None`` before the
    first valued round (and for reports written before the state existed).
    """
    while report_cid:
        report = load_report(store, report_cid)
        if report.valuation is not None:
            state = report.valuation.get("state")
            return None if state is None else dict(state)
        report_cid = report.previous_report_cid
    return None


def inputs_from_ledger(
    w3: Web3,
    ledger: Ledger,
    round_: int,
    spec: TaskSpec,
    *,
    marketplace: str,
    previous_evidence: Mapping[str, Any] | None,
) -> RoundInputs:
    """A round's inputs from the event ledger (the coordinator, the arbiter and the audit all
    start from these; ``previous_evidence`` is the valuation state carried into this round:
    :func:`evidence_before` of the previous effective report, or the audit's own)."""
    rl = ledger.rounds.get(round_)
    if rl is None or not rl.global_model_cid:
        raise ProtocolError(f"round {round_} of task {ledger.task_id} was never opened")
    reveals = sorted(
        (
            Reveal(
                participant=p,
                cid=r["cid"],
                sha256=r["sha256"].removeprefix("0x"),
                num_samples=r["num_samples"],
            )
            for p, r in rl.reveals.items()
        ),
        key=lambda r: r.participant.lower(),
    )
    block_hash = bytes(w3.eth.get_block(rl.anchor_block)["hash"])
    previous = ledger.effective_before(round_)
    previous_effective = previous.effective if previous is not None else None
    return RoundInputs(
        task_id=ledger.task_id,
        round=round_,
        marketplace=str(marketplace),
        chain_id=int(w3.eth.chain_id),
        spec_cid=str(ledger.params["spec_cid"]),
        spec=spec,
        global_model_cid=rl.global_model_cid,
        reveals=reveals,
        replayed_cids=frozenset(ledger.revealed_before(round_)),
        seed=derive_seed(ledger.task_id, round_, block_hash),
        seed_source={"block_number": rl.anchor_block, "block_hash": "0x" + block_hash.hex()},
        round_budget=int(ledger.params["round_budget"]),
        previous_report_cid=str(previous_effective["report_cid"]) if previous_effective else "",
        commit_order=tuple(rl.commit_order),
        previous_evidence=None if previous_evidence is None else dict(previous_evidence),
    )


def fetch_candidates(inputs: RoundInputs, store: ContentStore) -> list[CandidateUpdate]:
    """Fetch and decode every revealed update; failures become candidates carrying the error."""
    shapes = parameter_shapes(inputs.spec.model)
    candidates = []
    for reveal in inputs.reveals:
        try:
            blob = store.cat_bytes(reveal.cid)
            if sha256_hex(blob) != reveal.sha256.lower():
                raise CorruptContent(f"{reveal.cid}: bytes do not match the revealed sha256")
            params = decode_weights(blob, shapes, max_bytes=inputs.spec.max_update_bytes)
            candidates.append(
                CandidateUpdate(reveal.participant, params, reveal.num_samples, reveal.cid)
            )
        except FedmarketError as exc:
            candidates.append(
                CandidateUpdate(reveal.participant, None, reveal.num_samples, reveal.cid, error=exc)
            )
    return candidates


class NeedsValidation(ProtocolError):
    """The step asked for needs the validation set (e.g. q-FFL's per-participant losses)."""


def compute_round(
    inputs: RoundInputs,
    store: ContentStore,
    validation: Validation | None,
    *,
    publish: bool = True,
) -> RoundOutcome:
    """Aggregate, value and pay one round; with ``publish`` the new model and report are stored.

    Without a validation set (the public audit, before the requester publishes it) the round is
    screened and aggregated only: the outcome's report then has the submissions and the new
    model's CID, no valuation, no payouts and no accuracy.
    """
    spec = inputs.spec
    shapes = parameter_shapes(spec.model)
    prev_blob = store.cat_bytes(inputs.global_model_cid)
    prev_params = decode_weights(prev_blob, shapes, max_bytes=spec.max_update_bytes)
    fresh = [r for r in inputs.reveals if r.cid not in inputs.replayed_cids]
    candidates = fetch_candidates(replace(inputs, reveals=fresh), store)
    rank = {p: i for i, p in enumerate(inputs.commit_order)}
    accepted, rejected = screen_updates(
        candidates,
        spec.model,
        max_norm=spec.max_update_norm,
        commit_rank=rank if inputs.commit_order else None,
    )
    rejected_by = {r.participant: (r.reason, r.detail) for r in rejected}
    for reveal in inputs.reveals:
        if reveal.cid in inputs.replayed_cids:
            rejected_by[reveal.participant] = (
                REPLAYED_CID,
                f"{reveal.cid} was revealed in an earlier round: a stale copy, not new work",
            )
    for cand in accepted:
        if cand.params is not None and all(not np.any(v) for v in cand.params.values()):
            rejected_by[cand.participant] = (
                EMPTY_UPDATE,
                "the update is all zeros: the global "
                "model returned unchanged carries no information",
            )
    accepted = [c for c in accepted if c.participant not in rejected_by]
    players = [c.participant for c in accepted]
    priority = [rank.get(p, len(rank) + i) for i, p in enumerate(players)]
    copies = near_duplicates(
        [c.params for c in accepted if c.params is not None],
        players,
        priority,
        spec.valuation.duplicate_threshold,
    )
    for participant, detail in copies.items():
        rejected_by[participant] = (RejectionReason.NEAR_DUPLICATE, detail)
    accepted = [c for c in accepted if c.participant not in rejected_by]
    submissions = []
    for reveal in inputs.reveals:
        rej = rejected_by.get(reveal.participant)
        submissions.append(
            SubmissionRecord(
                participant=reveal.participant,
                cid=reveal.cid,
                sha256=reveal.sha256,
                num_samples=reveal.num_samples,
                status=SubmissionStatus.REJECTED if rej else SubmissionStatus.ACCEPTED,
                reason=rej[0] if rej else "",
                detail=rej[1] if rej else "",
            )
        )
    updates = [dict(c.params) for c in accepted if c.params is not None]
    counts = [c.num_samples for c in accepted]
    addresses = [c.participant for c in accepted]
    aggregation: dict[str, Any] = {"aggregator": spec.aggregator}
    rule: tuple[np.ndarray, np.ndarray] | None = None
    if updates:
        aggregator = get_aggregator(spec.aggregator, **spec.aggregator_params)
        losses: list[float] | None = None
        if aggregator.needs_losses:  # q-FFL: each participant's loss, publicly recomputable
            if validation is None:
                raise NeedsValidation(
                    f"the {spec.aggregator} aggregate needs the validation set (its losses)"
                )
            found = disagreement_losses(spec.model, prev_params, updates, validation.X)
            losses = [float(x) for x in found]
            aggregation["losses"] = losses
        try:
            delta = aggregator.aggregate(updates, counts, losses)
            rule = aggregator.coalition_rule(updates, counts, losses)
        except ValueError as exc:  # e.g. Krum needs more than 2f+2 updates
            aggregation = {
                "aggregator": "fedavg",
                "fallback_from": spec.aggregator,
                "reason": str(exc),
            }
            fallback = get_aggregator("fedavg")
            delta = fallback.aggregate(updates, counts)
            rule = fallback.coalition_rule(updates, counts)
        new_params = {k: (prev_params[k] + delta[k]).astype(np.float32) for k in sorted(shapes)}
    else:
        new_params = dict(prev_params)
    new_blob = encode_weights(new_params)
    new_cid = store.add(new_blob).cid if publish else str(compute_cid(new_blob))

    if validation is None:
        return _screened_only(inputs, submissions, new_cid, aggregation, prev_params)
    valuation_record: dict[str, Any] | None = None
    round_payouts: dict[str, int] = {}
    unit = 1
    if updates:
        sha_of = {r.participant: r.sha256.lower() for r in inputs.reveals}
        step = value_round(
            spec=spec.model,
            prev_params=prev_params,
            updates=updates,
            num_samples=counts,
            addresses=addresses,
            validation=validation,
            config=spec.valuation,
            seed=inputs.seed,
            budget=inputs.round_budget,
            digests=InputDigests(
                prev_model=sha256_hex(prev_blob),
                updates=tuple(sha_of[a] for a in addresses),
                validation=validation_digest(validation, spec),
            ),
            rejected=[(p, reason) for p, (reason, _) in sorted(rejected_by.items())],
            coefficients=None if rule is None else rule[0].tolist(),
            normalizers=None if rule is None else rule[1].tolist(),
            priority=[rank.get(a, len(rank) + i) for i, a in enumerate(addresses)],
            previous_evidence=inputs.previous_evidence,
        )
        valuation_record = step.record
        unit = step.payout_unit
        round_payouts = {a: int(p) for a, p in zip(addresses, step.payouts, strict=True) if p > 0}
    total_paid = sum(round_payouts.values())
    tree = PayoutTree(inputs.task_id, inputs.round, round_payouts)
    accuracy, loss = score_model(spec.model, new_params, validation.X, validation.y)
    report = RoundReport(
        task_id=inputs.task_id,
        round=inputs.round,
        marketplace=inputs.marketplace,
        chain_id=inputs.chain_id,
        spec_cid=inputs.spec_cid,
        global_model_cid=inputs.global_model_cid,
        new_global_cid=new_cid,
        seed=inputs.seed,
        seed_source=inputs.seed_source,
        aggregator=spec.aggregator,
        aggregator_params=spec.aggregator_params,
        submissions=submissions,
        valuation=valuation_record,
        round_budget=inputs.round_budget,
        round_payouts=round_payouts,
        previous_report_cid=inputs.previous_report_cid,
        payout_root=tree.root_hex,
        total_paid=total_paid,
        accuracy=round(float(accuracy), 12),
        metrics={
            "validation_loss": round(float(loss), 12),
            "aggregation": aggregation,
            "payout_unit": str(unit),
        },
    )
    report_blob = report.to_json()
    report_cid = store.add(report_blob).cid if publish else str(compute_cid(report_blob))
    return RoundOutcome(
        report=report,
        report_cid=report_cid,
        new_global_cid=new_cid,
        payout_root=tree.root,
        total_paid=total_paid,
        accuracy=report.accuracy,
        prev_params=prev_params,
        accepted_updates=dict(zip(addresses, updates, strict=True)),
        evidence=(valuation_record or {}).get("state", inputs.previous_evidence),
    )


def _screened_only(
    inputs: RoundInputs,
    submissions: list[SubmissionRecord],
    new_cid: str,
    aggregation: dict[str, Any],
    prev_params: dict[str, np.ndarray],
) -> RoundOutcome:
    """The part of a round that needs no validation data: screening and the aggregate."""
    spec = inputs.spec
    report = RoundReport(
        task_id=inputs.task_id, round=inputs.round, marketplace=inputs.marketplace,
        chain_id=inputs.chain_id, spec_cid=inputs.spec_cid,
        global_model_cid=inputs.global_model_cid, new_global_cid=new_cid, seed=inputs.seed,
        seed_source=inputs.seed_source, aggregator=spec.aggregator,
        aggregator_params=spec.aggregator_params, submissions=submissions, valuation=None,
        round_budget=inputs.round_budget, round_payouts={},
        previous_report_cid=inputs.previous_report_cid, payout_root="", total_paid=0,
        accuracy=None, metrics={"aggregation": aggregation},
    )  # fmt: skip
    return RoundOutcome(
        report=report, report_cid="", new_global_cid=new_cid, payout_root=b"", total_paid=0,
        accuracy=None, prev_params=prev_params,
    )  # fmt: skip


def validation_digest(validation: Validation, spec: TaskSpec) -> str:
    """The sha256 of the validation data this computation actually used (FMDS1 bytes).

    Computed, not copied from the spec: a report made with another validation set names another
    digest, and the audit sees it. A set whose class count was widened to the model's
    (``fit_to_model``) is hashed as it was loaded. Data without the dataset encoding falls back
    to the spec's digest.
    """
    if not isinstance(validation, Dataset):
        return spec.validation_sha256.lower()
    committed = spec.validation_sha256.lower().removeprefix("0x")
    digest = dataset_sha256(validation)
    if digest != committed and len(validation):
        as_loaded = Dataset(validation.X, validation.y, int(validation.y.max()) + 1)
        if dataset_sha256(as_loaded) == committed:
            return committed
    return digest


def score_model(
    spec: ModelSpec, params: Mapping[str, np.ndarray], X: np.ndarray, y: np.ndarray
) -> tuple[float, float]:
    """(accuracy, mean cross-entropy) of a model on the validation set, in float64."""
    tensors = {k: torch.from_numpy(np.asarray(v, dtype=np.float64)) for k, v in params.items()}
    x = torch.from_numpy(np.array(X, dtype=np.float64))
    target = torch.from_numpy(np.array(y, dtype=np.int64))
    with torch.no_grad():
        logits = forward(spec, tensors, x)
        loss = torch.nn.functional.cross_entropy(logits, target).item()
        accuracy = (logits.argmax(dim=1) == target).double().mean().item()
    return float(accuracy), float(loss)
