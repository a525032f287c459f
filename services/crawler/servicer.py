"""gRPC servicer of octopack.crawler.v1.CrawlerService: proto in, domain call, proto out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc

from octopack.common import paging
from octopack.crawler.v1 import crawler_pb2 as pb
from octopack.crawler.v1 import crawler_pb2_grpc
from octopack.services.crawler.convert import crawl_to_proto, request_from_spec
from octopack.services.crawler.policy import NetworkPolicy
from octopack.services.crawler.runs import CrawlRuns


class CrawlerServicer(crawler_pb2_grpc.CrawlerServiceServicer):
    def __init__(self, runs: CrawlRuns, policy: NetworkPolicy | None = None) -> None:
        self.runs = runs
        self.policy = policy or NetworkPolicy()

    async def StartCrawl(self, request: pb.StartCrawlRequest, context: grpc.aio.ServicerContext) -> pb.StartCrawlResponse:
        # The network policy resolves every repository host: off the event loop.
        crawl = await asyncio.to_thread(request_from_spec, request.spec, self.policy)
        job = await asyncio.to_thread(self.runs.begin, crawl, request.run_id)
        return pb.StartCrawlResponse(crawl=crawl_to_proto(job))

    async def GetCrawl(self, request: pb.GetCrawlRequest, context: grpc.aio.ServicerContext) -> pb.GetCrawlResponse:
        return pb.GetCrawlResponse(crawl=crawl_to_proto(await asyncio.to_thread(self.runs.get, request.crawl_id)))

    async def WatchCrawl(
        self, request: pb.WatchCrawlRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.WatchCrawlResponse]:
        async for job in self.runs.watch(request.crawl_id):
            yield pb.WatchCrawlResponse(crawl=crawl_to_proto(job))

    async def ListCrawls(self, request: pb.ListCrawlsRequest, context: grpc.aio.ServicerContext) -> pb.ListCrawlsResponse:
        crawls = sorted(((job.started, crawl_to_proto(job)) for job in self.runs.list()),
                        key=lambda c: (c[0], c[1].crawl_id), reverse=True)
        taken, token = paging.page(crawls, lambda c: [c[0], c[1].crawl_id], lambda c: c[1].ByteSize(),
                                   request.page_size, request.page_token, descending=True)
        return pb.ListCrawlsResponse(crawls=[c for _, c in taken], next_page_token=token)

    async def CancelCrawl(
        self, request: pb.CancelCrawlRequest, context: grpc.aio.ServicerContext
    ) -> pb.CancelCrawlResponse:
        return pb.CancelCrawlResponse(crawl=crawl_to_proto(await asyncio.to_thread(self.runs.cancel, request.crawl_id)))
