"""Assembly of the crawler service."""

from __future__ import annotations

import grpc

from octopack.common.objectstore import S3Settings
from octopack.common.server import Service
from octopack.crawler.v1 import crawler_pb2, crawler_pb2_grpc
from octopack.datasets.store import DatasetStore
from octopack.services.crawler.jobs import CrawlJobs
from octopack.services.crawler.servicer import CrawlerServicer
from octopack.services.crawler.settings import CrawlerSettings
from octopack.services.crawler.validation import rules

SERVICE_NAME = crawler_pb2.DESCRIPTOR.services_by_name["CrawlerService"].full_name


def crawler_service(settings: CrawlerSettings, s3: S3Settings | None = None) -> Service:
    """The CrawlerService writing to the dataset store on ``s3`` (default ``OCTOPACK_S3_*``)."""
    store = DatasetStore.from_settings(s3, root=settings.datasets_root)
    jobs = CrawlJobs(store)
    servicer = CrawlerServicer(jobs, settings.work_dir, settings.workers, settings.ray_address, settings.policy())

    def register(server: grpc.aio.Server) -> None:
        crawler_pb2_grpc.add_CrawlerServiceServicer_to_server(servicer, server)

    async def on_stop() -> None:
        jobs.close()

    return Service(SERVICE_NAME, register, on_stop=on_stop, rules=rules(settings))
