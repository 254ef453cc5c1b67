"""Start-up time of the `fedmarket` command, next to a bare Python start measured in the same run.

Every command that neither trains nor values must start without importing torch (and the
chain libraries only when it talks to the chain). This prints, for each command below, the
median wall time of ``python -m fedmarket ARGS`` over several runs, the same for
``python -c pass`` (the floor: the interpreter itself), their difference and their ratio, and
whether torch was imported. Target: ``fedmarket --help`` under 0.5 s on an idle 2-core machine.

    python bench/cli.py [--json] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

COMMANDS: tuple[tuple[str, ...], ...] = (
    ("--help",),
    ("task", "list", "--help"),
    ("devnet", "status", "--help"),
    ("account", "list"),
    ("audit", "--help"),
    ("join", "--help"),
)

# Runs the CLI in-process and reports whether torch got imported (stdout of the CLI is dropped).
_PROBE = (
    "import contextlib, io, sys\n"
    "from fedmarket.cli import main\n"
    "sys.argv = ['fedmarket', *sys.argv[1:]]\n"
    "with contextlib.redirect_stdout(io.StringIO()):\n"
    "    try:\n"
    "        main()\n"
    "    except SystemExit:\n"
    "        pass\n"
    "print('torch' in sys.modules)\n"
)


def _time(argv: list[str], env: dict[str, str], repeat: int) -> tuple[float, str]:
    times, out = [], ""
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
        out = proc.stdout.strip()
    return statistics.median(times), out


def measure(repeat: int) -> dict[str, object]:
    """Median start-up seconds of each command and of ``python -c pass``, same run."""
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "FEDMARKET_HOME": home, "PYTHONPATH": str(ROOT)}
        floor, _ = _time([sys.executable, "-c", "pass"], env, repeat)
        rows = []
        for args in COMMANDS:
            seconds, out = _time([sys.executable, "-c", _PROBE, *args], env, repeat)
            rows.append(
                {
                    "command": "fedmarket " + " ".join(args),
                    "seconds": round(seconds, 3),
                    "over_python": round(seconds - floor, 3),
                    "ratio_to_python": round(seconds / floor, 2),
                    "imports_torch": out.endswith("True"),
                }
            )
    return {"python_c_pass_seconds": round(floor, 3), "repeat": repeat, "commands": rows,
            "target": {"fedmarket --help": "< 0.5 s"}}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--repeat", type=int, default=7, help="runs per command (median)")
    args = parser.parse_args()
    result = measure(args.repeat)
    if args.json:
        print(json.dumps(result))
        return
    print(f"python -c pass: {result['python_c_pass_seconds']:.3f} s (median of {args.repeat})")
    for row in result["commands"]:  # type: ignore[attr-defined]
        torch = "imports torch" if row["imports_torch"] else "no torch"
        print(
            f"{row['command']:<34} {row['seconds']:.3f} s  "
            f"(+{row['over_python']:.3f} s, x{row['ratio_to_python']:.1f})  {torch}"
        )


if __name__ == "__main__":
    main()
