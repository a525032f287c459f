"""The continuous batcher: concurrent requests share forward passes and get their own results."""

from __future__ import annotations

import asyncio

import pytest

from octopack.ray_jobs.serve.batcher import ContinuousBatcher
from octopack.ray_jobs.serve.engine import GenerationEngine, RowSpec
from octopack.ray_jobs.serve.params import Limits, validate

pytestmark = pytest.mark.ray


def _request(prompt: str, **kw):
    args = dict(max_new_tokens=8, temperature=0.0, top_p=0.0, n=1, stop=[], seed=None)
    args.update(kw)
    return validate(prompts=[prompt], limits=Limits(), **args)


async def test_concurrent_requests_are_batched(engine: GenerationEngine) -> None:
    batcher = ContinuousBatcher(engine, max_batch_size=16, max_wait_s=0.02)
    try:
        prompts = [f"def f{i}(x):" for i in range(12)]
        results = await asyncio.gather(*(batcher.generate(_request(p)) for p in prompts))
        expected = engine.generate([RowSpec(engine.encode(p), _request(p).sampling) for p in prompts])
        assert [r[0][0].text for r in results] == [e.text for e in expected]
        assert batcher.stats.requests == 12 and batcher.stats.max_batch_size > 1
        assert sum(batcher.stats.batch_sizes.values()) == batcher.stats.forward_passes
    finally:
        batcher.close()


async def test_n_samples_and_streaming(engine: GenerationEngine) -> None:
    batcher = ContinuousBatcher(engine, max_batch_size=8)
    try:
        request = _request("import os", n=3, temperature=0.8, seed=7)
        [samples] = await batcher.generate(request)
        assert len(samples) == 3
        again = await batcher.generate(request)
        assert [s.text for s in again[0]] == [s.text for s in samples]
        texts: dict[int, str] = {}
        finished = 0
        async for event in batcher.stream(request):
            texts[event.sample_index] = texts.get(event.sample_index, "") + event.text
            finished += event.finish_reason is not None
        assert finished == 3 and [texts[j] for j in range(3)] == [s.text for s in samples]
    finally:
        batcher.close()


async def test_too_long_prompt_is_invalid(engine: GenerationEngine) -> None:
    from octopack.common.errors import InvalidArgument

    batcher = ContinuousBatcher(engine, max_prompt_tokens=8)
    try:
        with pytest.raises(InvalidArgument, match="prompts\\[0\\]"):
            await batcher.generate(_request("def " * 50))
    finally:
        batcher.close()
