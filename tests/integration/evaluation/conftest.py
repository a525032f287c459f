"""Fixtures of the evaluation's integration tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from octopack.common.server import start_server


@pytest.fixture(scope="module")
def executor_address() -> Iterator[str]:
    """A real executor server on a free loopback port, in its own thread and event loop."""
    from octopack.services.executor.server import executor_service
    from octopack.services.executor.settings import ExecutorSettings

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    settings = ExecutorSettings(host="127.0.0.1", port=0, metrics_port=0)
    running = asyncio.run_coroutine_threadsafe(
        start_server(settings, [executor_service(settings)]), loop
    ).result(60)
    try:
        yield running.address
    finally:
        asyncio.run_coroutine_threadsafe(running.stop(1.0), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
