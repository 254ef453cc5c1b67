"""The README's step-by-step walkthrough, run literally, so the README cannot drift.

The fenced block after the ``<!-- walkthrough: ... -->`` marker is run as one bash session
(like the terminal it was written for): every command exactly as printed, ``&`` commands in
the background, ``wait`` waiting for them. Each command must succeed, and the output the
README shows under it (``#>`` lines, ``…`` matching anything) must appear in that order.

The test supplies what the README assumes around the block: a fresh FEDMARKET_HOME, free
ports (through click's ``FEDMARKET_<COMMAND>_<OPTION>`` variables, so the commands stay
literal), and a ``.venv/bin/activate`` that puts this checkout's ``fedmarket`` and ``python``
first on PATH, as ``make setup``'s virtualenv does in a fresh clone.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from devnet import manager
from devnet.process import free_port
from marketplace.settings import Settings

pytestmark = [pytest.mark.anvil, pytest.mark.slow, pytest.mark.timeout(1500)]

ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- walkthrough:"


@dataclass
class Step:
    """One command of the block and the output lines the README shows under it."""

    command: str
    expected: list[str] = field(default_factory=list)


def walkthrough_steps(readme: str) -> list[Step]:
    """The commands of the marked block, each with its ``#>`` lines (heredocs kept whole)."""
    after = readme[readme.index(MARKER) :]
    block = after[after.index("```bash\n") + len("```bash\n") :]
    block = block[: block.index("\n```")]
    steps: list[Step] = []
    lines = block.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if line.startswith("#>"):  # "#> " then the line exactly as printed (leading spaces too)
            steps[-1].expected.append(line[3:].rstrip() if line.startswith("#> ") else "")
            continue
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        command = [line]
        heredoc = re.search(r"<<'?(\w+)'?", line)
        while command[-1].endswith("\\") or heredoc:
            command.append(lines[i])
            i += 1
            if heredoc and command[-1] == heredoc.group(1):
                heredoc = None
                break
        steps.append(Step("\n".join(command)))
    return steps


def pattern(expected: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in expected.split("…")))


def appears_in_order(expected: list[str], output: list[str]) -> list[str]:
    """The expected lines not found, in order, among ``output``'s lines."""
    missing = []
    position = 0
    for line in expected:
        regex = pattern(line)
        for j in range(position, len(output)):
            if regex.fullmatch(output[j].rstrip()):
                position = j + 1
                break
        else:
            missing.append(line)
    return missing


def test_the_block_is_found_and_parsed() -> None:
    steps = walkthrough_steps((ROOT / "README.md").read_text())

    commands = [s.command.split()[0:2] for s in steps]
    assert ["fedmarket", "devnet"] in commands and ["fedmarket", "coordinate"] in commands
    assert sum(1 for s in steps if re.search(r"&\s*(#.*)?$", s.command)) >= 3
    assert any("<<'EOF'" in s.command and s.command.endswith("EOF") for s in steps)


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Path]:
    """A working directory with a stand-in ``.venv`` for this checkout; cleans up after."""
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, target in (("fedmarket", f"{sys.executable} -m fedmarket.cli"),
                         ("python", sys.executable)):  # fmt: skip
        (bin_dir / name).write_text(f'#!/bin/sh\nexec {target} "$@"\n')
        (bin_dir / name).chmod(0o755)
    (bin_dir / "activate").write_text(
        f"export PATH={shlex.quote(str(bin_dir))}:$PATH\n"
        f"export PYTHONPATH={shlex.quote(str(ROOT))}\n"
    )
    yield tmp_path
    manager.down(Settings(home=tmp_path / "home"))


def test_readme_walkthrough_runs_as_written(session: Path) -> None:
    steps = walkthrough_steps((ROOT / "README.md").read_text())
    script = ["set -u"]
    for n, step in enumerate(steps):
        script += [f"echo '@@step {n}'", step.command, "rc=$?", f"echo \"@@rc {n} $rc\"",
                   'if [ "$rc" -ne 0 ]; then exit "$rc"; fi']  # fmt: skip
    serve_port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FEDMARKET_")},
        "FEDMARKET_HOME": str(session / "home"),
        "FEDMARKET_DEVNET_UP_PORT": str(free_port()),
        "FEDMARKET_SERVE_PORT": str(serve_port),
        "OMP_NUM_THREADS": "1",
        "NO_COLOR": "1",
    }
    # Files, not pipes: the backgrounded server keeps its inherited stderr open for good.
    out_path, err_path = session / "session.out", session / "session.err"
    with out_path.open("w") as out_file, err_path.open("w") as err_file:
        proc = subprocess.Popen(
            ["bash", "-c", "\n".join(script)], cwd=session, env=env, stdout=out_file,
            stderr=err_file, text=True, start_new_session=True,
        )  # fmt: skip
    try:
        proc.wait(timeout=900)
        out, err = out_path.read_text(), err_path.read_text()
        outputs = split_steps(out)
        problems = []
        for n, step in enumerate(steps):
            assert n in outputs, f"step {n} did not run: {step.command}\n{err[-3000:]}"
            lines, rc = outputs[n]
            assert rc == 0, f"{step.command} exited {rc}\n{err[-3000:]}"
            missing = appears_in_order(step.expected, lines)
            if missing:
                problems.append(f"{step.command}\n  missing {missing}\n  in {lines}")
        assert not problems, "\n".join(problems)
        assert proc.returncode == 0, err[-3000:]
        served = wait_for_line(session / "serve.log", "dashboard at ")
        assert f"dashboard at http://127.0.0.1:{serve_port}/" in served
        health = httpx.get(f"http://127.0.0.1:{serve_port}/api/health", timeout=10).json()
        assert health["tasks"] == 1
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # the backgrounded server (and any node left)
        proc.wait(timeout=30)


def split_steps(out: str) -> dict[int, tuple[list[str], int]]:
    """Each step's stdout lines and exit code, from the ``@@step``/``@@rc`` markers."""
    result: dict[int, tuple[list[str], int]] = {}
    current: int | None = None
    lines: list[str] = []
    for line in out.splitlines():
        if line.startswith("@@step "):
            current, lines = int(line.split()[1]), []
        elif line.startswith("@@rc ") and current is not None:
            result[current] = (lines, int(line.split()[2]))
            current = None
        else:
            lines.append(line)
    return result


def wait_for_line(path: Path, text: str, timeout: float = 120.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            for line in path.read_text().splitlines():
                if text in line:
                    return line
        time.sleep(0.2)
    raise AssertionError(f"{path} never printed {text!r}")
