"""`fedmarket coordinate` killed with SIGKILL between reveal and settle, then restarted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fmkit import CLI_PASSWORD, Devnet, keystore, make_scenario

from marketplace.chain.structs import Phase
from marketplace.protocol.dataset import save_npz
from marketplace.protocol.ledger_lookup import task_facts
from marketplace.protocol.round_compute import compute_round, gather_inputs
from participant.behaviours import Honest
from participant.node import ParticipantNode

pytestmark = [pytest.mark.anvil, pytest.mark.slow]


def start_coordinator(
    devnet: Devnet, task_id: int, validation: Path, log: Path
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "FEDMARKET_HOME": str(devnet.settings.home),
        "FEDMARKET_KEY_PASSWORD": CLI_PASSWORD,
        "PYTHONUNBUFFERED": "1",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fedmarket.cli",
                "coordinate",
                "--task",
                str(task_id),
                "--key",
                "aggregator-kill",
                "--validation",
                str(validation),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_for(
    predicate: Callable[[], bool], timeout: float = 120.0, what: str = "", poll: float = 0.2
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(poll)
    raise AssertionError(f"timed out waiting for {what}")


def test_killed_coordinator_restarts_and_settles_every_round_once(
    devnet: Devnet, tmp_path: Path
) -> None:
    s = make_scenario(devnet, n=2, rounds=2, seed=11)
    keystore(devnet, "aggregator-kill", 2)
    validation = save_npz(s.validation, tmp_path / "validation.npz")
    store = devnet.store()
    nodes = [
        ParticipantNode(s.client(i), store, s.task_id, s.shards[i], Honest(), log=lambda _m: None)
        for i in range(2)
    ]
    for node in nodes:
        node.ensure_joined()
    client = devnet.client(1)
    log = tmp_path / "coordinator.log"
    coordinator = start_coordinator(devnet, s.task_id, validation, log)
    try:
        for round_ in (1, 2):
            wait_for(
                lambda r=round_: (
                    client.phase(s.task_id) == Phase.COMMIT
                    and int(client.task(s.task_id).last_round) == r
                ),
                what=f"round {round_} open",
            )
            for node in nodes:
                node.step()
            s.to_commit_end()
            for node in nodes:
                node.step()
            if round_ == 1:
                # The outcome is deterministic, so the test knows the report's CID in advance:
                # the coordinator stores it right before sending the settlement. Kill it then.
                inputs = gather_inputs(
                    client, store, s.task_id, 1, task_facts(client, s.task_id), s.spec
                )
                expected = compute_round(inputs, store, s.validation, publish=False)
                report_cid = expected.report_cid
                s.to_reveal_end()
                wait_for(
                    lambda: store.has(report_cid),  # noqa: B023 (used at once, in this iteration)
                    poll=0.002,
                    what="the report to be stored",
                )
                coordinator.send_signal(signal.SIGKILL)
                coordinator.wait(timeout=30)
                killed_before_settling = not any(
                    e.name == "RoundSettled" for e in client.task_events(s.task_id)
                )
                coordinator = start_coordinator(devnet, s.task_id, validation, log)
            else:
                s.to_reveal_end()
            wait_for(
                lambda r=round_: any(
                    e.name == "RoundSettled" and e.args["round"] == r
                    for e in client.task_events(s.task_id)
                ),
                what=f"round {round_} settled",
            )
            s.to_challenge_end()
        assert coordinator.wait(timeout=120) == 0, log.read_text()[-3000:]
    finally:
        if coordinator.poll() is None:
            coordinator.kill()
    events = client.task_events(s.task_id)
    settled = [e.args["round"] for e in events if e.name == "RoundSettled"]
    assert settled == [1, 2]  # each round settled exactly once, nothing lost
    assert killed_before_settling, "the kill came too late to test the reveal-settle gap"
    first = next(e for e in events if e.name == "RoundSettled")
    assert first.args["report_cid"] == report_cid  # the restart redid the same work
    assert client.phase(s.task_id) == Phase.ENDED
