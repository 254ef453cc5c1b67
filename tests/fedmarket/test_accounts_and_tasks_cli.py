"""`fedmarket account` and `fedmarket task` through the real CLI on a real Anvil."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fmkit import Devnet, fedmarket, make_scenario

from marketplace.protocol.dataset import save_npz
from marketplace.protocol.ledger_lookup import task_facts
from marketplace.protocol.task_spec import TaskSpec
from participant.data import load_digits, train_validation_split

pytestmark = pytest.mark.anvil


def test_account_new_list_fund_never_prints_the_key(devnet: Devnet) -> None:
    created = fedmarket(devnet, "account", "new", "--name", "carol", "--json")
    assert created.returncode == 0, created.stderr
    entry = json.loads(created.stdout)
    keystore = json.loads(Path(entry["keystore"]).read_text())
    assert keystore["crypto"]["ciphertext"] not in created.stdout + created.stderr
    listed = json.loads(fedmarket(devnet, "account", "list", "--json").stdout)
    assert entry["address"] in [a["address"] for a in listed]
    funded = fedmarket(devnet, "account", "fund", entry["address"], "--tokens", "7")
    assert funded.returncode == 0, funded.stderr
    client = devnet.client(1)
    assert client.balance(entry["address"]) == 7 * 10**18
    wrong = subprocess.run(
        [
            sys.executable,
            "-m",
            "fedmarket.cli",
            "withdraw",
            "--credits",
            "--key",
            "carol",
        ],
        env={
            **os.environ,
            "FEDMARKET_HOME": str(devnet.settings.home),
            "FEDMARKET_KEY_PASSWORD": "wrong",
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert wrong.returncode == 1
    assert "wrong password" in wrong.stderr and "Traceback" not in wrong.stderr


def test_task_create_list_show_json(devnet: Devnet, tmp_path: Path) -> None:
    fedmarket(devnet, "account", "new", "--name", "dave")
    address = json.loads(fedmarket(devnet, "account", "list", "--json").stdout)
    dave = next(a["address"] for a in address if a["keystore"].endswith("dave.json"))
    fedmarket(devnet, "account", "fund", dave, "--tokens", "5000")
    _, validation = train_validation_split(load_digits(), 0.2, seed=0)
    path = save_npz(validation, tmp_path / "val.npz")
    created = fedmarket(
        devnet,
        "task",
        "create",
        "--key",
        "dave",
        "--validation",
        str(path),
        "--aggregator",
        devnet.client(2).address,
        "--arbiter",
        devnet.client(0).address,
        "--rounds",
        "2",
        "--round-budget",
        "100",
        "--stake",
        "3",
        "--valuation-setting",
        "cap=0.5",
        "--valuation-setting",
        "allocation=fli",
        "--valuation-setting",
        "identity_cost=0",
        "--valuation-setting",
        "round_gate=0.25",
        "--json",
    )
    assert created.returncode == 0, created.stderr
    task_id = json.loads(created.stdout)["task_id"]
    facts = task_facts(devnet.client(1), task_id)
    spec = TaskSpec.from_json(devnet.store().cat_bytes(facts.spec_cid))
    assert (spec.valuation.cap, spec.valuation.allocation) == (0.5, "fli")
    assert (spec.valuation.identity_cost, spec.valuation.round_gate) == (0, 0.25)
    market = json.loads(fedmarket(devnet, "task", "list", "--json").stdout)
    row = next(r for r in market if r["task_id"] == task_id)
    assert row["rounds"] == 2
    assert row["budget"] == {"units": str(200 * 10**18), "value": "200", "decimals": 18}
    assert row["min_stake"]["value"] == "3" and row["phase"] == "CREATED"
    shown = json.loads(fedmarket(devnet, "task", "show", str(task_id), "--json").stdout)
    assert shown["aggregator"] == devnet.client(2).address and shown["rounds_detail"] == []
    assert shown["arbiter"] == devnet.client(0).address


def test_out_of_phase_calls_are_one_line_errors(devnet: Devnet) -> None:
    s = make_scenario(devnet, n=1, rounds=1)
    fedmarket(devnet, "account", "new", "--name", "erin")
    listed = json.loads(fedmarket(devnet, "account", "list", "--json").stdout)
    erin = next(a["address"] for a in listed if a["keystore"].endswith("erin.json"))
    fedmarket(devnet, "account", "fund", erin, "--tokens", "10")

    resolve = fedmarket(
        devnet, "resolve", "--task", str(s.task_id), "--round", "1", "--uphold", "--key", "erin"
    )  # no round, no challenge, not the arbiter: the role is checked first
    assert resolve.returncode == 1
    assert resolve.stderr.startswith("error: ") and "is not the arbiter of task" in resolve.stderr
    assert len(resolve.stderr.strip().splitlines()) == 1

    unknown = fedmarket(devnet, "task", "show", "999999")
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("error: task 999999 does not exist")

    shown = fedmarket(devnet, "task", "show", str(s.task_id))
    assert "budget         100 FMT (100 FMT x 1 rounds)" in shown.stdout

    audit = fedmarket(devnet, "audit", "--task", str(s.task_id), "--json")
    assert audit.returncode == 0, audit.stderr  # no validation set yet: the public level runs
    assert json.loads(audit.stdout)["level"] == "public"
