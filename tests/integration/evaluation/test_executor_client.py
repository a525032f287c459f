"""ExecutorClient against a scripted ExecutorService on a loopback port (real gRPC, generated stubs)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest

from octopack.common.errors import InvalidArgument, Unavailable
from octopack.common.server import RunningServer, Service, start_server
from octopack.common.settings import ServerSettings
from octopack.evaluation.executor_client import ExecutorClient
from octopack.executor.v1 import executor_pb2, executor_pb2_grpc

pytestmark = pytest.mark.integration


class ScriptedExecutor(executor_pb2_grpc.ExecutorServiceServicer):
    """Answers programs after a short delay, in reverse arrival order within a batch; counts in-flight."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.most_in_flight = 0

    async def GetCapabilities(self, request, context):  # type: ignore[no-untyped-def]
        return executor_pb2.GetCapabilitiesResponse(
            languages=[executor_pb2.LANGUAGE_PYTHON], max_concurrency=3, max_queue=100
        )

    async def ExecuteStream(
        self, request_iterator, context
    ) -> AsyncIterator[executor_pb2.ExecuteStreamResponse]:  # type: ignore[no-untyped-def,override]
        done: asyncio.Queue[executor_pb2.Result] = asyncio.Queue()
        tasks = []

        async def run(program: executor_pb2.Program) -> None:
            await asyncio.sleep(0.01 * (1 + int(program.id) % 3))
            self.in_flight -= 1
            status = executor_pb2.STATUS_PASSED if "ok" in program.source else executor_pb2.STATUS_FAILED
            detail = "reject" if program.source == "reject" else ""
            await done.put(executor_pb2.Result(id=program.id, status=status, detail=detail))

        async def pump() -> None:
            async for req in request_iterator:
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
                tasks.append(asyncio.ensure_future(run(req.program)))

        reader = asyncio.ensure_future(pump())
        answered = 0
        while not (reader.done() and answered == len(tasks)):
            try:
                result = await asyncio.wait_for(done.get(), 0.05)
            except TimeoutError:
                continue
            answered += 1
            if result.detail == "reject":
                reader.cancel()
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "program.source: rejected")
            yield executor_pb2.ExecuteStreamResponse(result=result)


@pytest.fixture
async def scripted() -> AsyncIterator[tuple[RunningServer, ScriptedExecutor]]:
    servicer = ScriptedExecutor()
    service = Service(
        "octopack.executor.v1.ExecutorService",
        lambda server: executor_pb2_grpc.add_ExecutorServiceServicer_to_server(servicer, server),
    )
    running = await start_server(ServerSettings(host="127.0.0.1", port=0, metrics_port=0), [service])
    yield running, servicer
    await running.stop(0.5)


def programs(count: int, source: str = "ok") -> list[executor_pb2.Program]:
    return [
        executor_pb2.Program(language=executor_pb2.LANGUAGE_PYTHON, source=source, id=str(i))
        for i in range(count)
    ]


async def test_results_come_back_by_id_with_a_bounded_window(
    scripted: tuple[RunningServer, ScriptedExecutor],
) -> None:
    running, servicer = scripted
    seen: list[str] = []
    async with ExecutorClient(running.address) as client:
        results = await client.execute(programs(40), window=4, on_result=lambda r: seen.append(r.id))
    assert sorted(results) == sorted(str(i) for i in range(40))
    assert all(r.status == executor_pb2.STATUS_PASSED for r in results.values())
    assert sorted(seen) == sorted(results)
    assert 1 < servicer.most_in_flight <= 4


async def test_default_window_follows_the_executor(scripted: tuple[RunningServer, ScriptedExecutor]) -> None:
    running, servicer = scripted
    async with ExecutorClient(running.address) as client:
        caps = await client.capabilities()
        await client.execute(programs(30))
    assert caps.max_concurrency == 3 and executor_pb2.LANGUAGE_PYTHON in caps.languages
    assert servicer.most_in_flight <= 6  # twice its concurrency


async def test_server_errors_become_project_errors(scripted: tuple[RunningServer, ScriptedExecutor]) -> None:
    running, _ = scripted
    async with ExecutorClient(running.address) as client:
        with pytest.raises(InvalidArgument, match=r"program\.source: rejected"):
            await client.execute(programs(2, "reject"), window=2)
        with pytest.raises(InvalidArgument, match="unique"):
            await client.execute([*programs(1), *programs(1)])


async def test_nobody_listening_is_unavailable() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(Unavailable, match=f"127.0.0.1:{port} did not answer"):
        async with ExecutorClient(f"127.0.0.1:{port}", connect_timeout=0.5):
            pass
