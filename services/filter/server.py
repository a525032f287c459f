"""Assembly of the filter service."""

from __future__ import annotations

import grpc

from octopack.common.objectstore import S3Settings
from octopack.common.server import Service
from octopack.datasets.store import DatasetStore
from octopack.filter.v1 import filter_pb2, filter_pb2_grpc
from octopack.services.filter.jobs import FilterRuns
from octopack.services.filter.servicer import FilterServicer
from octopack.services.filter.settings import FilterSettings
from octopack.services.filter.validation import rules

SERVICE_NAME = filter_pb2.DESCRIPTOR.services_by_name["FilterService"].full_name


def filter_service(settings: FilterSettings, s3: S3Settings | None = None) -> Service:
    """The FilterService on the dataset store at ``s3`` (default ``OCTOPACK_S3_*``), filtering on Ray."""
    store = DatasetStore.from_settings(s3, root=settings.datasets_root)
    runs = FilterRuns(settings, store)
    servicer = FilterServicer(runs, store, settings.tokenizer)

    def register(server: grpc.aio.Server) -> None:
        filter_pb2_grpc.add_FilterServiceServicer_to_server(servicer, server)

    async def on_stop() -> None:
        runs.close()  # the runs go on in Ray; a restarted service adopts them by run id

    return Service(SERVICE_NAME, register, on_stop=on_stop, rules=rules(settings))
