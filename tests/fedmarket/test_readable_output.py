"""No raw base-unit amount in what people read: `task show`, `audit`, `devnet status`, `task list`.

(The demo's text is checked by test_demo_e2e, every error message by test_bad_inputs.) The
same commands with `--json` and `audit --csv` must carry the exact amounts instead.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from fmkit import TOKEN, Devnet, coordinator_for, fedmarket, make_scenario, nodes_for, play_round

from marketplace.protocol.dataset import save_npz
from marketplace.units import units_of
from participant.behaviours import Honest

pytestmark = pytest.mark.anvil

LONG_DIGITS = re.compile(r"\b\d{16,}\b")


@pytest.fixture(scope="module")
def settled(devnet: Devnet, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path]:
    """A task whose one round paid out uneven amounts (not round numbers of tokens)."""
    s = make_scenario(devnet, n=2, rounds=1, round_budget=7, seed=31)
    play_round(s, coordinator_for(s), nodes_for(s, [Honest(), Honest()]))
    s.to_challenge_end()
    devnet.client(2).finalize(s.task_id)
    return s.task_id, save_npz(s.validation, tmp_path_factory.mktemp("val") / "val.npz")


@pytest.mark.parametrize(
    "args",
    [
        ("task", "show", "{task}"),
        ("task", "list", "--all"),
        ("audit", "--task", "{task}", "--validation", "{val}"),
        ("devnet", "status"),
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_text_output_has_no_raw_amounts(
    devnet: Devnet, settled: tuple[int, Path], args: tuple[str, ...]
) -> None:
    task_id, val = settled
    filled = [a.format(task=task_id, val=val) for a in args]

    proc = fedmarket(devnet, *filled)

    assert proc.returncode == 0, proc.stderr
    assert not LONG_DIGITS.search(proc.stdout), LONG_DIGITS.search(proc.stdout)
    assert " FMT" in proc.stdout


def test_task_show_json_and_audit_csv_are_exact(
    devnet: Devnet, settled: tuple[int, Path], tmp_path: Path
) -> None:
    task_id, val = settled

    shown = json.loads(fedmarket(devnet, "task", "show", str(task_id), "--json").stdout)
    audited = fedmarket(devnet, "audit", "--task", str(task_id), "--validation", str(val),
                        "--csv", str(tmp_path / "ledger.csv"), "--json")  # fmt: skip
    rows = list(csv.DictReader((tmp_path / "ledger.csv").open()))

    assert shown["budget"] == {"units": str(7 * TOKEN), "value": "7", "decimals": 18}
    assert units_of(shown["rounds_detail"][0]["total_paid"]) == 7 * TOKEN
    report = json.loads(audited.stdout)
    assert report["ok"] and units_of(report["rounds"][0]["total_paid"]) == 7 * TOKEN
    assert sum(int(r["payout_units"]) for r in rows) == 7 * TOKEN
    for r in rows:
        assert r["decimals"] == "18"
        whole, _, fraction = r["payout"].partition(".")
        assert int(whole) * TOKEN + int(fraction.ljust(18, "0") or 0) == int(r["payout_units"])
        assert len(r["value"]) <= 15  # contribution values to 8 significant digits
