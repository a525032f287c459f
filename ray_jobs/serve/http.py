"""The HTTP surface of the inference service, shared by the Ray Serve deployment and ``octopack serve --no-ray``.

Routes (matched on the path's end, so a Serve route prefix such as ``/<app>`` in front works):

- ``POST /v1/completions``, ``POST /v1/chat/completions``, ``GET /v1/models[/{id}]``: the
  OpenAI-compatible API (:mod:`octopack.ray_jobs.serve.openai_api`), streaming as server-sent events;
- ``POST /generate`` (a GenerateRequest as JSON) and ``GET /stats``: the project's own.

Errors of the OpenAI routes have the API's shape and status; those of ``/generate`` are
``{"error": message}`` with 400/404/412/429.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from octopack.common.errors import OctopackError
from octopack.common.validation import Rules
from octopack.inference.v1 import inference_pb2 as pb
from octopack.ray_jobs.serve import openai_api
from octopack.ray_jobs.serve.core import InferenceCore
from octopack.ray_jobs.serve.openai_api import APIError, ChunkWriter, ParsedRequest

log = logging.getLogger(__name__)

HTTP_STATUS = {"INVALID_ARGUMENT": 400, "NOT_FOUND": 404, "FAILED_PRECONDITION": 412, "RESOURCE_EXHAUSTED": 429}
_ROUTES = {
    ("POST", "/v1/completions"): "completions",
    ("POST", "/v1/chat/completions"): "chat",
    ("GET", "/v1/models"): "models",
    ("POST", "/generate"): "generate",
    ("GET", "/stats"): "stats",
}


def _route(method: str, path: str) -> tuple[str | None, str]:
    """The handler for ``method path`` and, for ``/v1/models/{id}``, the id."""
    path = path.rstrip("/")
    for (verb, suffix), name in _ROUTES.items():
        if path.endswith(suffix):
            if verb != method:
                raise APIError(405, f"{suffix} takes {verb}, not {method}")
            return name, ""
    if "/v1/models/" in path and method == "GET":
        return "model", path.rsplit("/v1/models/", 1)[1]
    return None, ""


class HttpFront:
    """Answers one HTTP request (a Starlette ``Request``) with a Starlette ``Response``."""

    def __init__(self, core: InferenceCore, edge: Rules) -> None:
        self.core = core
        self.edge = edge  # the request rules of the service (an interceptor applies them to gRPC)
        self.created = int(time.time())

    async def handle(self, request: Any) -> Any:
        from starlette.responses import JSONResponse

        try:
            name, arg = _route(request.method, request.url.path)
            if name is None:
                raise APIError(404, f"no route {request.method} {request.url.path}: use POST /v1/completions, "
                               "POST /v1/chat/completions, GET /v1/models, POST /generate or GET /stats")
            if name == "generate":
                return await self._generate(request)
            if name == "stats":
                from google.protobuf import json_format

                return JSONResponse(json_format.MessageToDict(self.core.stats()))
            if name == "models":
                return JSONResponse(openai_api.models(self.core.served_names, self.created))
            if name == "model":
                if arg not in self.core.served_names:
                    raise APIError(404, f"The model {arg!r} does not exist", param="model", code="model_not_found")
                return JSONResponse(openai_api.models(self.core.served_names, self.created)["data"][0])
            body = openai_api.parse_json(await request.body())
            if name == "completions":
                parsed = openai_api.parse_completion(body, self.core.served_names, self.core.limits)
            else:
                parsed = openai_api.parse_chat(body, self.core.served_names, self.core.limits, self._template)
            return await self._answer(parsed)
        except APIError as exc:
            return JSONResponse(exc.body(), status_code=exc.status)

    def _template(self, messages: list[dict[str, str]], add_generation_prompt: bool, cont: bool) -> str:
        try:
            return self.core.engine.chat_prompt(messages, add_generation_prompt, cont)
        except OctopackError as exc:
            raise APIError(400, exc.message, param="messages") from exc

    async def _answer(self, parsed: ParsedRequest) -> Any:
        from starlette.responses import JSONResponse, StreamingResponse

        try:
            if not parsed.stream:
                results = await self.core.batcher.generate(parsed.request)
                return JSONResponse(openai_api.response(parsed, results))
            # Check the prompts' length now: an error after the 200 header could only be an event.
            self.core.batcher.check(parsed.request)
        except OctopackError as exc:
            param = openai_api.param_of(exc.message, "prompt" if parsed.kind == "completion" else "messages")
            status = HTTP_STATUS.get(exc.code, 500)
            raise APIError(status, openai_api.api_message(exc.message, param or "prompt"), param=param,
                           code="context_length_exceeded" if "positions" in exc.message else None) from exc
        return StreamingResponse(self._events(parsed), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    async def _events(self, parsed: ParsedRequest) -> AsyncIterator[bytes]:
        writer = ChunkWriter(parsed)
        for chunk in writer.start():
            yield chunk
        try:
            async for ev in self.core.batcher.stream(parsed.request):
                for chunk in writer.piece(ev.prompt_index, ev.sample_index, ev.text, ev.finish_reason,
                                          ev.num_tokens, ev.prompt_tokens):
                    yield chunk
        except OctopackError as exc:
            yield writer.error(APIError(HTTP_STATUS.get(exc.code, 500), exc.message))
        for chunk in writer.end():
            yield chunk

    async def _generate(self, request: Any) -> Any:
        from google.protobuf import json_format
        from starlette.responses import JSONResponse

        try:
            message = json_format.Parse(await request.body(), pb.GenerateRequest())
            self.edge.check(message)
            response = await self.core.generate(message)
        except json_format.ParseError as exc:
            return JSONResponse({"error": f"body is not a GenerateRequest: {exc}"}, status_code=400)
        except OctopackError as exc:
            return JSONResponse({"error": exc.message}, status_code=HTTP_STATUS.get(exc.code, 500))
        return JSONResponse(json.loads(json_format.MessageToJson(response)))


def http_app(core: InferenceCore, edge: Rules) -> Any:
    """A Starlette application with every route (for uvicorn, without Ray); ``edge``: the request rules."""
    from starlette.applications import Starlette
    from starlette.routing import Route

    front = HttpFront(core, edge)
    return Starlette(routes=[Route("/{path:path}", front.handle, methods=["GET", "POST", "PUT", "DELETE"])])
