"""Money out of the contract through the CLI: cancel, wind-down, refund, claim, withdraw."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from fmkit import (
    TOKEN,
    Devnet,
    coordinator_for,
    fedmarket,
    keystore,
    make_scenario,
    nodes_for,
    play_round,
)

from devnet.accounts import dev_account
from marketplace.chain.structs import Phase
from participant.behaviours import Honest

pytestmark = pytest.mark.anvil


def one_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout
    assert not re.search(r"\b\d{16,}\b", lines[0]), lines[0]
    return lines[0]


def test_cancel_returns_the_whole_budget(devnet: Devnet) -> None:
    s = make_scenario(devnet, n=1, rounds=2, round_budget=100, seed=21)
    requester = keystore(devnet, "funds-req", 1)
    before = devnet.client(1).balance()

    text = one_line(fedmarket(devnet, "task", "cancel", str(s.task_id), "--key", requester))

    assert text.startswith(f"task {s.task_id} cancelled; 200 FMT returned to ")
    assert devnet.client(1).balance() - before == 200 * TOKEN
    assert devnet.client(1).phase(s.task_id) == Phase.CANCELLED


def test_wind_down_then_stake_and_budget_come_back(devnet: Devnet, tmp_path) -> None:
    from marketplace.protocol.dataset import save_npz

    s = make_scenario(devnet, n=1, rounds=2, round_budget=100, participants_from=6, seed=22)
    participant, requester = keystore(devnet, "funds-p6", 6), keystore(devnet, "funds-req", 1)
    s.client(0).join(s.task_id, 3 * TOKEN)
    devnet.client(2).open_round(s.task_id, s.created.initial_model_cid)  # then silence
    devnet.advance(s.windows.commit + s.windows.reveal + s.windows.settle + 1)
    staked = s.client(0).balance()

    validation = save_npz(s.validation, tmp_path / "validation.npz")

    wound = fedmarket(devnet, "task", "wind-down", str(s.task_id), "--key", participant, "--json")
    stake = fedmarket(devnet, "withdraw", "--task", str(s.task_id), "--key", participant)
    unpublished = fedmarket(devnet, "task", "refund", str(s.task_id), "--key", requester)
    fedmarket(devnet, "task", "publish-validation", str(s.task_id), "--key", requester,
              "--validation", str(validation))  # fmt: skip
    refund = fedmarket(devnet, "task", "refund", str(s.task_id), "--key", requester, "--json")

    assert json.loads(wound.stdout) == {
        "action": "wind_down", "task_id": s.task_id, "reason": "settlement-missed", "round": 1,
        "tx_hash": json.loads(wound.stdout)["tx_hash"],
    }  # fmt: skip
    # a task that ran rounds refunds only once anyone can audit them
    assert unpublished.returncode == 1 and "must be published" in unpublished.stderr
    assert one_line(stake) == f"withdrew a stake of 3 FMT from task {s.task_id}"
    assert s.client(0).balance() - staked == 3 * TOKEN
    moved = json.loads(refund.stdout)
    # the whole budget, plus the silent aggregator's forfeited bond
    assert moved["amount"] == {"units": str(201 * TOKEN), "value": "201", "decimals": 18}
    assert moved["action"] == "refund" and moved["task_id"] == s.task_id


def test_claim_and_withdraw_credited_bonds(devnet: Devnet) -> None:
    s = make_scenario(devnet, n=1, rounds=1, participants_from=5, seed=23)
    node = nodes_for(s, [Honest()])[0]
    play_round(s, coordinator_for(s), [node])
    s.to_challenge_end()
    devnet.client(2).finalize(s.task_id)
    participant, aggregator = keystore(devnet, "funds-p5", 5), keystore(devnet, "funds-agg", 2)
    credits_before = devnet.client(2).credits(dev_account(2).address)

    claimed = fedmarket(devnet, "claim", "--task", str(s.task_id), "--key", participant, "--json")
    again = fedmarket(devnet, "claim", "--task", str(s.task_id), "--key", participant)
    bonds = fedmarket(devnet, "withdraw", "--credits", "--key", aggregator)

    amount = json.loads(claimed.stdout)["amount"]
    assert devnet.client(1).participant_round(s.task_id, 1, s.address(0)).claimed
    assert int(amount["units"]) == int(devnet.client(1).task(s.task_id).total_claimed) > 0
    assert json.loads(claimed.stdout)["rounds"] == [1]
    assert again.returncode == 1 and "has nothing to claim" in again.stderr
    assert credits_before >= TOKEN  # at least this task's settlement bond
    assert one_line(bonds).startswith("withdrew ")
    assert devnet.client(2).credits(dev_account(2).address) == 0


def test_coordinate_waits_for_participants_and_says_so(devnet: Devnet, tmp_path) -> None:
    from marketplace.protocol.dataset import save_npz

    s = make_scenario(devnet, n=1, rounds=1, seed=24)
    validation = save_npz(s.validation, tmp_path / "validation.npz")
    aggregator = keystore(devnet, "funds-agg", 2)

    waited = fedmarket(devnet, "coordinate", "--task", str(s.task_id), "--key", aggregator,
                       "--validation", str(validation), "--min-participants", "2",
                       "--timeout", "3", "--json")  # fmt: skip

    events = [json.loads(line) for line in waited.stdout.splitlines()]
    assert waited.returncode == 1 and "gave up after 3s" in waited.stderr
    assert events[0]["event"] == "waiting_for_participants"
    assert (events[0]["joined"], events[0]["needed"]) == (0, 2)
    assert devnet.client(1).task(s.task_id).last_round == 0  # no round was opened
