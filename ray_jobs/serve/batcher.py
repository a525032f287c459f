"""Continuous batching over a :class:`GenerationEngine`, with an asyncio front.

One engine thread owns the model. Between decode steps it admits queued rows (up to
``max_batch_size``): they are prefilled together and merged into the running batch,
so a request that arrives mid-generation joins the next forward pass instead of
waiting for the batch to finish. Callers await results or stream text pieces; the
thread hands them back through ``loop.call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from octopack.common.errors import InvalidArgument
from octopack.ray_jobs.serve.engine import DecodeBatch, GenerationEngine, RowResult, RowSpec
from octopack.ray_jobs.serve.params import GenerationRequest

log = logging.getLogger(__name__)


def _post(loop: asyncio.AbstractEventLoop, target: asyncio.Queue[Any], item: Any) -> None:
    """Hand an item to a waiting coroutine; a caller whose loop is gone is ignored, not fatal."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(target.put_nowait, item)


@dataclass
class BatchStats:
    """Counters of one batcher (what GetServerStats reports)."""

    requests: int = 0
    sequences: int = 0
    forward_passes: int = 0
    max_batch_size: int = 0
    generated_tokens: int = 0
    batch_sizes: Counter[int] = field(default_factory=Counter)

    def record(self, rows: int) -> None:
        self.forward_passes += 1
        self.batch_sizes[rows] += 1
        self.max_batch_size = max(self.max_batch_size, rows)


@dataclass
class StreamEvent:
    prompt_index: int
    sample_index: int
    text: str
    finish_reason: str | None
    #: Set on a sample's last event (the one with a finish reason).
    num_tokens: int = 0
    prompt_tokens: int = 0


class ContinuousBatcher:
    """Admits rows between decode steps; ``generate``/``stream`` are safe to call concurrently."""

    def __init__(
        self, engine: GenerationEngine, max_batch_size: int = 32, max_wait_s: float = 0.005,
        max_prompt_tokens: int = 4096,
    ) -> None:
        self.engine = engine
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self.max_prompt_tokens = max_prompt_tokens
        self.stats = BatchStats()
        self._queue: queue.Queue[RowSpec] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="octopack-engine", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _specs(self, request: GenerationRequest, sink_for: Any) -> list[RowSpec]:
        sampling = request.sampling
        specs = []
        for p, prompt in enumerate(request.prompts):
            ids = self.engine.encode(prompt)
            total = len(ids) + sampling.max_new_tokens
            if len(ids) > self.max_prompt_tokens or total > self.engine.max_positions:
                raise InvalidArgument(
                    f"prompts[{p}] has {len(ids)} tokens; with max_new_tokens={sampling.max_new_tokens} "
                    f"that exceeds the model's {self.engine.max_positions} positions "
                    f"(prompt limit {self.max_prompt_tokens}): shorten the prompt or ask for fewer tokens"
                )
            for j in range(sampling.n):
                seed = None if sampling.seed is None else sampling.seed + j
                specs.append(RowSpec(ids, sampling, seed, sink_for(p, j), (p, j)))
        return specs

    def check(self, request: GenerationRequest) -> None:
        """Raise what :meth:`generate` would raise for the request's prompts (too long), without queueing."""
        self._specs(request, lambda p, j: None)

    async def generate(self, request: GenerationRequest) -> list[list[RowResult]]:
        """All samples of every prompt: ``result[prompt][sample]``."""
        loop = asyncio.get_running_loop()
        done: asyncio.Queue[RowResult] = asyncio.Queue()
        specs = self._specs(request, lambda p, j: None)
        for spec in specs:
            spec.sink = None
            spec.tag = (spec.tag, lambda r, q=done: _post(loop, q, r))
        self._submit(specs)
        out: list[list[RowResult | None]] = [[None] * request.sampling.n for _ in request.prompts]
        for _ in specs:
            result = await done.get()
            p, j = result.tag
            out[p][j] = result
        return [[r for r in row if r is not None] for row in out]

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamEvent]:
        """Text pieces of every sample as they are decoded (interleaved across samples)."""
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[StreamEvent] = asyncio.Queue()
        # A sample's last piece waits for its result (same engine thread, right after) to carry the counts.
        tails: dict[tuple[int, int], str] = {}

        def sink_for(p: int, j: int) -> Any:
            def sink(text: str, reason: str | None) -> None:
                if reason is None:
                    _post(loop, events, StreamEvent(p, j, text, None))
                else:
                    tails[(p, j)] = text

            return sink

        def finished(result: RowResult) -> None:
            p, j = result.tag
            event = StreamEvent(p, j, tails.pop((p, j), ""), result.finish_reason, result.num_tokens,
                                result.prompt_tokens)
            _post(loop, events, event)

        specs = self._specs(request, sink_for)
        for spec in specs:
            spec.tag = (spec.tag, finished)
        self._submit(specs)
        remaining = len(specs)
        while remaining:
            event = await events.get()
            if event.finish_reason is not None:
                remaining -= 1
            yield event

    def _submit(self, specs: list[RowSpec]) -> None:
        self.stats.requests += 1
        self.stats.sequences += len(specs)
        for spec in specs:
            self._queue.put(spec)

    def _admit(self, running: int, block: bool) -> list[RowSpec]:
        """Queued rows that fit next to ``running`` rows; waits briefly for company when idle."""
        new: list[RowSpec] = []
        try:
            if block:
                new.append(self._queue.get(timeout=0.1))
                deadline = time.monotonic() + self.max_wait_s
                while running + len(new) < self.max_batch_size and time.monotonic() < deadline:
                    try:
                        new.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
                    except queue.Empty:
                        break
            while running + len(new) < self.max_batch_size:
                new.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        return new

    def _run(self) -> None:
        batch: DecodeBatch | None = None
        while not self._stop.is_set():
            new: list[RowSpec] = []
            try:
                new = self._admit(len(batch) if batch else 0, block=batch is None)
                finished: list[RowResult] = []
                if new:
                    fresh, finished = self.engine.prefill(new)
                    self.stats.record(len(new))
                    batch = self.engine.merge(batch, fresh)
                    new = []
                if batch is not None:
                    self.stats.record(len(batch))
                    batch, more = self.engine.step(batch)
                    finished.extend(more)
                for result in finished:
                    self._deliver(result)
            except Exception:  # keep serving: fail the rows in flight, not the replica
                log.exception("generation step failed; failing the rows in flight")
                specs = new + ([row.spec for row in batch.rows] if batch is not None else [])
                for spec in specs:
                    if spec.sink is not None:
                        spec.sink("", "error")
                    self._deliver(RowResult("", "error", 0, len(spec.prompt_ids), spec.tag))
                batch = None

    def _deliver(self, result: RowResult) -> None:
        self.stats.generated_tokens += result.num_tokens
        tag, callback = result.tag
        result.tag = tag
        if callback is not None:
            callback(result)
