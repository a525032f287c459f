"""Fixtures: executor servers in their own processes (see executor_server.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.executor.executor_server import ExecutorServer, start_executor, stop_executor


@pytest.fixture(scope="session")
def executor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExecutorServer]:
    """The shared server: two slots (this machine's cores), a roomy queue."""
    server = start_executor(tmp_path_factory.mktemp("executor"), concurrency="2", max_queue="64")
    yield server
    stop_executor(server)


@pytest.fixture
def small_executor(tmp_path: Path) -> Iterator[ExecutorServer]:
    """One slot and a one-program queue, to fill it on purpose."""
    server = start_executor(tmp_path, concurrency="1", max_queue="1", max_batch="8")
    yield server
    stop_executor(server)
