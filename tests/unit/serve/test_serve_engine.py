"""The generation engine: batching (left padding, KV cache, joining rows) must not change results."""

from __future__ import annotations

import pytest

from octopack.ray_jobs.serve.engine import GenerationEngine, RowSpec
from octopack.ray_jobs.serve.params import Sampling

pytestmark = pytest.mark.ray

PROMPTS = ["def add(a, b):", "class Stack:\n    def", "import os", "Question: Fix the loop\n\nAnswer:"]


def _greedy(tokens: int = 12, stop: tuple[str, ...] = ()) -> Sampling:
    return Sampling(max_new_tokens=tokens, temperature=0.0, top_p=1.0, n=1, stop=stop, seed=None)


def _solo(engine: GenerationEngine, prompt: str, sampling: Sampling, seed: int | None = None) -> list:
    return engine.generate([RowSpec(engine.encode(prompt), sampling, seed)])


def test_batched_greedy_equals_one_at_a_time(engine: GenerationEngine) -> None:
    sampling = _greedy()
    alone = [_solo(engine, p, sampling)[0].text for p in PROMPTS]
    together = engine.generate([RowSpec(engine.encode(p), sampling) for p in PROMPTS])
    assert [r.text for r in together] == alone
    assert all(r.num_tokens == 12 and r.finish_reason == "length" for r in together)


def test_rows_joining_a_running_batch_get_the_same_text(engine: GenerationEngine) -> None:
    sampling = _greedy(10)
    alone = [_solo(engine, p, sampling)[0].text for p in PROMPTS[:3]]
    batch, done = engine.prefill([RowSpec(engine.encode(PROMPTS[0]), sampling, tag=0)])
    for _ in range(3):  # the first row is 4 tokens ahead when the others join
        batch, more = engine.step(batch)
        done += more
    fresh, more = engine.prefill([RowSpec(engine.encode(p), sampling, tag=i + 1) for i, p in enumerate(PROMPTS[1:3])])
    done += more
    batch = engine.merge(batch, fresh)
    assert batch is not None and len(batch) == 3
    while batch is not None:
        batch, more = engine.step(batch)
        done += more
    assert [r.text for r in sorted(done, key=lambda r: r.tag)] == alone


def test_stop_sequences_cut_the_text_and_stream_matches(engine: GenerationEngine) -> None:
    free = _solo(engine, PROMPTS[0], _greedy(20))[0].text
    stop = free[5:8]
    assert stop and stop in free
    pieces: list[str] = []
    reasons: list[str | None] = []
    spec = RowSpec(engine.encode(PROMPTS[0]), _greedy(20, (stop,)),
                   sink=lambda text, reason: (pieces.append(text), reasons.append(reason)))
    [result] = engine.generate([spec])
    assert result.finish_reason == "stop"
    assert result.text == free[: free.find(stop)]
    assert "".join(pieces) == result.text and reasons[-1] == "stop"


def test_seeded_sampling_is_reproducible_and_batch_independent(engine: GenerationEngine) -> None:
    sampling = Sampling(max_new_tokens=10, temperature=1.0, top_p=0.9, n=1, stop=(), seed=None)
    a = _solo(engine, PROMPTS[1], sampling, seed=42)[0].text
    b = engine.generate([RowSpec(engine.encode(p), sampling, 42 if i == 1 else None) for i, p in enumerate(PROMPTS)])
    assert b[1].text == a
    c = _solo(engine, PROMPTS[1], sampling, seed=43)[0].text
    d = _solo(engine, PROMPTS[1], sampling, seed=44)[0].text
    assert len({a, c, d}) > 1  # different seeds explore different samples
