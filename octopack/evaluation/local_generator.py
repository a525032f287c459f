"""A :class:`~octopack.evaluation.sources.Generator` over a model loaded in this process (no server).

The model is ``default`` (the converted SmolLM2-135M-Instruct), a Hugging Face folder or
``NAME[@vN]`` in the model registry, and it runs on the serving engine itself
(:class:`~octopack.ray_jobs.serve.engine.GenerationEngine` behind the continuous batcher), so
its generations are the ones the served model would give, batched the same way. Prompts of the
``chat`` format go through the tokenizer's chat template (the question as the user turn), then
the code base the answer starts with.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from octopack.common.errors import FailedPrecondition, InvalidArgument, OctopackError
from octopack.evaluation.sources import GenerationParams, GenerationRequest, function_end, longest_first

log = logging.getLogger(__name__)

MAX_STOPS = 16
#: transformers patches torch globally while it builds a model (meta-device init): one load at a time.
_LOADING = threading.Lock()


class LocalGenerator:
    """Generations from ``model`` on this machine's CPU or GPU, ``max_batch_size`` rows per forward pass.

    ``threads`` sets torch's intra-op threads of this process (when a server on the same machine
    generates at the same time, sharing the cores beats oversubscribing them).
    """

    raw = False
    describes = True

    def __init__(
        self,
        model: str,
        max_batch_size: int = 32,
        device: str | None = None,
        seed: int | None = None,
        registry: Any = None,
        on_generated: Callable[[int], None] | None = None,
        threads: int = 0,
    ) -> None:
        try:
            from octopack.models.resolve import resolve_model
            from octopack.ray_jobs.serve.batcher import ContinuousBatcher
            from octopack.ray_jobs.serve.engine import GenerationEngine
        except ImportError as exc:
            raise FailedPrecondition(
                f"--model-path needs the train extra (torch, transformers): pip install 'octopack[train]' ({exc})"
            ) from exc
        if threads:
            import torch

            torch.set_num_threads(threads)  # this process's intra-op threads (0 keeps torch's choice)
        path, self.model = resolve_model(model, registry)
        with _LOADING:
            self.engine = GenerationEngine.load(path, device=device)
        self.batcher = ContinuousBatcher(self.engine, max_batch_size, max_prompt_tokens=self.engine.max_positions)
        self.seed = seed
        self.on_generated = on_generated
        log.info("loaded %s on %s for in-process generation", self.model, self.engine.device)

    def close(self) -> None:
        self.batcher.close()

    def prompt_text(self, request: GenerationRequest) -> str:
        """What the model continues: the prompt, or for ``chat`` the template's user turn and the code base."""
        if request.chat is None:
            return request.prompt
        try:
            template = self.engine.chat_prompt([{"role": "user", "content": request.chat.user}])
        except OctopackError as exc:
            raise FailedPrecondition(f"the chat prompt format: {exc.message}") from exc
        return (template + request.chat.prefix).strip()

    async def _one(self, request: GenerationRequest, params: GenerationParams, index: int) -> list[str]:
        from octopack.ray_jobs.serve.params import Limits, validate

        limits = Limits(max_new_tokens=max(params.max_new_tokens, 1), max_n=max(params.n, 1),
                        max_prompt_tokens=self.engine.max_positions)
        try:
            job = validate(
                prompts=[self.prompt_text(request)], max_new_tokens=params.max_new_tokens,
                temperature=params.temperature, top_p=params.top_p, n=params.n,
                stop=list(dict.fromkeys(request.stop))[:MAX_STOPS],
                seed=None if self.seed is None else self.seed + 1000 * index, limits=limits,
                function_end=function_end(request, params),
            )
            rows = await self.batcher.generate(job)
        except InvalidArgument as exc:
            raise InvalidArgument(f"{request.task_id}: {exc.message}") from exc
        if any(r.finish_reason == "error" for r in rows[0]):
            raise FailedPrecondition(f"{request.task_id}: generation failed in the engine (see the log)")
        if self.on_generated is not None:
            self.on_generated(len(rows[0]))
        return [r.text for r in rows[0]]

    async def _all(self, requests: Sequence[GenerationRequest], params: GenerationParams) -> list[list[str]]:
        # Tasks queue their rows in creation order: longest prompts first (see longest_first).
        tasks = {i: asyncio.ensure_future(self._one(requests[i], params, i)) for i in longest_first(requests)}
        try:
            await asyncio.gather(*tasks.values())
        finally:
            for task in tasks.values():
                task.cancel()
        return [tasks[i].result() for i in range(len(requests))]

    def generate(self, requests: Sequence[GenerationRequest], params: GenerationParams) -> list[list[str]]:
        """One list of ``params.n`` generations per request, in request order (all queued at once)."""
        return asyncio.run(self._all(requests, params))
