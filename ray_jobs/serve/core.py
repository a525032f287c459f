"""The inference service's logic, shared by the Ray Serve deployment and the plain gRPC server."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from octopack.ray_jobs.serve import convert
from octopack.ray_jobs.serve.batcher import ContinuousBatcher
from octopack.ray_jobs.serve.engine import GenerationEngine
from octopack.ray_jobs.serve.params import Limits
from octopack.ray_jobs.serve.settings import ServeSettings

log = logging.getLogger(__name__)


class InferenceCore:
    """A loaded model version behind a continuous batcher."""

    def __init__(self, settings: ServeSettings, s3: Any = None) -> None:
        import torch

        from octopack.models.registry import ModelRegistry
        from octopack.models.resolve import resolve_model

        if settings.torch_threads:
            torch.set_num_threads(settings.torch_threads)
        registry: ModelRegistry | None = None
        if s3 is not None:
            from octopack.models.resolve import open_registry

            registry = open_registry(s3)
        path, self.model_name = resolve_model(settings.model, registry)
        device = None if settings.device == "auto" else settings.device
        self.engine = GenerationEngine.load(path, device=device)
        self.limits = Limits(
            default_max_new_tokens=settings.default_max_new_tokens,
            max_new_tokens=settings.max_new_tokens,
            max_prompts=settings.max_prompts,
            max_n=settings.max_n,
            max_prompt_tokens=settings.max_prompt_tokens,
        )
        self.batcher = ContinuousBatcher(
            self.engine, settings.max_batch_size, settings.batch_wait_ms / 1000, settings.max_prompt_tokens
        )
        #: Names the OpenAI API answers to; the first is the model's id in GET /v1/models.
        self.served_names = tuple(dict.fromkeys(
            n for n in (settings.served_name or self.model_name, self.model_name, settings.model) if n
        ))
        log.info("serving %s on %s (batch <= %d)", self.model_name, self.engine.device, settings.max_batch_size)

    async def generate(self, message: Any) -> Any:
        request = convert.to_request(message, self.limits)
        return convert.to_response(await self.batcher.generate(request), self.model_name)

    async def generate_stream(self, message: Any) -> AsyncIterator[Any]:
        request = convert.to_request(message, self.limits)
        async for event in self.batcher.stream(request):
            yield convert.to_stream_response(event)

    def stats(self) -> Any:
        return convert.to_stats(self.batcher.stats, self.model_name)

    def close(self) -> None:
        self.batcher.close()
