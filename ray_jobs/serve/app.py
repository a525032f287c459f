"""The Ray Serve application: one deployment answering gRPC (through Serve's gRPC proxy) and HTTP.

gRPC methods are the deployment's methods named after the RPCs of
``octopack.inference.v1.InferenceService``; Serve's proxy routes to them and serves
reflection. HTTP (:mod:`octopack.ray_jobs.serve.http`): the OpenAI-compatible
``/v1/completions``, ``/v1/chat/completions`` and ``/v1/models``, ``POST /generate`` with the
GenerateRequest as JSON and ``GET /stats``. Bad gRPC requests become INVALID_ARGUMENT through
:func:`_status`: Serve has no server interceptor, so this is the one place that maps domain
errors for it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from octopack.common.errors import OctopackError
from octopack.inference.v1 import inference_pb2 as pb
from octopack.ray_jobs.serve.settings import ServeSettings

log = logging.getLogger(__name__)

SERVICER_FUNCTION = "octopack.inference.v1.inference_pb2_grpc.add_InferenceServiceServicer_to_server"


def _status(context: Any, exc: OctopackError) -> None:
    import grpc

    if context is None:
        raise exc
    context.set_code(getattr(grpc.StatusCode, exc.code, grpc.StatusCode.INTERNAL))
    context.set_details(exc.message)


class InferenceDeployment:
    """Loads the model version once per replica; concurrent calls share forward passes."""

    def __init__(self, settings: dict[str, Any], s3: Any = None) -> None:
        from octopack.common.logging import setup_logging
        from octopack.ray_jobs.serve.core import InferenceCore
        from octopack.ray_jobs.serve.http import HttpFront
        from octopack.ray_jobs.serve.validation import rules

        setup_logging()
        parsed = ServeSettings(**settings)
        self.core = InferenceCore(parsed, s3)
        self.rules = rules(parsed)  # Serve's proxy has no interceptor: the edge checks run here
        self.http = HttpFront(self.core, self.rules)

    async def Generate(self, request: pb.GenerateRequest, grpc_context: Any = None) -> pb.GenerateResponse:
        try:
            self.rules.check(request)
            return await self.core.generate(request)
        except OctopackError as exc:
            _status(grpc_context, exc)
            return pb.GenerateResponse()

    async def GenerateStream(
        self, request: pb.GenerateStreamRequest, grpc_context: Any = None
    ) -> AsyncIterator[pb.GenerateStreamResponse]:
        try:
            self.rules.check(request)
            async for item in self.core.generate_stream(request):
                yield item
        except OctopackError as exc:
            _status(grpc_context, exc)

    async def GetServerStats(
        self, request: pb.GetServerStatsRequest, grpc_context: Any = None
    ) -> pb.GetServerStatsResponse:
        return self.core.stats()

    async def __call__(self, http_request: Any) -> Any:
        """HTTP: the OpenAI-compatible API, ``POST /generate`` and ``GET /stats`` (see :mod:`.http`)."""
        return await self.http.handle(http_request)


def build_app(settings: ServeSettings, s3: Any = None) -> Any:
    """The bound application with replicas, resources and autoscaling from ``settings``."""
    from ray import serve

    deployment: Any = serve.deployment(InferenceDeployment, name="InferenceService")
    return deployment.options(
        autoscaling_config=settings.autoscaling_config(),
        max_ongoing_requests=settings.max_ongoing_requests,
        ray_actor_options={"num_cpus": settings.replica_cpus, "num_gpus": settings.replica_gpus},
    ).bind(settings.model_dump(mode="json"), s3)


def start(settings: ServeSettings, s3: Any = None, ray_settings: Any = None) -> Any:
    """Start Serve (HTTP + gRPC proxies on ``settings.host``) and deploy the app; returns its handle."""
    from ray import serve

    from octopack.ray_jobs.cluster import ensure_ray

    ensure_ray(ray_settings)
    serve.start(
        http_options={"host": settings.host, "port": settings.http_port},
        grpc_options={"port": settings.port, "grpc_servicer_functions": [SERVICER_FUNCTION]},
    )
    handle = serve.run(build_app(settings, s3), name=settings.app_name, route_prefix="/")
    log.info("Serve app %s: gRPC %s:%d, HTTP %s:%d", settings.app_name, settings.host, settings.port,
             settings.host, settings.http_port)
    return handle
