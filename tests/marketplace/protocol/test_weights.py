"""Canonical weight bytes: deterministic, torch/numpy-agnostic, and strict when decoding."""

from __future__ import annotations

import hashlib
import io
import json
import struct

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.numpy import save

from marketplace.errors import InvalidUpdate, NonFiniteWeights, OversizedInput, ShapeMismatch
from marketplace.protocol.weights import decode_weights, encode_weights, sha256_hex
from valuation.architecture import build_module
from valuation.model_spec import ModelSpec, parameter_shapes

SPEC = ModelSpec(family="mlp", input_shape=(8, 8), num_classes=10, hidden=(16,))


def state(seed: int = 0) -> dict[str, torch.Tensor]:
    return {k: v.detach() for k, v in build_module(SPEC, seed=seed).state_dict().items()}


def handmade_safetensors(tensors: dict[str, np.ndarray]) -> bytes:
    """The format written out by hand: u64 header length, JSON header, sorted float32 data."""
    header, offset, body = {}, 0, b""
    for name in sorted(tensors):
        raw = np.ascontiguousarray(tensors[name], dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape),
                        "data_offsets": [offset, offset + len(raw)]}  # fmt: skip
        offset += len(raw)
        body += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + body


def test_encoding_is_deterministic_and_equal_for_torch_and_numpy() -> None:
    tensors = state()
    as_numpy = {k: v.numpy().astype(np.float64) for k, v in reversed(list(tensors.items()))}

    first, second, from_numpy = (
        encode_weights(tensors),
        encode_weights(tensors),
        encode_weights(as_numpy),
    )

    assert first == second == from_numpy


def test_encoding_matches_the_format_written_by_hand() -> None:
    tensors = {"b": np.arange(3, dtype=np.float32), "a": np.ones((2, 2), dtype=np.float32)}

    assert encode_weights(tensors) == handmade_safetensors(tensors)


def test_sha256_hex_is_hashlib_sha256() -> None:
    assert sha256_hex(b"abc") == hashlib.sha256(b"abc").hexdigest()
    assert sha256_hex(b"abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False), min_size=1, max_size=40)
)
def test_round_trip_is_exact(values: list[float]) -> None:
    tensors = {"w": np.array(values, dtype=np.float32)}

    decoded = decode_weights(encode_weights(tensors), {"w": (len(values),)})

    assert decoded["w"].tobytes() == tensors["w"].tobytes()


def test_decode_against_model_spec() -> None:
    blob = encode_weights(state(1))

    decoded = decode_weights(blob, parameter_shapes(SPEC))

    assert list(decoded) == sorted(parameter_shapes(SPEC))
    assert all(a.dtype == np.float32 for a in decoded.values())
    first = sorted(decoded)[0]
    decoded[first] += 1  # callers may aggregate in place


def test_missing_tensor_is_shape_mismatch() -> None:
    tensors = state()
    tensors.pop(sorted(tensors)[0])

    with pytest.raises(ShapeMismatch, match="missing"):
        decode_weights(encode_weights(tensors), parameter_shapes(SPEC))


def test_wrong_shape_is_shape_mismatch() -> None:
    tensors = {k: v.numpy() for k, v in state().items()}
    name = sorted(tensors)[0]
    tensors[name] = np.zeros((*tensors[name].shape, 1), dtype=np.float32)

    with pytest.raises(ShapeMismatch, match=name):
        decode_weights(encode_weights(tensors), parameter_shapes(SPEC))


def test_wrong_dtype_is_rejected() -> None:
    blob = bytes(save({"w": np.zeros(4, dtype=np.float64)}))

    with pytest.raises(ShapeMismatch, match="F64"):
        decode_weights(blob)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_rejected(bad: float) -> None:
    tensors = {"w": np.array([1.0, bad], dtype=np.float32)}
    blob = encode_weights(tensors, check_finite=False)

    with pytest.raises(NonFiniteWeights):
        decode_weights(blob)
    with pytest.raises(NonFiniteWeights):
        encode_weights(tensors)


def test_oversized_blob_is_rejected_before_parsing() -> None:
    blob = encode_weights({"w": np.zeros(1000, dtype=np.float32)})

    with pytest.raises(OversizedInput):
        decode_weights(blob, max_bytes=1000)


def test_oversized_declared_tensor_is_rejected() -> None:
    header = json.dumps({"w": {"dtype": "F32", "shape": [10**9], "data_offsets": [0, 4]}}).encode()
    blob = struct.pack("<Q", len(header)) + header + b"\x00" * 4

    with pytest.raises(OversizedInput):
        decode_weights(blob)


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"garbage bytes that are not safetensors",
        struct.pack("<Q", 10**12) + b"{}",
        struct.pack("<Q", 4) + b"[1]!",
        struct.pack("<Q", 2) + b"{{",
        handmade_safetensors({"w": np.zeros(4, dtype=np.float32)})[:-3],  # truncated data
    ],
)
def test_garbage_is_invalid_update(blob: bytes) -> None:
    with pytest.raises(InvalidUpdate):
        decode_weights(blob)


def test_integer_tensors_are_refused_when_encoding() -> None:
    with pytest.raises(ShapeMismatch):
        encode_weights({"w": np.arange(3)})
    with pytest.raises(ShapeMismatch):
        encode_weights({"w": torch.arange(3)})


def test_empty_mapping_is_refused() -> None:
    with pytest.raises(InvalidUpdate):
        encode_weights({})


def test_pickled_torch_checkpoint_is_refused_not_loaded() -> None:
    buffer = io.BytesIO()
    torch.save(state(), buffer)

    with pytest.raises(InvalidUpdate):
        decode_weights(buffer.getvalue())
