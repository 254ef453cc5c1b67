"""The CLI's surface: every command takes --json, and hints only name options that exist."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from fedmarket.cli import cli, main


def leaves(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        if isinstance(command, click.Group):
            yield from leaves(command, (*prefix, name))
        else:
            yield (*prefix, name)


def command_at(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        found = command.get_command(click.Context(command), name)
        assert found is not None
        command = found
    return command


def options_of(command: click.Command) -> set[str]:
    return {opt for p in command.params for opt in getattr(p, "opts", []) if opt.startswith("--")}


ALL = sorted(leaves(cli))


def test_there_are_many_commands() -> None:
    assert len(ALL) >= 25  # devnet 4, account 3, task 7, ipfs 8, and the top-level ones


@pytest.mark.parametrize("path", ALL, ids=" ".join)
def test_every_command_has_json(path: tuple[str, ...]) -> None:
    assert "--json" in options_of(command_at(path))


#: Commands that reach the chain: (command path, arguments that get it as far as connecting).
CHAIN_COMMANDS: list[tuple[tuple[str, ...], list[str]]] = [
    (("task", "list"), []),
    (("task", "show"), ["1"]),
    (("task", "refund"), ["1", "--key", "k"]),
    (("task", "cancel"), ["1", "--key", "k"]),
    (("task", "wind-down"), ["1", "--key", "k"]),
    (("claim",), ["--task", "1", "--key", "k"]),
    (("withdraw",), ["--credits", "--key", "k"]),
    (("audit",), ["--task", "1"]),
    (("resolve",), ["--task", "1", "--round", "1", "--uphold", "--key", "k"]),
    (("account", "fund"), ["0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"]),
    (("devnet", "status"), []),
]


@pytest.mark.parametrize(
    ("path", "args"), CHAIN_COMMANDS, ids=[" ".join(p) for p, _ in CHAIN_COMMANDS]
)
def test_no_chain_is_one_line_naming_only_real_options(
    path: tuple[str, ...],
    args: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FEDMARKET_HOME", str(tmp_path))
    for name in ("FEDMARKET_RPC_URL", "FEDMARKET_MARKETPLACE", "FEDMARKET_DEBUG"):
        monkeypatch.delenv(name, raising=False)

    with pytest.raises(SystemExit) as exit_info:
        main([*path, *args])

    err = capsys.readouterr().err
    assert exit_info.value.code == 1
    assert len(err.strip().splitlines()) == 1, err
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", err))
    assert named <= options_of(command_at(path)), (named, err)
