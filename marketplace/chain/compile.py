"""Offline Solidity build: Standard JSON from contracts/src, committed artifacts, staleness check.

The contracts are compiled with one pinned compiler (solc 0.8.28) and one explicit EVM version
(``shanghai``: the newest that Anvil, Ganache 7.9 and eth-tester all run), optimizer on with 200
runs, and no metadata hash in the bytecode, so that the same sources always give the same bytes.
A native ``solc`` on PATH is used when it reports the pinned version; otherwise
``tools/solc-js.cjs`` (npm solc-js behind a ``solc``-compatible command line) is.

Every source that goes into the compilation is embedded in the Standard JSON input (contracts/src
files plus the OpenZeppelin files they import, resolved from node_modules), so the compiler never
reads the file system. ``sourceHash`` in each artifact is the sha256 over those sources, sorted by
path: for each, the UTF-8 path, a NUL byte, the file's bytes, a NUL byte. ``--check`` only
recomputes that hash (no compiler needed) and fails when the committed artifacts are stale.

Usage::

    python -m marketplace.chain.compile --write   # recompile and rewrite contracts/artifacts/*.json
    python -m marketplace.chain.compile --check   # exit 1 when the artifacts do not match the sources
    python -m marketplace.chain.compile --standard-json std.json   # the input, for Slither
"""

from __future__ import annotations

import argparse
import hashlib
import json
import posixpath
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from marketplace.errors import ConfigError

SOLC_VERSION = "0.8.28"
EVM_VERSION = "shanghai"
OPTIMIZER: dict[str, Any] = {"enabled": True, "runs": 200}
VIA_IR = False
CONTRACTS = ("RewardToken", "Marketplace")
_OUTPUTS = ("abi", "evm.bytecode.object", "evm.deployedBytecode.object")

_IMPORT = re.compile(r"""^\s*import\s+(?:[^"';]*?\s+from\s+)?["']([^"']+)["']\s*;""", re.M)


def repo_root() -> Path:
    """The repository checkout this module lives in (holds contracts/, tools/, node_modules/)."""
    return Path(__file__).resolve().parents[2]


def artifacts_dir() -> Path:
    """Where the committed build artifacts live: ``contracts/artifacts``."""
    return repo_root() / "contracts" / "artifacts"


def load_artifact(name: str) -> dict[str, Any]:
    """The committed artifact of contract ``name`` (``RewardToken`` or ``Marketplace``)."""
    path = artifacts_dir() / f"{name}.json"
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"no build artifact for {name} at {path}",
            hint="run `python -m marketplace.chain.compile --write`",
        ) from None
    return data


def _resolve(importer: str, target: str) -> str:
    """The source unit name solc gives ``target`` when imported from ``importer``."""
    if target.startswith(("./", "../")):
        return posixpath.normpath(posixpath.join(posixpath.dirname(importer), target))
    return target


def _read_unit(name: str, root: Path) -> str:
    """Reads a source unit: ``contracts/...`` from the checkout, anything else from node_modules."""
    base = root if name.startswith("contracts/") else root / "node_modules"
    path = base / name
    if not path.is_file():
        raise ConfigError(f"Solidity import not found: {name} (looked at {path})")
    return path.read_text(encoding="utf-8")


def collect_sources(root: Path | None = None) -> dict[str, str]:
    """Every source unit of the build: contracts/src/*.sol and their transitive imports."""
    root = root or repo_root()
    pending = sorted(f"contracts/src/{p.name}" for p in (root / "contracts" / "src").glob("*.sol"))
    if not pending:
        raise ConfigError(f"no Solidity sources under {root / 'contracts' / 'src'}")
    sources: dict[str, str] = {}
    while pending:
        name = pending.pop()
        if name in sources:
            continue
        text = _read_unit(name, root)
        sources[name] = text
        pending.extend(_resolve(name, t) for t in _IMPORT.findall(text))
    return dict(sorted(sources.items()))


def source_hash(sources: Mapping[str, str]) -> str:
    """sha256 (hex) over the sources sorted by path: path, NUL, contents, NUL for each."""
    digest = hashlib.sha256()
    for name in sorted(sources):
        digest.update(name.encode("utf-8") + b"\0" + sources[name].encode("utf-8") + b"\0")
    return digest.hexdigest()


def standard_input(sources: Mapping[str, str]) -> dict[str, Any]:
    """The Standard JSON input: all sources inline, pinned settings, only what artifacts need."""
    return {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sources.items()},
        "settings": {
            "optimizer": dict(OPTIMIZER),
            "viaIR": VIA_IR,
            "evmVersion": EVM_VERSION,
            "metadata": {"bytecodeHash": "none", "appendCBOR": False},
            "outputSelection": {
                f"contracts/src/{name}.sol": {name: list(_OUTPUTS)} for name in CONTRACTS
            },
        },
    }


def analysis_input(sources: Mapping[str, str]) -> dict[str, Any]:
    """The Standard JSON input for analysers (Slither): the build's settings, every output.

    Same sources and settings as the build, so the analysed code is the deployed code; the
    output selection asks for ASTs, source maps and bytecode of every contract, which static
    analysers read.
    """
    data = standard_input(sources)
    data["settings"]["outputSelection"] = {
        "*": {"*": ["abi", "evm.bytecode", "evm.deployedBytecode", "evm.methodIdentifiers"],
              "": ["ast"]}
    }  # fmt: skip
    return data


def _reported_version(binary: str) -> str | None:
    """The long version a ``solc`` binary prints (``0.8.28+commit...``), or None."""
    try:
        out = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=60, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"Version:\s*(\S+)", out)
    return match.group(1) if match else None


def find_solc() -> tuple[str, str]:
    """(binary, long version): a native solc of the pinned version if on PATH, else solc-js."""
    native = shutil.which("solc")
    if native:
        version = _reported_version(native)
        if version and version.startswith(SOLC_VERSION + "+"):
            return native, version
    script = repo_root() / "tools" / "solc-js.cjs"
    version = _reported_version(str(script))
    if not version or not version.startswith(SOLC_VERSION + "+"):
        raise ConfigError(
            f"no solc {SOLC_VERSION}: neither a native solc on PATH nor {script} "
            f"(reported {version!r})",
            hint="run `make setup` (npm ci installs solc-js)",
        )
    return str(script), version


def compile_contracts(sources: Mapping[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """Compiles the sources and returns the artifact of each contract in CONTRACTS."""
    import solcx  # heavy import, only needed when compiling

    sources = dict(sources) if sources is not None else collect_sources()
    binary, version = find_solc()
    output = solcx.compile_standard(standard_input(sources), solc_binary=binary)
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise ConfigError(
            "Solidity compilation failed:\n"
            + "\n".join(str(e.get("formattedMessage", e.get("message"))) for e in errors)
        )
    digest = source_hash(sources)
    artifacts: dict[str, dict[str, Any]] = {}
    for name in CONTRACTS:
        compiled = output["contracts"][f"contracts/src/{name}.sol"][name]
        artifacts[name] = {
            "contractName": name,
            "abi": compiled["abi"],
            "bytecode": "0x" + compiled["evm"]["bytecode"]["object"],
            "deployedBytecode": "0x" + compiled["evm"]["deployedBytecode"]["object"],
            "compiler": version,
            "evmVersion": EVM_VERSION,
            "optimizer": dict(OPTIMIZER),
            "viaIR": VIA_IR,
            "sourceHash": digest,
            "sources": sorted(sources),
        }
    return artifacts


def write_artifacts(artifacts: Mapping[str, Mapping[str, Any]], out: Path | None = None) -> None:
    """Writes one ``<Name>.json`` per contract (stable key order, trailing newline)."""
    out = out or artifacts_dir()
    out.mkdir(parents=True, exist_ok=True)
    for name, data in artifacts.items():
        text = json.dumps(data, indent=2, sort_keys=True) + "\n"
        (out / f"{name}.json").write_text(text, encoding="utf-8")


def stale_artifacts(sources: Mapping[str, str] | None = None) -> list[str]:
    """Names of the contracts whose committed artifact is missing, stale or built differently."""
    sources = dict(sources) if sources is not None else collect_sources()
    digest = source_hash(sources)
    stale = []
    for name in CONTRACTS:
        path = artifacts_dir() / f"{name}.json"
        if not path.is_file():
            stale.append(name)
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        if (
            data.get("sourceHash") != digest
            or data.get("evmVersion") != EVM_VERSION
            or data.get("optimizer") != OPTIMIZER
            or not str(data.get("compiler", "")).startswith(SOLC_VERSION + "+")
        ):
            stale.append(name)
    return stale


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``--write`` recompiles, ``--check`` verifies (exit 1 when stale)."""
    parser = argparse.ArgumentParser(
        prog="python -m marketplace.chain.compile", description=__doc__
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="recompile and rewrite the artifacts")
    mode.add_argument("--check", action="store_true", help="fail when the artifacts are stale")
    mode.add_argument(
        "--standard-json",
        metavar="PATH",
        type=Path,
        help="write the Standard JSON input (every source inline) for other tools, e.g. Slither",
    )
    args = parser.parse_args(argv)
    if args.standard_json is not None:
        args.standard_json.parent.mkdir(parents=True, exist_ok=True)
        args.standard_json.write_text(json.dumps(analysis_input(collect_sources()), indent=1))
        print(f"wrote {args.standard_json}")
        return 0
    if args.check:
        stale = stale_artifacts()
        if stale:
            print(
                f"stale contract artifacts: {', '.join(stale)} "
                "(run `python -m marketplace.chain.compile --write`)",
                file=sys.stderr,
            )
            return 1
        print(f"contract artifacts match the sources ({', '.join(CONTRACTS)})")
        return 0
    artifacts = compile_contracts()
    write_artifacts(artifacts)
    for name, data in artifacts.items():
        size = (len(data["deployedBytecode"]) - 2) // 2
        print(f"wrote {artifacts_dir() / (name + '.json')} ({size} bytes deployed)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
