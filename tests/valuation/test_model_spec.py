"""`parameter_shapes` is computed from the spec alone; it must name and shape exactly what torch builds."""

from __future__ import annotations

import pytest

from valuation.architecture import build_module
from valuation.model_spec import ModelSpec, parameter_shapes

SPECS = [
    ModelSpec("logreg", (64,), 10),
    ModelSpec("mlp", (64,), 10, hidden=(64, 64)),
    ModelSpec("mlp", (3, 5), 4, hidden=(7,)),
    ModelSpec("cnn", (1, 8, 8), 10, channels=(8,)),
    ModelSpec("cnn", (3, 16, 12), 5, channels=(4, 6), hidden=(9,)),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.to_json())
def test_shapes_match_the_torch_module(spec: ModelSpec) -> None:
    module = build_module(spec, seed=0)

    built = {name: tuple(p.shape) for name, p in sorted(module.named_parameters())}

    assert parameter_shapes(spec) == built
    assert list(parameter_shapes(spec)) == sorted(built)


def test_model_spec_imports_no_torch() -> None:
    import subprocess
    import sys

    code = "import sys, valuation.model_spec; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert out.stdout.strip() == "False"
