"""Commands that neither train nor value start without torch (issue: every command paid ~6 s)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Runs the CLI in-process, then prints which heavy modules got imported.
PROBE = """
import contextlib, io, sys
from fedmarket.cli import main
sys.argv = ["fedmarket", *sys.argv[1:]]
with contextlib.redirect_stdout(io.StringIO()):
    try:
        main()
    except SystemExit:
        pass
print("loaded:" + ",".join(m for m in ("torch", "web3") if m in sys.modules))
"""


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["task", "list", "--help"],
        ["devnet", "status", "--help"],
        ["account", "list"],
        ["task", "create", "--help"],
        ["audit", "--help"],
        ["demo", "--help"],
    ],
    ids=lambda a: " ".join(a),
)
def test_command_starts_without_torch(args: list[str], tmp_path: Path) -> None:
    env = {**os.environ, "FEDMARKET_HOME": str(tmp_path)}

    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args], env=env, capture_output=True, text=True, check=True
    )

    loaded = proc.stdout.strip().splitlines()[-1].removeprefix("loaded:").split(",")
    assert "torch" not in loaded
    assert "web3" not in loaded  # nothing here talks to the chain


@pytest.mark.parametrize(
    "args",
    [
        ["task", "show", "1"],
        ["task", "list"],
        ["task", "refund", "1", "--key", "k"],
        ["withdraw", "--credits", "--key", "k"],
        ["claim", "--task", "1", "--key", "k"],
        ["devnet", "status"],
    ],
    ids=lambda a: " ".join(a),
)
def test_chain_commands_start_without_torch(args: list[str], tmp_path: Path) -> None:
    """They need web3, not torch (task show imported torch through the task module)."""
    env = {**os.environ, "FEDMARKET_HOME": str(tmp_path)}

    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args], env=env, capture_output=True, text=True, check=True
    )

    loaded = proc.stdout.strip().splitlines()[-1].removeprefix("loaded:").split(",")
    assert "torch" not in loaded


def test_help_lists_every_command(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "fedmarket", "--help"],
        env={**os.environ, "FEDMARKET_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
    )

    for name in ("account", "audit", "challenge", "claim", "coordinate", "demo", "devnet",
                 "ipfs", "join", "resolve", "serve", "task", "withdraw"):  # fmt: skip
        assert f"  {name} " in proc.stdout
