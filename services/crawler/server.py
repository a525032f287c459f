"""Assembly of the crawler service."""

from __future__ import annotations

import grpc

from octopack.common.objectstore import S3Settings
from octopack.common.server import Service
from octopack.crawler.v1 import crawler_pb2, crawler_pb2_grpc
from octopack.datasets.store import DatasetStore
from octopack.services.crawler.runs import CrawlRuns
from octopack.services.crawler.servicer import CrawlerServicer
from octopack.services.crawler.settings import CrawlerSettings
from octopack.services.crawler.validation import rules

SERVICE_NAME = crawler_pb2.DESCRIPTOR.services_by_name["CrawlerService"].full_name


def crawler_service(settings: CrawlerSettings, s3: S3Settings | None = None) -> Service:
    """The CrawlerService on the dataset store at ``s3`` (default ``OCTOPACK_S3_*``), crawling on Ray."""
    store = DatasetStore.from_settings(s3, root=settings.datasets_root)
    runs = CrawlRuns(settings, store)
    servicer = CrawlerServicer(runs, settings.policy())

    def register(server: grpc.aio.Server) -> None:
        crawler_pb2_grpc.add_CrawlerServiceServicer_to_server(servicer, server)

    async def on_stop() -> None:
        runs.close()  # the crawls go on in Ray; a restarted service adopts them by run id

    return Service(SERVICE_NAME, register, on_stop=on_stop, rules=rules(settings))
