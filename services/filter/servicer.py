"""gRPC servicer of octopack.filter.v1.FilterService: proto in, domain call, proto out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc

from octopack.common import paging
from octopack.datasets.store import DatasetStore
from octopack.filter.v1 import filter_pb2 as pb
from octopack.filter.v1 import filter_pb2_grpc
from octopack.services.filter.convert import request_from_spec, run_to_proto
from octopack.services.filter.jobs import FilterRuns
from octopack.services.filter.run import FilterRun


class FilterServicer(filter_pb2_grpc.FilterServiceServicer):
    def __init__(self, runs: FilterRuns, store: DatasetStore, tokenizer: str = "") -> None:
        self.runs = runs
        self.store = store
        self.tokenizer = tokenizer

    async def StartFilter(self, request: pb.StartFilterRequest, context: grpc.aio.ServicerContext) -> pb.StartFilterResponse:
        spec = request_from_spec(request.spec, self.tokenizer)
        # Validation reads the input manifest and loads the tokenizer: off the event loop.
        run = await asyncio.to_thread(FilterRun, spec, self.store, request.run_id)
        return pb.StartFilterResponse(run=run_to_proto(await asyncio.to_thread(self.runs.begin, run)))

    async def GetFilter(self, request: pb.GetFilterRequest, context: grpc.aio.ServicerContext) -> pb.GetFilterResponse:
        return pb.GetFilterResponse(run=run_to_proto(await asyncio.to_thread(self.runs.get, request.run_id)))

    async def WatchFilter(
        self, request: pb.WatchFilterRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.WatchFilterResponse]:
        async for job in self.runs.watch(request.run_id):
            yield pb.WatchFilterResponse(run=run_to_proto(job))

    async def ListFilters(self, request: pb.ListFiltersRequest, context: grpc.aio.ServicerContext) -> pb.ListFiltersResponse:
        runs = sorted(((job.started, run_to_proto(job)) for job in self.runs.list()),
                      key=lambda r: (r[0], r[1].run_id), reverse=True)
        taken, token = paging.page(runs, lambda r: [r[0], r[1].run_id], lambda r: r[1].ByteSize(),
                                   request.page_size, request.page_token, descending=True)
        return pb.ListFiltersResponse(runs=[r for _, r in taken], next_page_token=token)

    async def CancelFilter(self, request: pb.CancelFilterRequest, context: grpc.aio.ServicerContext) -> pb.CancelFilterResponse:
        return pb.CancelFilterResponse(run=run_to_proto(await asyncio.to_thread(self.runs.cancel, request.run_id)))
