"""Client of the ExecutorService: streams programs, keeps a bounded number in flight.

The evaluation talks to a local in-process executor and to a remote one the same
way, through this client, so there is one code path.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import grpc

from octopack.common import errors
from octopack.common.client import aio_channel, auth_metadata, error_from_rpc
from octopack.executor.v1 import executor_pb2, executor_pb2_grpc

#: Programs in flight per unit of the executor's concurrency: keeps its workers busy
#: while the next programs travel, without filling its queue.
WINDOW_PER_WORKER = 2


@dataclass(frozen=True)
class Capabilities:
    """What an executor says it can do."""

    languages: frozenset[int]
    max_concurrency: int
    max_queue: int


def _to_error(exc: grpc.aio.AioRpcError, address: str) -> errors.OctopackError:
    """A gRPC failure as the project's error, naming the executor."""
    err = error_from_rpc(exc, f"executor at {address}")
    if err.code in ("UNAVAILABLE", "DEADLINE_EXCEEDED"):
        return errors.Unavailable(
            f"{err.message}: start one with `octopack service executor` or leave out --executor "
            "to run one in-process"
        )
    return err


class ExecutorClient:
    """An async client; use as ``async with ExecutorClient(address) as client``."""

    def __init__(
        self,
        address: str,
        token: str | None = None,
        tls: bool = False,
        ca_cert: Path | None = None,
        connect_timeout: float = 10.0,
    ) -> None:
        self.address = address
        self._token = token
        self._tls = tls
        self._ca_cert = ca_cert
        self._connect_timeout = connect_timeout
        self._channel: grpc.aio.Channel | None = None
        self._stub: executor_pb2_grpc.ExecutorServiceAsyncStub | None = None

    async def __aenter__(self) -> ExecutorClient:
        self._channel = aio_channel(
            self.address, self._token if self._tls else None, self._ca_cert, self._tls
        )
        try:
            await asyncio.wait_for(self._channel.channel_ready(), self._connect_timeout)
        except TimeoutError:
            await self._channel.close()
            raise errors.Unavailable(
                f"executor at {self.address} did not answer within {self._connect_timeout:.0f} s: "
                "check --executor HOST:PORT, or leave it out to run one in-process"
            ) from None
        self._stub = executor_pb2_grpc.ExecutorServiceStub(self._channel)  # type: ignore[assignment]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._channel is not None:
            await self._channel.close()
        self._channel = self._stub = None

    @property
    def _metadata(self) -> tuple[tuple[str, str], ...]:
        # With TLS the token rides on the channel credentials; without, as plain metadata.
        return () if self._tls else auth_metadata(self._token)

    def _require_stub(self) -> executor_pb2_grpc.ExecutorServiceAsyncStub:
        if self._stub is None:
            raise errors.FailedPrecondition("ExecutorClient is not open: use `async with`")
        return self._stub

    async def capabilities(self) -> Capabilities:
        """The executor's languages and concurrency."""
        try:
            reply = await self._require_stub().GetCapabilities(
                executor_pb2.GetCapabilitiesRequest(), metadata=self._metadata
            )
        except grpc.aio.AioRpcError as exc:
            raise _to_error(exc, self.address) from exc
        return Capabilities(frozenset(reply.languages), reply.max_concurrency, reply.max_queue)

    async def execute(
        self,
        programs: Sequence[executor_pb2.Program],
        window: int | None = None,
        on_result: Callable[[executor_pb2.Result], None] | None = None,
    ) -> dict[str, executor_pb2.Result]:
        """Run every program over one ExecuteStream; return results by program id.

        At most ``window`` programs are in flight (default: twice the executor's
        concurrency, within its queue). ``on_result`` sees each result as it arrives.
        """
        ids = [p.id for p in programs]
        if len(set(ids)) != len(ids):
            raise errors.InvalidArgument("program ids must be unique within one execute call")
        if not programs:
            return {}
        if window is None:
            caps = await self.capabilities()
            window = max(1, caps.max_concurrency) * WINDOW_PER_WORKER
            if caps.max_queue > 0:
                window = min(window, caps.max_concurrency + caps.max_queue)
        slots = asyncio.Semaphore(max(1, window))

        async def requests() -> AsyncIterator[executor_pb2.ExecuteStreamRequest]:
            for program in programs:
                await slots.acquire()
                yield executor_pb2.ExecuteStreamRequest(program=program)

        results: dict[str, executor_pb2.Result] = {}
        call = self._require_stub().ExecuteStream(requests(), metadata=self._metadata)
        try:
            async for reply in call:
                result = reply.result
                results[result.id] = result
                slots.release()
                if on_result is not None:
                    on_result(result)
                if len(results) == len(programs):
                    break
        except grpc.aio.AioRpcError as exc:
            raise _to_error(exc, self.address) from exc
        finally:
            call.cancel()
        missing = [i for i in ids if i not in results]
        if missing:
            raise errors.Unavailable(
                f"executor at {self.address} closed the stream with {len(missing)} programs "
                f"unanswered (first: {missing[0]}); run the evaluation again"
            )
        return results
