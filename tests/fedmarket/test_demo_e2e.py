"""End to end with real participant processes: `fedmarket demo` in a terminal, on a real Anvil.

One demo run serves two tests. It runs inside tmux (a real terminal, so the live progress bar
is drawn) and the pane is captured as it goes; the recording is saved to
``test-artifacts/demo-terminal.txt`` (the whole session) and ``demo-progress.txt`` (frames
showing the progress bar). Without tmux the same demo runs as a plain subprocess, and only the
recording test is skipped. The demo's result comes from ``$FEDMARKET_HOME/demo/summary.json``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fmkit import Devnet

from marketplace.chain.client import MarketplaceClient
from marketplace.protocol.ledger import Ledger
from marketplace.units import units_of

pytestmark = [pytest.mark.anvil, pytest.mark.slow, pytest.mark.timeout(1500)]
ROUNDS = 3
ROUND_BUDGET = 1000 * 10**18
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
LONG_DIGITS = re.compile(r"\b\d{16,}\b")
#: A frame of the live bar: "⠙ round 2: training, commit, reveal   ━━━╸━━━  1/3 rounds 0:00:41"
BAR = re.compile(r"round \d: .* \d/3 rounds")


@dataclass
class DemoRun:
    exit_code: int
    text: str  # everything the demo printed (the whole pane, or stdout)
    frames: list[str]  # pane captures while it ran (empty without tmux)
    summary: dict[str, Any]
    in_terminal: bool


def _run_in_tmux(env: dict[str, str], workdir: Path) -> tuple[int, str, list[str]]:
    socket_name = f"fedmarket-test-{os.getpid()}"
    tmux = ["tmux", "-L", socket_name, "-f", str(workdir / "tmux.conf")]
    (workdir / "tmux.conf").write_text("set -g history-limit 20000\n")
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items() if k.startswith(
        ("FEDMARKET_", "PYTHONPATH", "PATH", "HOME", "LANG", "OMP_", "MKL_")))  # fmt: skip
    script = workdir / "demo.sh"
    script.write_text(
        f"cd {shlex.quote(str(ROOT))}\n"
        f"export {exports}\n"
        f"{shlex.quote(sys.executable)} -m fedmarket.cli demo --rounds {ROUNDS}\n"
        'echo "@@exit $?"\n'
        "sleep 3600\n"
    )
    subprocess.run([*tmux, "new-session", "-d", "-s", "demo", "-x", "110", "-y", "40",
                    f"bash {shlex.quote(str(script))}"], check=True, env=env)  # fmt: skip
    frames: list[str] = []
    deadline = time.monotonic() + 900
    try:
        while time.monotonic() < deadline:
            frame = subprocess.run([*tmux, "capture-pane", "-p", "-t", "demo"],
                                   capture_output=True, text=True, check=True).stdout  # fmt: skip
            frames.append(frame)
            if "@@exit" in frame:
                break
            time.sleep(1.0)
        whole = subprocess.run([*tmux, "capture-pane", "-p", "-S", "-", "-E", "-", "-t", "demo"],
                               capture_output=True, text=True, check=True).stdout  # fmt: skip
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
    found = re.search(r"@@exit (\d+)", whole)
    return (int(found.group(1)) if found else -1), whole, frames


@pytest.fixture(scope="module")
def demo_run(devnet: Devnet, tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    env = {
        **os.environ,
        "FEDMARKET_HOME": str(devnet.settings.home),
        "PYTHONPATH": str(ROOT),
        "LANG": "C.UTF-8",
    }
    env.pop("NO_COLOR", None)
    summary_path = devnet.settings.home / "demo" / "summary.json"
    summary_path.unlink(missing_ok=True)
    if shutil.which("tmux"):
        code, text, frames = _run_in_tmux(env, tmp_path_factory.mktemp("tmux"))
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "demo-terminal.txt").write_text(text)
        shown = [f for f in frames if BAR.search(f)]
        (ARTIFACTS / "demo-progress.txt").write_text("\n\f\n".join(shown))
        in_terminal = True
    else:
        proc = subprocess.run(
            [sys.executable, "-m", "fedmarket.cli", "demo", "--rounds", str(ROUNDS)],
            env=env, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        code, text, frames, in_terminal = proc.returncode, proc.stdout + proc.stderr, [], False
    assert code == 0, text[-4000:]
    return DemoRun(code, text, frames, json.loads(summary_path.read_text()), in_terminal)


def test_demo_trains_pays_claims_and_audits(devnet: Devnet, demo_run: DemoRun) -> None:
    result = demo_run.summary
    assert set(result) == {
        "task_id", "rpc_url", "rounds", "participants", "budget_spent", "audit_ok",
    }  # fmt: skip
    assert result["rpc_url"] == devnet.deployments.rpc_url  # it used the running devnet

    accuracies = [r["accuracy"] for r in result["rounds"]]
    assert [r["round"] for r in result["rounds"]] == list(range(1, ROUNDS + 1))
    assert accuracies[-1] > accuracies[0] + 0.1, accuracies  # the model learns
    by_behaviour = {p["behaviour"]: p for p in result["participants"]}
    assert set(by_behaviour) == {"honest", "label_noise:0.5", "free_rider"}
    assert units_of(by_behaviour["free_rider"]["tokens_claimed"]) == 0  # never paid
    noisy = units_of(by_behaviour["label_noise:0.5"]["tokens_claimed"])
    honest = [
        units_of(p["tokens_claimed"]) for p in result["participants"] if p["behaviour"] == "honest"
    ]
    assert 0 <= noisy < min(honest), (noisy, honest)  # the noisy participant is paid least
    for r in result["rounds"]:
        assert set(r["payouts"]) <= set(r["contributions"])  # only valued players are paid
    claimed = sum(units_of(p["tokens_claimed"]) for p in result["participants"])
    assert claimed == units_of(result["budget_spent"])  # every payout was claimed
    assert result["budget_spent"]["decimals"] == 18
    assert result["audit_ok"] is True

    client = MarketplaceClient(devnet.w3, devnet.deployments.marketplace)
    ledger = Ledger.from_events(result["task_id"], client.task_events(result["task_id"]))
    assert ledger.total_claimed == claimed
    assert ledger.escrow + ledger.total_slashed == ledger.total_claimed + ledger.total_refunded
    assert ledger.total_staked == ledger.total_withdrawn + ledger.total_slashed
    assert ledger.validation_cid is not None  # published: anyone can audit now
    for p in result["participants"]:  # one Claimed event per round claimed
        mine = p["address"].lower()
        on_chain = sum(c["amount"] for c in ledger.claims if c["account"].lower() == mine)
        assert on_chain == units_of(p["tokens_claimed"])


def test_demo_text_shows_readable_amounts(demo_run: DemoRun) -> None:
    text = demo_run.text

    assert not LONG_DIGITS.search(text), LONG_DIGITS.search(text)
    assert f"budget spent: {ROUNDS * 1000:,} FMT; audit: OK" in text
    assert re.search(r"round 1: settled, accuracy 0\.\d{3}, paid 1,000 FMT", text)
    assert re.search(r"\(free_rider\) .* \d+(\.\d{1,4})? FMT", text)


def test_demo_recording_shows_progress(demo_run: DemoRun) -> None:
    if not demo_run.in_terminal:
        pytest.skip("tmux is not installed (Debian package tmux): no terminal recording")

    with_bar = [f for f in demo_run.frames if BAR.search(f)]

    assert with_bar, "no captured frame shows the progress bar"
    assert (ARTIFACTS / "demo-terminal.txt").read_text() == demo_run.text
    assert any("2/3 rounds" in f for f in with_bar) or any("1/3 rounds" in f for f in with_bar)
