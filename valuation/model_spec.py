"""Model specs: the small JSON description of a task's model, shared by training and valuation.

A task publishes a `ModelSpec`; participants build a torch module from it to train
(:func:`valuation.architecture.build_module`), and the valuation engine evaluates coalition
models from the same parameter names. Parameter names are those of the ``torch.nn.Sequential``
that ``build_module`` returns (``"0.weight"``, ...), so a state dict from training can be fed
straight into valuation. This module needs no torch: :func:`parameter_shapes` derives names and
shapes from the spec alone, so commands that only read specs or check update shapes start fast.

Families (all end in ``num_classes`` logits):

``logreg``  Flatten → Linear(d, C)
``mlp``     Flatten → [Linear(·, h) → ReLU] for each h in ``hidden`` → Linear(·, C)
``cnn``     [Conv2d(·, c, 3, padding=1) → ReLU → MaxPool2d(2)] for each c in ``channels``
            → Flatten → [Linear(·, h) → ReLU] for each h in ``hidden`` → Linear(·, C)

The first trainable layer is always linear in its weights (a Linear or a Conv2d), which is what
the batched coalition evaluator relies on.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

Family = Literal["logreg", "mlp", "cnn"]
FAMILIES: tuple[str, ...] = ("logreg", "mlp", "cnn")


@dataclass(frozen=True)
class ModelSpec:
    """What model a task trains; canonical JSON via :meth:`to_json`."""

    family: Family
    input_shape: tuple[int, ...]
    num_classes: int
    hidden: tuple[int, ...] = ()
    channels: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"unknown model family {self.family!r}; choose one of {FAMILIES}")
        object.__setattr__(self, "input_shape", tuple(int(s) for s in self.input_shape))
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        if not self.input_shape or any(s <= 0 for s in self.input_shape):
            raise ValueError(f"input_shape must be positive, got {self.input_shape}")
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {self.num_classes}")
        if any(h <= 0 for h in self.hidden) or any(c <= 0 for c in self.channels):
            raise ValueError("hidden and channels sizes must be positive")
        if self.family == "cnn":
            if len(self.input_shape) != 3:
                raise ValueError("cnn needs input_shape (channels, height, width)")
            if not self.channels:
                raise ValueError("cnn needs at least one conv channel count")
            side = min(self.input_shape[1:])
            if side >> len(self.channels) < 1:
                raise ValueError("too many conv blocks for the input size")
        elif self.channels:
            raise ValueError(f"{self.family} takes no conv channels")
        if self.family == "logreg" and self.hidden:
            raise ValueError("logreg takes no hidden layers")

    @property
    def input_dim(self) -> int:
        """Number of input features once flattened."""
        return math.prod(self.input_shape)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, no spaces): equal specs give equal bytes."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        unknown = set(data) - {"family", "input_shape", "num_classes", "hidden", "channels"}
        if unknown:
            raise ValueError(f"unknown model spec fields: {sorted(unknown)}")
        return cls(
            family=data["family"],
            input_shape=tuple(data["input_shape"]),
            num_classes=int(data["num_classes"]),
            hidden=tuple(data.get("hidden", ())),
            channels=tuple(data.get("channels", ())),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> ModelSpec:
        return cls.from_dict(json.loads(text))


def parameter_shapes(spec: ModelSpec) -> dict[str, tuple[int, ...]]:
    """Name → shape of every parameter of :func:`valuation.architecture.build_module`'s module,
    in sorted name order (computed from the spec; a test checks it against torch)."""
    shapes: dict[str, tuple[int, ...]] = {}
    index = 0
    if spec.family == "cnn":
        in_ch, h, w = spec.input_shape
        for ch in spec.channels:
            shapes[f"{index}.weight"] = (ch, in_ch, 3, 3)
            shapes[f"{index}.bias"] = (ch,)
            index += 3  # Conv2d, ReLU, MaxPool2d
            in_ch, h, w = ch, h // 2, w // 2
        width = in_ch * h * w
    else:
        width = spec.input_dim
    index += 1  # Flatten
    for hid in spec.hidden:
        shapes[f"{index}.weight"] = (hid, width)
        shapes[f"{index}.bias"] = (hid,)
        index += 2  # Linear, ReLU
        width = hid
    shapes[f"{index}.weight"] = (spec.num_classes, width)
    shapes[f"{index}.bias"] = (spec.num_classes,)
    return dict(sorted(shapes.items()))
