"""`fedmarket ipfs ...` end to end through click, and one run of the real entry point."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from fedmarket.cli import cli
from marketplace.errors import CorruptContent, FedmarketError
from marketplace.storage import CID, EmbeddedStore


@pytest.fixture
def payload() -> bytes:
    """Three chunks and a bit: a two-level file with a short last leaf."""
    return np.random.default_rng(3).bytes(3 * 262144 + 1000)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def run(home: Path, *args: str) -> tuple[int, bytes, BaseException | None]:
    runner = CliRunner()
    result = runner.invoke(cli, ["ipfs", *args], env={"FEDMARKET_HOME": str(home)})
    return result.exit_code, result.stdout_bytes, result.exception


def test_add_json_then_cat_is_binary_safe(home: Path, tmp_path: Path, payload: bytes) -> None:
    data = payload + b"\x00\xff\r\n"
    source = tmp_path / "weights.safetensors"
    source.write_bytes(data)

    code, out, _ = run(home, "add", str(source), "--json")
    info = json.loads(out)
    code_cat, content, _ = run(home, "cat", info["cid"])

    assert code == 0 and code_cat == 0
    assert info == {
        "cid": info["cid"],
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    assert content == data


def test_cat_range(home: Path, tmp_path: Path) -> None:
    source = tmp_path / "f"
    source.write_bytes(b"hello world")
    _, out, _ = run(home, "add", str(source))

    code, content, _ = run(home, "cat", out.decode().strip(), "--offset", "6", "--length", "3")

    assert code == 0
    assert content == b"wor"


def test_verify_fails_on_corruption(home: Path, tmp_path: Path) -> None:
    source = tmp_path / "f"
    source.write_bytes(b"hello world")
    _, out, _ = run(home, "add", str(source))
    cid = out.decode().strip()
    assert run(home, "verify")[0] == 0
    EmbeddedStore(home / "ipfs").block_path(CID.parse(cid)).write_bytes(b"HELLO world")

    code, report, exc = run(home, "verify", cid)
    _, _, cat_exc = run(home, "cat", cid)

    assert code != 0
    assert b"corrupt" in report
    assert isinstance(exc, FedmarketError)
    assert isinstance(cat_exc, CorruptContent)


def test_export_and_import_between_homes(home: Path, tmp_path: Path, payload: bytes) -> None:
    source = tmp_path / "f"
    source.write_bytes(payload)
    _, out, _ = run(home, "add", str(source))
    cid = out.decode().strip()
    car = tmp_path / "x.car"

    export_code, _, _ = run(home, "export", cid, "--car", str(car))
    other = tmp_path / "other"
    import_code, roots, _ = run(other, "import", str(car))

    assert (export_code, import_code) == (0, 0)
    assert roots.decode().split() == [cid]
    assert run(other, "cat", cid)[1] == payload


def test_pin_unpin_gc(home: Path, tmp_path: Path) -> None:
    source = tmp_path / "f"
    source.write_bytes(b"hello world")
    _, out, _ = run(home, "add", str(source))
    cid = out.decode().strip()

    assert run(home, "unpin", cid)[0] == 0
    code, report, _ = run(home, "gc")

    assert code == 0
    assert b"removed 1 block" in report
    assert run(home, "cat", cid)[0] != 0


def test_entry_point_prints_one_line_and_exits_nonzero(home: Path) -> None:
    missing = str(CID.of(0x55, b"nothing"))
    env = {**os.environ, "FEDMARKET_HOME": str(home)}
    env.pop("FEDMARKET_DEBUG", None)
    env.pop("FEDMARKET_IPFS", None)

    proc = subprocess.run(
        [sys.executable, "-m", "fedmarket.cli", "ipfs", "cat", missing],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )

    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1
    assert "not in the store" in proc.stderr
