"""The Ray Serve application: one deployment answering gRPC (through Serve's gRPC proxy) and HTTP.

gRPC methods are the deployment's methods named after the RPCs of
``octopack.inference.v1.InferenceService``; Serve's proxy routes to them and serves
reflection. HTTP: ``POST /generate`` with the GenerateRequest as JSON, ``GET /stats``.
Bad requests become INVALID_ARGUMENT (HTTP 400) through :func:`_status`: Serve has no
server interceptor, so this is the one place that maps domain errors for it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from octopack.common.errors import OctopackError
from octopack.inference.v1 import inference_pb2 as pb
from octopack.ray_jobs.serve.settings import ServeSettings

log = logging.getLogger(__name__)

SERVICER_FUNCTION = "octopack.inference.v1.inference_pb2_grpc.add_InferenceServiceServicer_to_server"
_HTTP_STATUS = {"INVALID_ARGUMENT": 400, "NOT_FOUND": 404, "FAILED_PRECONDITION": 412, "RESOURCE_EXHAUSTED": 429}


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
        from octopack.ray_jobs.serve.validation import rules

        setup_logging()
        parsed = ServeSettings(**settings)
        self.core = InferenceCore(parsed, s3)
        self.rules = rules(parsed)  # Serve's proxy has no interceptor: the edge checks run here

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
        from google.protobuf import json_format
        from starlette.responses import JSONResponse

        path = http_request.url.path.rstrip("/")
        if path.endswith("/stats"):
            return JSONResponse(json_format.MessageToDict(self.core.stats()))
        if not path.endswith("/generate") or http_request.method != "POST":
            return JSONResponse({"error": "use POST /generate or GET /stats"}, status_code=404)
        try:
            message = json_format.Parse(await http_request.body(), pb.GenerateRequest())
            self.rules.check(message)
            response = await self.core.generate(message)
        except json_format.ParseError as exc:
            return JSONResponse({"error": f"body is not a GenerateRequest: {exc}"}, status_code=400)
        except OctopackError as exc:
            return JSONResponse({"error": exc.message}, status_code=_HTTP_STATUS.get(exc.code, 500))
        return JSONResponse(json.loads(json_format.MessageToJson(response)))


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
