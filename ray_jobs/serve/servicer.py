"""Plain gRPC servicer (no Ray): translates through :class:`InferenceCore`; errors map in the interceptor."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from octopack.inference.v1 import inference_pb2 as pb
from octopack.inference.v1 import inference_pb2_grpc
from octopack.ray_jobs.serve.core import InferenceCore


class InferenceServicer(inference_pb2_grpc.InferenceServiceServicer):
    def __init__(self, core: InferenceCore) -> None:
        self.core = core

    async def Generate(self, request: pb.GenerateRequest, context: grpc.aio.ServicerContext) -> pb.GenerateResponse:
        return await self.core.generate(request)

    async def GenerateStream(
        self, request: pb.GenerateStreamRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.GenerateStreamResponse]:
        async for item in self.core.generate_stream(request):
            yield item

    async def GetServerStats(
        self, request: pb.GetServerStatsRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetServerStatsResponse:
        return self.core.stats()
