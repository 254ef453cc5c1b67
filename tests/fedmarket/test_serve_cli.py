"""`fedmarket serve`: option parsing and the error when no chain is reachable."""

from __future__ import annotations

from pathlib import Path

import pytest

from fedmarket.cli import main
from fedmarket.commands.serve import parse_validation
from marketplace.errors import ConfigError


def test_validation_pairs_map_task_ids_to_files(tmp_path: Path) -> None:
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    a.write_bytes(b"x")
    b.write_bytes(b"y")

    parsed = parse_validation((f"1={a}", f"12={b}"))

    assert parsed == {1: a, 12: b}


@pytest.mark.parametrize("value", ["1", "x=file.npz", "=file.npz", "3=missing.npz"])
def test_bad_validation_values_are_config_errors(value: str) -> None:
    with pytest.raises(ConfigError):
        parse_validation((value,))


def test_serve_without_a_chain_exits_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FEDMARKET_HOME", str(tmp_path))
    monkeypatch.delenv("FEDMARKET_RPC_URL", raising=False)
    monkeypatch.delenv("FEDMARKET_DEBUG", raising=False)

    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--rpc-url", "http://127.0.0.1:1",
              "--marketplace", "0x" + "11" * 20])  # fmt: skip

    err = capsys.readouterr().err
    assert exit_info.value.code == 1
    assert "no Ethereum JSON-RPC endpoint answers at http://127.0.0.1:1" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
