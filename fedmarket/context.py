"""Wiring for commands: the core's client factory with a terminal password prompt."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from marketplace.errors import ConfigError
from marketplace.settings import Settings

if TYPE_CHECKING:
    from marketplace.chain.client import MarketplaceClient


def _prompt(text: str) -> str:
    """A hidden password prompt; a one-line error when there is no terminal to ask on."""
    if not sys.stdin.isatty():
        raise ConfigError(
            f"{text.lower()} is needed but there is no terminal to ask on",
            hint="set FEDMARKET_KEY_PASSWORD for scripts and background runs",
        )
    return str(click.prompt(text, hide_input=True))


def make_client(settings: Settings, **kwargs: Any) -> MarketplaceClient:
    """:func:`marketplace.chain.factory.make_client`, asking for a keystore password if needed."""
    from marketplace.chain import factory  # web3 is slow to import: only when a command needs it

    kwargs.setdefault("prompt", _prompt)
    return factory.make_client(settings, **kwargs)
