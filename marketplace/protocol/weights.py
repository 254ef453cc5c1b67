"""Canonical bytes for model weights and updates (safetensors, float32, sorted names).

The same tensors give the same bytes, hence the same sha256 and CID, on every machine:
tensors are converted to contiguous little-endian float32, written in sorted name order, and
no metadata is stored (safetensors then writes neither ``__metadata__`` nor anything that
varies between runs). Decoding never unpickles: it parses the safetensors header, then checks
the blob against the task's model spec and rejects NaN/Inf, wrong dtypes and oversized input.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as _st_load
from safetensors.numpy import save as _st_save

from marketplace.errors import InvalidUpdate, NonFiniteWeights, OversizedInput, ShapeMismatch

DTYPE = np.dtype("<f4")
DEFAULT_MAX_BYTES = 256 * 2**20
_HEADER_LIMIT = 100 * 2**20  # safetensors' own cap on the JSON header


def sha256_hex(data: bytes | bytearray | memoryview) -> str:
    """Lower-case hex sha256 of ``data`` (what fedmarket commits next to a CID)."""
    return hashlib.sha256(data).hexdigest()


def _to_float32(name: str, tensor: Any) -> np.ndarray:
    """A contiguous little-endian float32 copy-or-view of a numpy array or torch tensor."""
    if hasattr(tensor, "detach"):  # torch.Tensor, without importing torch here
        tensor = tensor.detach().to("cpu")
        if not tensor.is_floating_point():
            raise ShapeMismatch(f"tensor {name!r} has dtype {tensor.dtype}, expected a float")
        tensor = tensor.float().contiguous().numpy()
    array = np.asarray(tensor)
    if array.dtype.kind != "f":
        raise ShapeMismatch(f"tensor {name!r} has dtype {array.dtype}, expected a float")
    return np.ascontiguousarray(array, dtype=DTYPE)


def encode_weights(
    tensors: Mapping[str, Any], *, check_finite: bool = True, max_bytes: int = DEFAULT_MAX_BYTES
) -> bytes:
    """Canonical safetensors bytes of ``tensors`` (numpy arrays or torch tensors, any float).

    Raises :class:`NonFiniteWeights` on NaN/Inf (unless ``check_finite=False``, for tests
    that need a bad blob), :class:`ShapeMismatch` on non-float tensors and
    :class:`OversizedInput` past ``max_bytes``.
    """
    if not tensors:
        raise InvalidUpdate("no tensors to encode")
    arrays: dict[str, np.ndarray] = {}
    total = 0
    for name in sorted(tensors):
        if not isinstance(name, str) or not name:
            raise InvalidUpdate(f"tensor names must be non-empty strings, got {name!r}")
        array = _to_float32(name, tensors[name])
        total += array.nbytes
        if total > max_bytes:
            raise OversizedInput(f"weights exceed {max_bytes} bytes")
        if check_finite and not np.isfinite(array).all():
            raise NonFiniteWeights(f"tensor {name!r} holds NaN or Inf")
        arrays[name] = array
    return bytes(_st_save(arrays, metadata=None))


def _read_header(blob: bytes) -> dict[str, Any]:
    """Parse and sanity-check the safetensors header before handing the blob to safetensors."""
    if len(blob) < 8:
        raise InvalidUpdate(f"blob of {len(blob)} bytes is too short for safetensors")
    (header_len,) = struct.unpack("<Q", blob[:8])
    if header_len > min(_HEADER_LIMIT, len(blob) - 8):
        raise InvalidUpdate(f"safetensors header claims {header_len} bytes; blob is {len(blob)}")
    try:
        header = json.loads(blob[8 : 8 + header_len])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidUpdate(f"safetensors header is not JSON: {exc}") from exc
    if not isinstance(header, dict):
        raise InvalidUpdate("safetensors header is not a JSON object")
    return header


def decode_weights(
    blob: bytes,
    expected: Mapping[str, tuple[int, ...]] | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> dict[str, np.ndarray]:
    """Parse a weights blob and validate it; returns name → float32 array (sorted names).

    ``expected`` (e.g. ``valuation.architecture.parameter_shapes(spec)``) fixes the exact set
    of names and shapes. Errors: :class:`OversizedInput` (blob or a declared tensor larger
    than ``max_bytes``), :class:`InvalidUpdate` (not safetensors), :class:`ShapeMismatch`
    (names, shapes, or a dtype other than float32), :class:`NonFiniteWeights` (NaN/Inf).
    """
    if len(blob) > max_bytes:
        raise OversizedInput(f"blob of {len(blob)} bytes exceeds the limit of {max_bytes}")
    header = _read_header(bytes(blob))
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(info, dict):
            raise InvalidUpdate(f"bad safetensors entry for {name!r}")
        if info.get("dtype") != "F32":
            raise ShapeMismatch(f"tensor {name!r} has dtype {info.get('dtype')}, expected F32")
        shape = info.get("shape")
        if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
            raise InvalidUpdate(f"bad shape for tensor {name!r}: {shape!r}")
        if math.prod(shape) * DTYPE.itemsize > max_bytes:
            raise OversizedInput(f"tensor {name!r} of shape {shape} exceeds {max_bytes} bytes")
    try:
        loaded = _st_load(bytes(blob))
    except (SafetensorError, ValueError, TypeError) as exc:
        raise InvalidUpdate(f"not a valid safetensors blob: {exc}") from exc
    result = {name: _writable(loaded[name]) for name in sorted(loaded)}
    if expected is not None:
        _check_against(result, expected)
    for name, array in result.items():
        if array.dtype != DTYPE:
            raise ShapeMismatch(f"tensor {name!r} has dtype {array.dtype}, expected float32")
        if not np.isfinite(array).all():
            raise NonFiniteWeights(f"tensor {name!r} holds NaN or Inf")
    return result


def _writable(array: np.ndarray) -> np.ndarray:
    """Callers aggregate in place; safetensors may hand back read-only views."""
    array = np.asarray(array)
    return array if array.flags.writeable else array.copy()


def _check_against(
    tensors: Mapping[str, np.ndarray], expected: Mapping[str, tuple[int, ...]]
) -> None:
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise ShapeMismatch(
            f"tensor names differ from the model spec: missing {missing}, unexpected {extra}"
        )
    for name, shape in expected.items():
        if tuple(tensors[name].shape) != tuple(shape):
            raise ShapeMismatch(
                f"tensor {name!r} has shape {tuple(tensors[name].shape)}, expected {tuple(shape)}"
            )
