"""`fedmarket task`: create, browse, cancel, refund and wind down tasks (the market)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from fedmarket.context import make_client
from fedmarket.options import (
    ACCOUNT,
    TOKENS,
    json_option,
    key_option,
    rpc_url_option,
    task_argument,
    validation_option,
)
from fedmarket.ui import echo, emit_json, spinner, status
from marketplace.errors import ConfigError
from marketplace.settings import Settings
from marketplace.storage import open_store
from marketplace.units import amount_json, format_amount
from valuation.model_spec import FAMILIES
from valuation.registry import METHOD_NAMES

if TYPE_CHECKING:
    from marketplace.protocol.task_spec import ValuationConfig
    from marketplace.roles.funds import Moved

#: Data sets a task can name (shape checked against the validation file), or "custom".
DATASET_CHOICES = ("digits", "custom")


@click.group()
def task() -> None:
    """Create tasks, inspect the market, and get a task's money back out."""


def _ints(text: str, option: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(",") if x.strip()) if text else ()
    except ValueError:
        raise ConfigError(
            f"{option} expects whole numbers separated by commas, got {text!r}"
        ) from None


def _json_amounts(value: Any) -> Any:
    """A task summary with every amount as ``{"units", "value", "decimals"}``."""
    from marketplace.roles.tasks import AMOUNT_KEYS

    if isinstance(value, dict):
        return {
            k: amount_json(v) if k in AMOUNT_KEYS else _json_amounts(v) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_json_amounts(v) for v in value]
    return value


def _valuation(method: str, settings: tuple[str, ...]) -> ValuationConfig:
    """The valuation policy from ``--valuation`` and ``--valuation-setting KEY=VALUE`` pairs."""
    from marketplace.protocol.task_spec import ValuationConfig

    fields: dict[str, object] = {"method": method}
    try:
        for item in settings:
            key, _, raw = item.partition("=")
            try:
                fields[key.strip()] = json.loads(raw)
            except json.JSONDecodeError:  # a bare word: a string setting such as fli
                fields[key.strip()] = raw.strip()
        return ValuationConfig.from_dict(fields)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--valuation-setting") from exc


F = TypeVar("F", bound=Callable[..., Any])


def _window_option(name: str, default: int, help: str) -> Callable[[F], F]:
    """``--NAME-window SECONDS`` (at least 1; the contract's minWindow is checked later)."""
    return click.option(
        f"--{name}-window", default=default, show_default=True, type=click.IntRange(min=1),
        help=help,
    )  # fmt: skip


@task.command("create")
@key_option("Requester's keystore (file, name or address).")
@validation_option(
    required=True,
    help="The private validation set (.npz with X, y); only its sha256 is published.",
)
@click.option("--aggregator", required=True, type=ACCOUNT, help="The aggregator: address or name.")
@click.option(
    "--arbiter",
    required=True,
    type=ACCOUNT,
    help="The task's arbiter, address or name: the only account that rules on challenges (not "
    "the requester, not the aggregator).",
)
@click.option("--name", default="digits classification", show_default=True)
@click.option(
    "--dataset",
    type=click.Choice(DATASET_CHOICES),
    default="digits",
    show_default=True,
    help="The data set participants bring; custom takes its shape from --validation.",
)
@click.option("--model", type=click.Choice(FAMILIES), default="mlp", show_default=True)
@click.option("--hidden", default="64,64", show_default=True, help="Hidden layer widths.")
@click.option("--channels", default="8", show_default=True, help="Conv channels (cnn only).")
@click.option("--rounds", default=5, show_default=True, type=click.IntRange(1, 1000))
@click.option("--round-budget", default="1000", show_default=True, type=TOKENS,
              help="Tokens per round.")  # fmt: skip
@click.option("--stake", default="10", show_default=True, type=TOKENS, help="Minimum stake.")
@click.option(
    "--bond",
    default="1",
    show_default=True,
    type=TOKENS,
    help="Tokens: the aggregator's bond (held for the task) and each challenger's bond (> 0).",
)
@click.option(
    "--min-participants",
    default=1,
    show_default=True,
    type=click.IntRange(min=0),
    help="The aggregator opens round 1 once this many have joined.",
)
@_window_option("commit", 10, "Seconds.")
@_window_option("reveal", 8, "Seconds (also the challengers' window to reveal their evidence).")
@_window_option(
    "settle", 300, "Seconds: the aggregator's deadline to settle, and to open each next round."
)
@_window_option("challenge", 3, "Seconds.")
@_window_option(
    "resolve", 300, "Seconds the arbiter has to rule on a challenge after the evidence window."
)
@_window_option(
    "claim",
    86_400,
    "Seconds claims stay open after the task ended; then unclaimed payouts are refunded.",
)
@click.option("--epochs", default=5, show_default=True, type=click.IntRange(min=1),
              help="Local epochs per round.")  # fmt: skip
@click.option("--lr", default=0.1, show_default=True, type=click.FloatRange(min=0, min_open=True))
@click.option(
    "--optimizer",
    default="momentum",
    show_default=True,
    type=click.Choice(["sgd", "momentum", "adam"]),
)
@click.option(
    "--valuation",
    "method",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", *METHOD_NAMES]),
)
@click.option(
    "--aggregation",
    default="fedavg",
    show_default=True,
    type=click.Choice(["fedavg", "median", "trimmed_mean", "krum", "qffl"]),
)
@click.option(
    "--valuation-setting",
    "valuation_settings",
    multiple=True,
    metavar="KEY=VALUE",
    help=(
        "A valuation policy field, e.g. cap=0.5, allocation=fli, clip_negative=false, "
        "identity_cost=0 (docs/valuation.md lists them all)."
    ),
)
@click.option("--slash-bps", default=1000, show_default=True, type=click.IntRange(0, 10_000))
@click.option("--max-samples", default=10_000, show_default=True, type=click.IntRange(min=1))
@click.option("--seed", default=0, show_default=True, help="Seed of the initial model.")
@rpc_url_option
@json_option()
def create(
    key: str,
    validation_path: str,
    aggregator: str,
    arbiter: str,
    name: str,
    dataset: str,
    model: str,
    hidden: str,
    channels: str,
    rounds: int,
    round_budget: int,
    stake: int,
    bond: int,
    min_participants: int,
    commit_window: int,
    reveal_window: int,
    settle_window: int,
    challenge_window: int,
    resolve_window: int,
    claim_window: int,
    epochs: int,
    lr: float,
    optimizer: str,
    method: str,
    aggregation: str,
    valuation_settings: tuple[str, ...],
    slash_bps: int,
    max_samples: int,
    seed: int,
    rpc_url: str | None,
    as_json: bool,
) -> None:
    """Create a task: publish its spec and initial model, escrow rounds x round-budget.

    Prints one line: the task id, the escrow and the spec's CID.
    """
    from marketplace.protocol.dataset import dataset_sha256, load_npz
    from marketplace.protocol.task_spec import (
        TaskSpec,
        TrainingConfig,
        check_dataset_shape,
    )
    from marketplace.roles.tasks import Windows, create_task
    from valuation.model_spec import ModelSpec

    settings = Settings.from_env()
    validation = load_npz(validation_path)
    check_dataset_shape(validation, dataset, validation_path)
    input_shape = (1, 8, 8) if model == "cnn" else tuple(validation.X.shape[1:])
    try:
        model_spec = ModelSpec(
            family=model,  # type: ignore[arg-type]
            input_shape=input_shape,
            num_classes=validation.num_classes,
            hidden=() if model == "logreg" else _ints(hidden, "--hidden"),
            channels=_ints(channels, "--channels") if model == "cnn" else (),
        )
    except ValueError as exc:
        raise ConfigError(f"the model does not fit: {exc}") from None
    spec = TaskSpec(
        name=name,
        model=model_spec,
        validation_sha256=dataset_sha256(validation),
        validation_size=len(validation),
        training=TrainingConfig(epochs=epochs, lr=lr, optimizer=optimizer),
        valuation=_valuation(method, valuation_settings),
        aggregator=aggregation,
        dataset=dataset,
        min_participants=min_participants,
    )
    client = make_client(settings, key=key, rpc_url=rpc_url)  # may prompt: before the spinner
    windows = Windows(
        commit_window, reveal_window, settle_window, challenge_window, resolve_window, claim_window
    )
    with spinner("checking the task") as progress:
        created = create_task(
            client, open_store(settings), spec, aggregator=aggregator, arbiter=arbiter,
            rounds=rounds, round_budget=round_budget, min_stake=stake, windows=windows,
            settle_bond=bond, slash_bps=slash_bps, max_samples=max_samples, init_seed=seed,
            progress=progress.update,
        )  # fmt: skip
    escrow = rounds * round_budget
    if as_json:
        emit_json({
            "task_id": created.task_id, "spec_cid": created.spec_cid,
            "initial_model_cid": created.initial_model_cid, "requester": client.address,
            "aggregator": aggregator, "arbiter": arbiter, "rounds": rounds,
            "round_budget": amount_json(round_budget),
            "escrow": amount_json(escrow), "min_stake": amount_json(stake),
            "min_participants": min_participants,
        })  # fmt: skip
        return
    echo(
        f"task {created.task_id} created: {rounds} rounds x {format_amount(round_budget)} "
        f"({format_amount(escrow)} escrowed), minimum stake {format_amount(stake)}; "
        f"spec {created.spec_cid}"
    )


@task.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include ended and cancelled tasks.")
@rpc_url_option
@json_option("One JSON array of tasks (amounts exact).")
def list_(show_all: bool, rpc_url: str | None, as_json: bool) -> None:
    """The market: tasks with budget, rounds, stake, participants and state."""
    from marketplace.roles.tasks import market

    client = make_client(Settings.from_env(), rpc_url=rpc_url)
    with spinner("reading the market from the chain"):
        rows = market(client, open_only=not show_all)
    if as_json:
        emit_json(_json_amounts(rows))
        return
    if not rows:
        echo("no open tasks (use --all to include ended ones)")
        return
    echo(f"{'id':>4}  {'phase':<9} {'round':>7} {'budget':>14} {'min stake':>10} {'people':>6}")
    for r in rows:
        echo(
            f"{r['task_id']:>4}  {status(r['phase'].lower(), 9)} {r['round']:>3}/{r['rounds']:<3} "
            f"{format_amount(r['budget']):>14} {format_amount(r['min_stake']):>10} "
            f"{r['participants']:>6}"
        )


@task.command("show")
@task_argument
@rpc_url_option
@json_option("One JSON object (amounts exact).")
def show(task_id: int, rpc_url: str | None, as_json: bool) -> None:
    """One task: parameters, money, rounds and their settlements."""
    from marketplace.roles.tasks import show_task

    client = make_client(Settings.from_env(), rpc_url=rpc_url)
    with spinner(f"reading task {task_id} from the chain"):
        info = show_task(client, task_id)
    if as_json:
        emit_json(_json_amounts(info))
        return
    echo(f"{'task':<14} {info['task_id']}")
    echo(f"{'phase':<14} {status(info['phase'].lower())}")
    for k in ("requester", "aggregator", "spec_cid", "participants"):
        echo(f"{k:<14} {info[k]}")
    echo(
        f"{'budget':<14} {format_amount(info['budget'])} "
        f"({format_amount(info['round_budget'])} x {info['rounds']} rounds)"
    )
    echo(f"{'min stake':<14} {format_amount(info['min_stake'])}")
    echo(
        f"{'paid out':<14} {format_amount(info['allocated'])} allocated, "
        f"{format_amount(info['claimed'])} claimed, {format_amount(info['refunded'])} refunded"
    )
    for r in info["rounds_detail"]:
        echo(
            f"  round {r['round']}: {status(r['status'].lower(), 10)} reveals {r['reveals']:>3}  "
            f"paid {format_amount(r['total_paid'])}"
        )


@task.command("publish-validation")
@task_argument
@key_option("The requester's keystore.")
@validation_option(required=True)
@rpc_url_option
@json_option('One object: {"task_id", "cid"}.')
def publish_validation_cmd(
    task_id: int, key: str, validation_path: str, rpc_url: str | None, as_json: bool
) -> None:
    """Publish the task's validation set on IPFS (after the task, or for a challenge)."""
    from marketplace.protocol.dataset import load_npz
    from marketplace.roles.tasks import publish_validation

    settings = Settings.from_env()
    validation = load_npz(validation_path)
    client = make_client(settings, key=key, rpc_url=rpc_url)
    with spinner("publishing the validation set"):
        cid = publish_validation(client, open_store(settings), task_id, validation)
    if as_json:
        emit_json({"task_id": task_id, "cid": cid})
    else:
        echo(f"validation set of task {task_id} published as {cid}")


def _print_moved(moved: Moved, as_json: bool, text: str) -> None:
    if as_json:
        emit_json(moved.to_json())
    else:
        echo(text)


@task.command("cancel")
@task_argument
@key_option("The requester's keystore.")
@rpc_url_option
@json_option('One object: {"action", "task_id", "account", "amount", "rounds", "tx_hash"}.')
def cancel(task_id: int, key: str, rpc_url: str | None, as_json: bool) -> None:
    """Cancel a task before its first round opens; the whole budget comes back."""
    from marketplace.roles.funds import cancel_task

    client = make_client(Settings.from_env(), key=key, rpc_url=rpc_url)
    with spinner(f"cancelling task {task_id}"):
        moved = cancel_task(client, task_id)
    _print_moved(moved, as_json, f"task {task_id} cancelled; {format_amount(moved.amount)} "
                                 f"returned to {moved.account}")  # fmt: skip


@task.command("refund")
@task_argument
@key_option("The requester's keystore.")
@rpc_url_option
@json_option('One object: {"action", "task_id", "account", "amount", "rounds", "tx_hash"}.')
def refund(task_id: int, key: str, rpc_url: str | None, as_json: bool) -> None:
    """After the task: take back what nobody earned (budget, slashed stakes, forfeited bonds and,
    after the claim deadline, unclaimed payouts); needs the validation set published."""
    from marketplace.roles.funds import refund_task

    client = make_client(Settings.from_env(), key=key, rpc_url=rpc_url)
    with spinner(f"refunding task {task_id}"):
        moved = refund_task(client, task_id)
    _print_moved(moved, as_json, f"refunded {format_amount(moved.amount)} of task {task_id} "
                                 f"to {moved.account}")  # fmt: skip


@task.command("wind-down")
@task_argument
@key_option("Any funded keystore (anyone may wind down an overdue task).")
@rpc_url_option
@json_option('One object: {"action", "task_id", "reason", "round", "tx_hash"}.')
def wind_down_cmd(task_id: int, key: str, rpc_url: str | None, as_json: bool) -> None:
    """End a task whose aggregator missed a deadline (to settle, or to open a round), so stakes
    and the budget come back."""
    from marketplace.roles.funds import wind_down

    client = make_client(Settings.from_env(), key=key, rpc_url=rpc_url)
    with spinner(f"winding task {task_id} down"):
        done = wind_down(client, task_id)
    if as_json:
        emit_json(done.to_json())
    else:
        echo(
            f"task {task_id} wound down ({done.reason}, round {done.round}); participants can "
            f"`fedmarket withdraw --task {task_id}`, the requester `fedmarket task refund "
            f"{task_id}`"
        )


@task.command("finalize")
@task_argument
@key_option("Any funded keystore (anyone may finalize a due settlement).")
@rpc_url_option
@json_option('One object: {"action", "task_id", "round"}.')
def finalize_cmd(task_id: int, key: str, rpc_url: str | None, as_json: bool) -> None:
    """Make the latest settlement final once due (claims and next rounds also do it)."""
    from marketplace.roles.funds import finalize

    client = make_client(Settings.from_env(), key=key, rpc_url=rpc_url)
    with spinner(f"finalizing task {task_id}"):
        round_ = finalize(client, task_id)
    if as_json:
        emit_json({"action": "finalize", "task_id": task_id, "round": round_})
    else:
        echo(f"round {round_} of task {task_id} is final")
