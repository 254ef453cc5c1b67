"""The participant's side of a paid Flower round: a ClientApp mod plus reveal and claim steps.

An existing ClientApp becomes a paid one with two lines::

    app = ClientApp(mods=[fedmarket_mod])   # commits what @app.train returns, replies nothing secret

    @app.train()
    def train(msg, context): ...           # the app's own training, unchanged

    add_paid_steps(app)                     # registers the reveal and claim steps

On a paid ``train`` message the mod checks the global model and the task spec it carries
against the CIDs on-chain, stores them, joins the task (staking) if needed, lets the app
train, turns the trained weights into fedmarket's update (trained minus global, canonical
bytes), stores it, commits its hash on-chain with this node's own key and replies with the
commitment only. The reveal step reveals on-chain and sends the update's bytes; the claim
step collects the payment and the stake.

The SuperNode's node config names the node's key and chain::

    fedmarket-key          keystore file or name under $FEDMARKET_HOME/keystore
    fedmarket-rpc-url      JSON-RPC endpoint (default: FEDMARKET_RPC_URL, else the home's devnet)
    fedmarket-marketplace  Marketplace address (default: the home's deployments file)
    fedmarket-stake        stake in tokens (default: the task's minimum)

and its environment the rest, as for any fedmarket node: FEDMARKET_HOME (this organisation's
store, keystores and state), FEDMARKET_KEY_PASSWORD (never in node config: the SuperLink
sees node config), FEDMARKET_IPFS and FEDMARKET_IPFS_GATEWAYS.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from flwr.app import ConfigRecord, Context, Message, MessageType, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from fedflower.records import (
    CLAIM_ACTION,
    RECORD,
    REVEAL_ACTION,
    from_array_record,
    get_bytes,
    get_int,
)
from marketplace.chain.structs import Phase
from marketplace.errors import ConfigError, CorruptContent, ProtocolError
from marketplace.protocol.task_spec import TaskSpec
from marketplace.protocol.weights import decode_weights, encode_weights
from marketplace.settings import Settings
from marketplace.storage import compute_cid, open_store
from participant.participation import Participation, Submission
from valuation.model_spec import parameter_shapes

CallNext = Callable[[Message, Context], Message]


def participation(context: Context, task_id: int) -> Participation:
    """This node's :class:`Participation` in ``task_id``, from its node config and env."""
    from marketplace.chain.factory import make_client
    from marketplace.units import to_units

    config = context.node_config
    key = config.get("fedmarket-key")
    if not key:
        raise ConfigError(
            "the SuperNode has no fedmarket key",
            hint="start it with --node-config 'fedmarket-key=\"NAME\"' and FEDMARKET_KEY_PASSWORD",
        )
    settings = Settings.from_env()
    client = make_client(
        settings,
        key=str(key),
        rpc_url=_opt(config, "fedmarket-rpc-url"),
        marketplace=_opt(config, "fedmarket-marketplace"),
    )
    stake = _opt(config, "fedmarket-stake")
    return Participation(
        client,
        open_store(settings),
        task_id,
        stake=None if stake is None else to_units(stake),
        log=lambda line: print(f"[fedmarket {client.address[:10]}] {line}", flush=True),
    )


def fedmarket_mod(msg: Message, context: Context, call_next: CallNext) -> Message:
    """ClientApp mod: on a paid ``train`` message, train through the app, then commit."""
    if msg.metadata.message_type != MessageType.TRAIN or RECORD not in msg.content:
        return call_next(msg, context)
    facts = msg.content.config_records[RECORD]
    task_id, round_ = get_int(facts, "task-id"), get_int(facts, "round")
    node = participation(context, task_id)
    global_params = _ingest_round(node, facts, _only_arrays(msg))
    node.ensure_joined()
    reply = call_next(msg, context)
    if reply.has_error():
        return reply
    trained = from_array_record(_only_arrays(reply))
    if set(trained) != set(global_params):
        raise ProtocolError("the ClientApp's trained arrays do not match the task's model")
    update = {k: (np.asarray(trained[k], np.float32) - global_params[k]) for k in global_params}
    metrics = next(iter(reply.content.metric_records.values()), MetricRecord())
    num_samples = get_int(metrics, "num-examples") if "num-examples" in metrics else 0
    if num_samples <= 0:
        raise ProtocolError("the ClientApp's train reply has no positive 'num-examples' metric")
    submission = node.submission(round_, update, num_samples)
    committed = node.commit(submission)
    if committed:
        _save(node, submission)
    public = ConfigRecord(
        {
            "address": node.address,
            "round": round_,
            "committed": committed,
            "commitment": submission.commitment if committed else b"",
        }
    )
    return Message(
        RecordDict(
            {RECORD: public, "metrics": MetricRecord({"num-examples": submission.num_samples})}
        ),
        reply_to=msg,
    )


def reveal(msg: Message, context: Context) -> Message:
    """Reveal this node's committed update on-chain and send its bytes to the aggregator."""
    facts = msg.content.config_records[RECORD]
    task_id, round_ = get_int(facts, "task-id"), get_int(facts, "round")
    node = participation(context, task_id)
    submission = _load(node, round_)
    out: dict[str, Any] = {"address": node.address, "round": round_, "revealed": False}
    if submission is not None and node.reveal(submission):
        out.update(
            revealed=True,
            cid=submission.cid,
            sha256=submission.sha256.hex(),
            update=node.store.cat_bytes(submission.cid),
        )
    return Message(RecordDict({RECORD: ConfigRecord(out)}), reply_to=msg)


def claim(msg: Message, context: Context) -> Message:
    """Collect every token earned and the stake (the round reports travel in the message:
    each is stored only if it hashes to its CID, and the claim uses the one the chain names)."""
    facts = msg.content.config_records[RECORD]
    node = participation(context, get_int(facts, "task-id"))
    cids, reports = facts.get("report-cids", []), facts.get("reports", [])
    if not isinstance(cids, list) or not isinstance(reports, list) or len(cids) != len(reports):
        raise ProtocolError("the claim message's reports do not match their CIDs")
    for cid, report in zip(cids, reports, strict=True):
        if isinstance(report, bytes):
            _keep_verified(node, report, str(cid), f"round report {cid}")
    node.collect()
    summary = node.summary
    out: dict[str, Any] = {"address": node.address, "claimed": str(summary.claimed),
           "stake-returned": str(summary.stake_returned)}  # fmt: skip
    return Message(RecordDict({RECORD: ConfigRecord(out)}), reply_to=msg)


def add_paid_steps(app: ClientApp) -> ClientApp:
    """Register the reveal (``train.fedmarket_reveal``) and claim (``query.fedmarket_claim``)
    steps on ``app``; returns it."""
    app.train(REVEAL_ACTION)(reveal)
    app.query(CLAIM_ACTION)(claim)
    return app


# -- checks against the chain ------------------------------------------------------------


def _ingest_round(node: Participation, facts: ConfigRecord, arrays: Any) -> dict[str, np.ndarray]:
    """Check the message's spec and global model against the chain; store both; the params."""
    round_ = get_int(facts, "round")
    if (
        node.client.phase(node.task_id) != Phase.COMMIT
        or int(node.client.task(node.task_id).last_round) != round_
    ):
        raise ProtocolError(f"round {round_} of task {node.task_id} is not in its commit window")
    spec_bytes = get_bytes(facts, "spec")
    _keep_verified(node, spec_bytes, node.facts.spec_cid, "the task spec")
    spec = TaskSpec.from_json(spec_bytes)
    blob = encode_weights(from_array_record(arrays))
    _keep_verified(node, blob, node.global_model_cid(round_), f"round {round_}'s global model")
    return decode_weights(blob, parameter_shapes(spec.model), max_bytes=spec.max_update_bytes)


def _keep_verified(node: Participation, data: bytes, cid: str, what: str) -> None:
    """Store ``data`` only if it is the content ``cid`` names (CIDs come from the chain)."""
    if str(compute_cid(data)) != cid:
        raise CorruptContent(f"the aggregator sent bytes for {what} that are not {cid}")
    node.store.add(data)


def _only_arrays(msg: Message) -> Any:
    records = list(msg.content.array_records.values())
    if len(records) != 1:
        raise ProtocolError(f"expected one ArrayRecord in the message, found {len(records)}")
    return records[0]


def _opt(config: Any, key: str) -> str | None:
    value = config.get(key)
    return None if value in (None, "") else str(value)


# -- the submission survives the ClientApp process (each message gets a new one) -----------


def _path(node: Participation, round_: int) -> Path:
    settings = Settings.from_env()
    name = f"task-{node.task_id}-round-{round_}-{node.address.lower()}.json"
    return settings.state_dir / "flower" / name


def _save(node: Participation, submission: Submission) -> None:
    """Write the submission (salt included: it stays on this host) for the reveal step."""
    path = _path(node, submission.round)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"round": submission.round, "cid": submission.cid,
              "sha256": submission.sha256.hex(), "num_samples": submission.num_samples,
              "salt": submission.salt.hex(), "commitment": submission.commitment.hex()}  # fmt: skip
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(record, fh)
    tmp.replace(path)


def _load(node: Participation, round_: int) -> Submission | None:
    path = _path(node, round_)
    if not path.exists():
        node.log(f"round {round_}: nothing committed here, nothing to reveal")
        return None
    data = json.loads(path.read_text())
    return Submission(
        round=int(data["round"]),
        cid=str(data["cid"]),
        sha256=bytes.fromhex(data["sha256"]),
        num_samples=int(data["num_samples"]),
        salt=bytes.fromhex(data["salt"]),
        commitment=bytes.fromhex(data["commitment"]),
    )


__all__ = ["add_paid_steps", "claim", "fedmarket_mod", "participation", "reveal"]
