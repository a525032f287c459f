"""The inference service on the project's own gRPC bootstrap (health, reflection, metrics), without Ray."""

from __future__ import annotations

from typing import Any

import grpc

from octopack.common.server import Service
from octopack.inference.v1 import inference_pb2_grpc
from octopack.ray_jobs.serve.core import InferenceCore
from octopack.ray_jobs.serve.servicer import InferenceServicer
from octopack.ray_jobs.serve.settings import ServeSettings
from octopack.ray_jobs.serve.validation import rules

SERVICE_NAME = "octopack.inference.v1.InferenceService"


def inference_service(settings: ServeSettings, core: InferenceCore | None = None, s3: Any = None) -> Service:
    """A :class:`Service` for :func:`octopack.common.server.start_server`."""
    core = core or InferenceCore(settings, s3)
    servicer = InferenceServicer(core)

    def register(server: grpc.aio.Server) -> None:
        inference_pb2_grpc.add_InferenceServiceServicer_to_server(servicer, server)

    async def on_stop() -> None:
        core.close()

    return Service(SERVICE_NAME, register, on_stop, rules=rules(settings))
