"""A :class:`~octopack.evaluation.sources.Generator` that asks a served model (InferenceService).

Each prompt is its own ``Generate`` call and up to ``concurrency`` calls are in flight,
so the server's continuous batcher decodes them together. Sampling follows the
paper unless told otherwise: temperature 0.2, top_p 0.95, ``n`` samples per problem;
the language's stop sequences travel with every request.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import grpc

from octopack.common.client import auth_metadata, error_from_rpc, sync_channel
from octopack.common.errors import InvalidArgument, Unavailable
from octopack.evaluation.sources import GenerationParams, GenerationRequest
from octopack.inference.v1 import inference_pb2 as pb
from octopack.inference.v1 import inference_pb2_grpc

#: The server accepts at most this many stop strings per request.
MAX_STOPS = 16


class ModelGenerator:
    """Generations from an inference endpoint ``host:port`` (Ray Serve's gRPC proxy or the plain server)."""

    raw = False
    describes = True

    def __init__(
        self,
        endpoint: str,
        token: str | None = None,
        concurrency: int = 32,
        seed: int | None = None,
        timeout_s: float = 3600.0,
    ) -> None:
        if ":" not in endpoint:
            raise InvalidArgument(f"--model {endpoint!r} must be an inference endpoint HOST:PORT, e.g. 127.0.0.1:9000")
        self.endpoint = endpoint
        self.concurrency = max(1, concurrency)
        self.seed = seed
        self.timeout_s = timeout_s
        self._metadata = auth_metadata(token)
        self._channel = sync_channel(endpoint)
        self._stub = inference_pb2_grpc.InferenceServiceStub(self._channel)
        self.model = ""

    def close(self) -> None:
        self._channel.close()

    def _one(self, request: GenerationRequest, params: GenerationParams, index: int) -> list[str]:
        sampling = pb.SamplingParams(
            max_new_tokens=params.max_new_tokens,
            temperature=params.temperature,
            top_p=params.top_p,
            n=params.n,
            stop=list(dict.fromkeys(request.stop))[:MAX_STOPS],
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
            err = error_from_rpc(exc, f"inference endpoint {self.endpoint}")
            if err.code == "INVALID_ARGUMENT":
                raise InvalidArgument(f"{request.task_id}: {err.message}") from exc
            raise Unavailable(f"inference endpoint {self.endpoint} failed for {request.task_id}: {err.message}") from exc
        self.model = reply.model
        return [sample.text for sample in reply.completions[0].samples]

    def generate(self, requests: Sequence[GenerationRequest], params: GenerationParams) -> list[list[str]]:
        """One list of ``params.n`` generations per request, in request order."""
        with ThreadPoolExecutor(self.concurrency) as pool:
            futures = [pool.submit(self._one, r, params, i) for i, r in enumerate(requests)]
            return [f.result() for f in futures]
