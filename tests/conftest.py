"""Shared test fixtures. Area-specific fixtures live in each test folder's conftest.py."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    """Path of a command-line tool installed by scripts/install.sh (in .venv/bin or on PATH)."""
    local = BIN / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: run scripts/install.sh")
    return found


@pytest.fixture(scope="session")
def grpcurl() -> str:
    return tool("grpcurl")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Heavy suites run only with OCTOPACK_FULL_TESTS=1; e2e only with OCTOPACK_E2E=1."""
    full = os.environ.get("OCTOPACK_FULL_TESTS") == "1"
    e2e = os.environ.get("OCTOPACK_E2E") == "1"
    for item in items:
        if "full" in item.keywords and not full:
            item.add_marker(pytest.mark.skip(reason="heavy suite: run scripts/test.sh --full"))
        if "e2e" in item.keywords and not e2e:
            item.add_marker(
                pytest.mark.skip(reason="needs a Kubernetes cluster: OCTOPACK_E2E=1 (see README)")
            )
