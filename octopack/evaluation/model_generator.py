"""A :class:`~octopack.evaluation.sources.Generator` that asks a served model (InferenceService).

Each prompt is its own ``Generate`` call and up to ``concurrency`` calls are in flight,
so the server's continuous batcher decodes them together. Sampling follows the
paper unless told otherwise: temperature 0.2, top_p 0.95, ``n`` samples per problem;
the language's stop sequences travel with every request.
"""

from __future__ import annotations

from collections.abc import Sequence

import grpc

from octopack.common.client import auth_metadata, error_from_rpc, sync_channel
from octopack.common.errors import FailedPrecondition, InvalidArgument, NotFound, OctopackError, Unavailable
from octopack.evaluation.sources import GenerationParams, GenerationRequest, fan_out, function_end
from octopack.inference.v1 import inference_pb2 as pb
from octopack.inference.v1 import inference_pb2_grpc

#: The server accepts at most this many stop strings per request.
MAX_STOPS = 16


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if not byte & 0x80:
            return value, at
        shift += 7


def _strings(data: bytes) -> list[str]:
    """The ``repeated string`` field 1 of a message (Ray Serve's ListApplicationsResponse), without Ray."""
    out, at = [], 0
    while at < len(data):
        key, at = _varint(data, at)
        if key & 7 != 2:  # only length-delimited fields in this message
            break
        size, at = _varint(data, at)
        if key >> 3 == 1:
            out.append(data[at : at + size].decode(errors="replace"))
        at += size
    return out


class ModelGenerator:
    """Generations from an inference endpoint ``host:port`` (Ray Serve's gRPC proxy or the plain server).

    ``application`` names the Ray Serve application when the proxy serves several (sent as the
    ``application`` metadata, which Serve routes by). :meth:`check` runs before the first prompt and
    turns every way the endpoint can be wrong into a message that says what to do.
    """

    raw = False
    describes = True

    def __init__(
        self,
        endpoint: str,
        token: str | None = None,
        concurrency: int = 32,
        seed: int | None = None,
        timeout_s: float = 3600.0,
        application: str = "",
    ) -> None:
        if ":" not in endpoint or "://" in endpoint:
            hint = " (for an OpenAI-compatible HTTP server use --openai-base-url URL --model NAME)" if "://" in endpoint else ""
            raise InvalidArgument(
                f"--model {endpoint!r} must be an inference endpoint HOST:PORT, e.g. 127.0.0.1:9000{hint}"
            )
        self.endpoint = endpoint
        self.concurrency = max(1, concurrency)
        self.seed = seed
        self.timeout_s = timeout_s
        self.application = application
        self._metadata = auth_metadata(token) + ((("application", application),) if application else ())
        self._channel = sync_channel(endpoint)
        self._stub = inference_pb2_grpc.InferenceServiceStub(self._channel)
        self._checked = False
        self.model = ""

    def close(self) -> None:
        self._channel.close()

    def applications(self) -> list[str] | None:
        """The applications of a Ray Serve proxy at the endpoint (None when it is not one)."""
        call = self._channel.unary_unary(
            "/ray.serve.RayServeAPIService/ListApplications",
            request_serializer=lambda _: b"",
            response_deserializer=lambda data: data,
        )
        try:
            return _strings(call(None, timeout=10))
        except grpc.RpcError:
            return None

    def _explain(self, exc: grpc.RpcError) -> OctopackError:
        """What went wrong with the endpoint, in words that say what to do."""
        where = f"inference endpoint {self.endpoint}"
        code = exc.code() if hasattr(exc, "code") else None
        details = (exc.details() if hasattr(exc, "details") else "") or ""
        if code == grpc.StatusCode.UNAVAILABLE:
            if "http1" in details.lower() or "http/1" in details.lower():
                return FailedPrecondition(
                    f"{where} answers HTTP, not gRPC: for an OpenAI-compatible server use "
                    f"--openai-base-url http://{self.endpoint}/v1 --model NAME"
                )
            return Unavailable(
                f"nothing answers at {self.endpoint} ({details}): start a server ('octopack serve MODEL', gRPC on "
                "9000) or fix --model HOST:PORT"
            )
        if code == grpc.StatusCode.NOT_FOUND and "Application" in details:
            apps = self.applications() or []
            if not apps:
                return FailedPrecondition(
                    f"{where} is a Ray Serve proxy with no application deployed: deploy one ('octopack serve "
                    "MODEL', or a job with a serve stage) and try again"
                )
            if self.application:
                return NotFound(
                    f"{where} has no Ray Serve application {self.application!r}; it has {', '.join(apps)}"
                )
            return FailedPrecondition(
                f"{where} is a Ray Serve proxy with {len(apps)} applications ({', '.join(apps)}): "
                "name one with --application NAME"
            )
        if code == grpc.StatusCode.UNIMPLEMENTED:
            return FailedPrecondition(
                f"{where} does not serve octopack.inference.v1.InferenceService ({details}): is it another "
                "service? 'grpcurl -plaintext HOST:PORT list' shows what it serves"
            )
        return error_from_rpc(exc, where)

    def check(self) -> None:
        """One cheap call (GetServerStats) so a wrong endpoint fails before any prompt is sent."""
        try:
            stats = self._stub.GetServerStats(pb.GetServerStatsRequest(), metadata=self._metadata, timeout=30)
        except grpc.RpcError as exc:
            raise self._explain(exc) from exc
        self.model = stats.model
        self._checked = True

    def _one(self, request: GenerationRequest, params: GenerationParams, index: int) -> list[str]:
        if request.chat is not None:
            raise FailedPrecondition(
                "the chat prompt format needs the model's chat template, which the gRPC inference API does "
                "not apply: use --openai-base-url (the chat API) or --model-path (in-process)"
            )
        sampling = pb.SamplingParams(
            max_new_tokens=params.max_new_tokens,
            temperature=params.temperature,
            top_p=params.top_p,
            n=params.n,
            stop=list(dict.fromkeys(request.stop))[:MAX_STOPS],
            stop_at_function_end=function_end(request, params),
        )
        if self.seed is not None:
            sampling.seed = self.seed + 1000 * index
        try:
            reply = self._stub.Generate(
                pb.GenerateRequest(prompts=[request.prompt], params=sampling),
                metadata=self._metadata,
                timeout=self.timeout_s,
            )
        except grpc.RpcError as exc:
            err = self._explain(exc)
            if err.code == "INVALID_ARGUMENT":
                raise InvalidArgument(f"{request.task_id}: {err.message}") from exc
            raise Unavailable(f"inference endpoint {self.endpoint} failed for {request.task_id}: {err.message}") from exc
        self.model = reply.model
        return [sample.text for sample in reply.completions[0].samples]

    def generate(self, requests: Sequence[GenerationRequest], params: GenerationParams) -> list[list[str]]:
        """One list of ``params.n`` generations per request, in request order."""
        if not self._checked:
            self.check()
        return fan_out(requests, self.concurrency, lambda request, i: self._one(request, params, i))
