"""gRPC servicer: proto -> domain -> proto, nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from octopack.common.vocabulary import EXECUTOR_LANGUAGES
from octopack.executor.v1 import executor_pb2, executor_pb2_grpc
from octopack.services.executor.convert import program_from_proto, protection_to_proto, result_to_proto
from octopack.services.executor.executor import Executor
from octopack.services.executor.model import ProgramSpec


class ExecutorServicer(executor_pb2_grpc.ExecutorServiceServicer):
    def __init__(self, executor: Executor) -> None:
        self.executor = executor

    async def Execute(
        self, request: executor_pb2.ExecuteRequest, context: grpc.aio.ServicerContext
    ) -> executor_pb2.ExecuteResponse:
        result = await self.executor.execute(program_from_proto(request.program))
        return executor_pb2.ExecuteResponse(result=result_to_proto(result))

    async def ExecuteBatch(
        self, request: executor_pb2.ExecuteBatchRequest, context: grpc.aio.ServicerContext
    ) -> executor_pb2.ExecuteBatchResponse:
        results = await self.executor.execute_batch([program_from_proto(p) for p in request.programs])
        return executor_pb2.ExecuteBatchResponse(results=[result_to_proto(r) for r in results])

    async def ExecuteStream(
        self,
        request_iterator: AsyncIterator[executor_pb2.ExecuteStreamRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[executor_pb2.ExecuteStreamResponse]:
        async def programs() -> AsyncIterator[ProgramSpec]:
            async for request in request_iterator:
                yield program_from_proto(request.program)

        async for result in self.executor.execute_stream(programs()):
            yield executor_pb2.ExecuteStreamResponse(result=result_to_proto(result))

    async def GetCapabilities(
        self, request: executor_pb2.GetCapabilitiesRequest, context: grpc.aio.ServicerContext
    ) -> executor_pb2.GetCapabilitiesResponse:
        ex = self.executor
        isolation = ex.sandbox.isolation
        return executor_pb2.GetCapabilitiesResponse(
            languages=[EXECUTOR_LANGUAGES[name] for name in ex.languages()],  # type: ignore[misc]
            max_concurrency=ex.settings.concurrency,
            max_queue=ex.settings.max_queue,
            network_isolated=isolation.network_namespace,
            drops_privileges=isolation.sandbox_uid is not None,
            sandbox=isolation.describe(),
            max_source_bytes=ex.settings.max_source_bytes,
            max_batch=ex.settings.max_batch,
            sandbox_uid=isolation.sandbox_uid or 0,
            isolation=isolation.mode,
            protections=[protection_to_proto(p) for p in isolation.protections()],
        )
