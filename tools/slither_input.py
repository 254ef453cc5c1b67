"""Write the contracts' Standard JSON input for Slither (offline), with ASTs selected.

Slither cannot drive this project through forge (no native solc), but it analyses a Standard
JSON input compiled by ``tools/solc-js.cjs``. The input is the very one ``marketplace.compile``
builds (every source inlined under its import path, OpenZeppelin included), with the AST and
bytecode outputs Slither needs added. Usage (from the repository root)::

    python tools/slither_input.py contracts/out/slither-input.json
    slither contracts/out/slither-input.json --solc tools/solc-js.cjs \
        --compile-force-framework solc-json --filter-paths node_modules
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from marketplace.compile import collect_sources, standard_input  # noqa: E402

OUTPUTS = ["abi", "evm.bytecode", "evm.deployedBytecode", "evm.methodIdentifiers"]


def main(argv: list[str]) -> int:
    """Writes the input to argv[0] (default: contracts/out/slither-input.json)."""
    out = Path(argv[0]) if argv else ROOT / "contracts" / "out" / "slither-input.json"
    data = standard_input(collect_sources(ROOT))
    data["settings"]["outputSelection"] = {"*": {"*": OUTPUTS, "": ["ast"]}}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data), encoding="utf-8")
    print(f"wrote {out} ({len(data['sources'])} sources)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
