"""Creating tasks and reading the market: the functions behind `fedmarket task`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from marketplace.chain.addresses import parse_address
from marketplace.chain.client import MarketplaceClient
from marketplace.chain.structs import MAX_SLASH_BPS, ZERO_ADDRESS, Phase, TaskParams
from marketplace.errors import ConfigError, ProtocolError
from marketplace.protocol.task_spec import TaskSpec
from marketplace.protocol.weights import encode_weights
from marketplace.storage import ContentStore
from marketplace.units import format_amount
from valuation.model_spec import ModelSpec


@dataclass(frozen=True)
class Windows:
    """A task's windows, in seconds (each at least the marketplace's ``minWindow``).

    ``settle`` also bounds how long the aggregator may wait to open round 1 (after creation)
    and each next round (after the previous one became final); ``reveal`` is also the
    challengers' evidence window; ``resolve`` is the arbiter's ruling window after that;
    ``claim`` keeps claims open after the task ended.
    """

    commit: int = 10
    reveal: int = 8
    settle: int = 300
    challenge: int = 3
    resolve: int = 300
    claim: int = 86_400


@dataclass(frozen=True)
class CreatedTask:
    task_id: int
    spec_cid: str
    initial_model_cid: str


def initial_model_blob(model: ModelSpec, seed: int) -> bytes:
    """Canonical bytes of the seeded initial model (round 1's global model)."""
    from valuation.architecture import build_module  # torch: only when a task is created

    module = build_module(model, seed=seed)
    params = {n: p.detach().numpy().astype(np.float32) for n, p in module.named_parameters()}
    return encode_weights(params)


def create_task(
    client: MarketplaceClient,
    store: ContentStore,
    spec: TaskSpec,
    *,
    aggregator: str,
    rounds: int,
    round_budget: int,
    min_stake: int,
    arbiter: str,
    settle_bond: int,
    windows: Windows = Windows(),
    slash_bps: int = 1000,
    max_samples: int = 10_000,
    init_seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> CreatedTask:
    """Check everything, then publish the spec and initial model and escrow the budget on-chain.

    The parameters (roles, windows, bond, slashing), the requester's tokens and gas are checked
    before anything is written, so a refused task leaves no file in the store and no approval
    on chain. ``progress`` hears what is being done (the command shows it as a spinner).
    """
    step = progress or (lambda _text: None)
    params = TaskParams(
        spec_cid="",
        initial_model_cid="",
        validation_sha256=bytes.fromhex(spec.validation_sha256),
        rounds=rounds,
        round_budget=round_budget,
        min_stake=min_stake,
        commit_window=windows.commit,
        reveal_window=windows.reveal,
        settle_window=windows.settle,
        challenge_window=windows.challenge,
        resolve_window=windows.resolve,
        claim_window=windows.claim,
        aggregator=parse_address(aggregator),
        arbiter=parse_address(arbiter) if arbiter else ZERO_ADDRESS,
        settle_bond=settle_bond,
        slash_bps=slash_bps,
        max_samples=max_samples,
    )
    check_params(params, requester=client.address, min_window=client.min_window())
    require_funds(client, params.escrow, "the task's budget")
    step("publishing the task spec")
    spec_cid = store.add(spec.to_json()).cid
    step("building the initial model")
    model_cid = store.add(initial_model_blob(spec.model, init_seed)).cid
    step(f"escrowing {format_amount(params.escrow)}")
    params = replace(params, spec_cid=spec_cid, initial_model_cid=model_cid)
    task_id = client.create_task(params)
    return CreatedTask(task_id=task_id, spec_cid=spec_cid, initial_model_cid=model_cid)


#: The contract's bounds on TaskParams (Marketplace._validateParams), checked before sending.
MAX_ROUNDS = 1000
MAX_STAKE = 2**112 - 1
MAX_BOND = 2**112 - 1
MAX_ESCROW = 2**128 - 1

#: TaskParams window field -> the `fedmarket task create` option that sets it.
WINDOW_OPTIONS = {
    "commit_window": "--commit-window",
    "reveal_window": "--reveal-window",
    "settle_window": "--settle-window",
    "challenge_window": "--challenge-window",
    "resolve_window": "--resolve-window",
    "claim_window": "--claim-window",
}


def check_params(p: TaskParams, *, requester: str, min_window: int) -> None:
    """The contract's own parameter checks (amounts, roles, windows, bond and slashing), as
    one-line errors naming the option to change (checked before anything is stored or sent)."""
    me, aggregator, arbiter = requester.lower(), p.aggregator.lower(), p.arbiter.lower()
    problems = [
        (not 1 <= p.rounds <= MAX_ROUNDS, f"--rounds must be between 1 and {MAX_ROUNDS}"),
        (p.round_budget <= 0, "--round-budget must be more than 0"),
        (not 0 < p.min_stake <= MAX_STAKE, "--stake must be more than 0"),
        *(
            (int(getattr(p, name)) < min_window,
             f"{option} must be at least {min_window} s on this marketplace (its minWindow)")
            for name, option in WINDOW_OPTIONS.items()
        ),
        (aggregator in (ZERO_ADDRESS, me),
         "--aggregator must be another account than the requester's"),
        (arbiter in (ZERO_ADDRESS, me, aggregator),
         "--arbiter must be a third account: neither the requester nor the aggregator"),
        (not 0 < p.settle_bond <= MAX_BOND,
         "--bond must be more than 0 (a free challenge could freeze a round)"),
        (not 0 <= p.slash_bps <= MAX_SLASH_BPS,
         f"--slash-bps must be between 0 and {MAX_SLASH_BPS} (half of the stake at most)"),
        (p.max_samples <= 0, "--max-samples must be more than 0"),
        (p.escrow > MAX_ESCROW, "--rounds x --round-budget is more than the contract can hold"),
    ]  # fmt: skip
    for bad, message in problems:
        if bad:
            raise ConfigError(message)


def require_funds(client: MarketplaceClient, amount: int, what: str) -> None:
    """The signer holds ``amount`` tokens and some ETH for gas, or a one-line error."""
    have = client.balance()
    if have < amount:
        raise ProtocolError(
            f"{client.address} holds {format_amount(have)} but {what} needs "
            f"{format_amount(amount)}",
            hint="fund the account; on the devnet: `fedmarket account fund NAME`",
        )
    if int(client.w3.eth.get_balance(client.w3.to_checksum_address(client.address))) == 0:
        raise ProtocolError(
            f"{client.address} has no ETH to pay for gas",
            hint="fund the account; on the devnet: `fedmarket account fund NAME`",
        )


def market(client: MarketplaceClient, *, open_only: bool = False) -> list[dict[str, Any]]:
    """Every task with its budget, rounds, stake, participants and state (from events + views)."""
    events = client.events.fetch(0)
    joined: dict[int, int] = {}
    for e in events:
        if e.name == "ParticipantJoined":
            joined[e.args["task_id"]] = joined.get(e.args["task_id"], 0) + 1
    rows = []
    for e in events:
        if e.name != "TaskCreated":
            continue
        task_id = int(e.args["task_id"])
        row = task_summary(client, task_id, e.args, joined.get(task_id, 0))
        if open_only and row["phase"] in ("ENDED", "CANCELLED"):
            continue
        rows.append(row)
    return rows


def task_summary(
    client: MarketplaceClient, task_id: int, created: dict[str, Any], participants: int
) -> dict[str, Any]:
    """One row of the market; amounts are integer base units (see :data:`AMOUNT_KEYS`)."""
    info = client.task(task_id)
    params = created["params"]
    return {
        "task_id": task_id,
        "requester": created["requester"],
        "aggregator": params["aggregator"],
        "arbiter": params["arbiter"],
        "spec_cid": params["spec_cid"],
        "initial_model_cid": params["initial_model_cid"],
        "rounds": int(params["rounds"]),
        "round": int(info.last_round),
        "round_budget": int(params["round_budget"]),
        "budget": int(params["round_budget"]) * int(params["rounds"]),
        "min_stake": int(params["min_stake"]),
        "participants": participants,
        "phase": Phase(client.phase(task_id)).name,
        "allocated": int(info.total_allocated),
        "claimed": int(info.total_claimed),
        "refunded": int(info.total_refunded),
        "slashed": int(info.total_slashed),
        "forfeited": int(info.total_forfeited),
        "ended_at": int(info.ended_at),
        "claim_deadline": int(info.claim_deadline),
    }


#: Keys of :func:`task_summary` and :func:`show_task` whose values are token amounts.
AMOUNT_KEYS = frozenset(
    {"round_budget", "budget", "min_stake", "allocated", "claimed", "refunded", "slashed",
     "forfeited", "total_paid", "settle_bond"}
)  # fmt: skip


def show_task(client: MarketplaceClient, task_id: int) -> dict[str, Any]:
    """One task in detail: summary, per-round settlement facts, participants."""
    events = client.task_events(task_id)
    created = next((e for e in events if e.name == "TaskCreated"), None)
    if created is None:
        raise ConfigError(f"task {task_id} does not exist", hint="see `fedmarket task list`")
    participants = [e.args["participant"] for e in events if e.name == "ParticipantJoined"]
    summary = task_summary(client, task_id, created.args, len(participants))
    rounds = []
    for r in range(1, summary["round"] + 1):
        info = client.round(task_id, r)
        settled = next(
            (e for e in events if e.name == "RoundSettled" and e.args["round"] == r), None
        )
        corrected = next(
            (e for e in events if e.name == "SettlementCorrected" and e.args["round"] == r), None
        )
        effective = corrected or settled
        rounds.append(
            {
                "round": r,
                "status": info.round_status.name,
                "outcome": info.round_outcome.label if info.round_outcome else "",
                "reveals": sum(1 for e in events if e.name == "Revealed" and e.args["round"] == r),
                "challengers": int(info.challengers),
                "total_paid": int(info.total_paid),
                "report_cid": effective.args["report_cid"] if effective else None,
                "new_global_cid": effective.args["new_global_cid"] if effective else None,
            }
        )
    return {**summary, "participant_addresses": participants, "rounds_detail": rounds}


def load_spec(store: ContentStore, spec_cid: str) -> TaskSpec:
    return TaskSpec.from_json(store.cat_bytes(spec_cid))


def publish_validation(
    client: MarketplaceClient, store: ContentStore, task_id: int, validation: Any
) -> str:
    """Upload the validation set (canonical bytes) and publish its CID on-chain.

    Checks first that it is the set the task committed to, so a wrong file is never published.
    """
    from marketplace.protocol.dataset import dataset_sha256, dataset_to_bytes

    info = client.task(task_id)
    if int(info.status) == 0:
        raise ProtocolError(
            f"task {task_id} does not exist on this marketplace",
            hint="see `fedmarket task list --all`",
        )
    if str(info.requester).lower() != client.address.lower():
        raise ProtocolError(
            f"{client.address} is not the requester of task {task_id} ({info.requester} is)",
            hint="sign with the requester's key: --key",
        )
    committed = str(info.validation_sha256).removeprefix("0x")
    if dataset_sha256(validation) != committed:
        raise ConfigError(
            f"this is not the validation set task {task_id} committed to (its sha256 differs)",
            hint="pass the file given to `fedmarket task create --validation`",
        )
    cid = store.add(dataset_to_bytes(validation)).cid
    client.publish_validation(task_id, cid)
    return cid
