"""Assembly of the dataset service."""

from __future__ import annotations

import grpc

from octopack.common.objectstore import ObjectStore, S3Settings
from octopack.common.server import Service
from octopack.datasets.store import DatasetStore
from octopack.datasets.v1 import datasets_pb2, datasets_pb2_grpc
from octopack.services.datasets.registry import WriterRegistry
from octopack.services.datasets.servicer import DatasetServicer
from octopack.services.datasets.settings import DatasetsSettings
from octopack.services.datasets.validation import RULES

SERVICE_NAME = datasets_pb2.DESCRIPTOR.services_by_name["DatasetService"].full_name


def datasets_service(settings: DatasetsSettings, s3: S3Settings | None = None) -> Service:
    """The DatasetService on the ``s3`` bucket (default ``OCTOPACK_S3_*``), created if missing."""
    objects = ObjectStore(s3 or S3Settings())
    objects.ensure_bucket()
    store = DatasetStore(
        objects, root=settings.root, policy=settings.policy(), read_batch_rows=settings.read_batch_rows
    )
    writers = WriterRegistry(store, settings.writer_idle_seconds)
    servicer = DatasetServicer(writers)

    def register(server: grpc.aio.Server) -> None:
        datasets_pb2_grpc.add_DatasetServiceServicer_to_server(servicer, server)

    return Service(SERVICE_NAME, register, on_stop=writers.close, rules=RULES)
