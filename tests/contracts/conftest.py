"""Fixtures for the contract tests."""

from __future__ import annotations

import pytest
from evm_chain import Deployment, new_deployment


@pytest.fixture
def deployment() -> Deployment:
    """A fresh in-process chain with both contracts deployed."""
    return new_deployment()
