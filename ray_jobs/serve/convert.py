"""Protobuf <-> domain conversion for the inference service (no grpc import: also used by Ray Serve)."""

from __future__ import annotations

from typing import Any

from octopack.inference.v1 import inference_pb2 as pb
from octopack.ray_jobs.serve.batcher import BatchStats, StreamEvent
from octopack.ray_jobs.serve.engine import RowResult
from octopack.ray_jobs.serve.params import GenerationRequest, Limits, validate


def to_request(message: Any, limits: Limits) -> GenerationRequest:
    """GenerateRequest or GenerateStreamRequest -> a validated request (InvalidArgument on bad fields)."""
    params = message.params
    return validate(
        prompts=list(message.prompts),
        max_new_tokens=params.max_new_tokens,
        temperature=params.temperature,
        top_p=params.top_p,
        n=params.n,
        stop=list(params.stop),
        seed=params.seed if params.HasField("seed") else None,
        limits=limits,
        function_end=params.stop_at_function_end,
    )


def to_response(results: list[list[RowResult]], model: str) -> pb.GenerateResponse:
    completions = [
        pb.Completion(
            samples=[pb.Sample(text=r.text, finish_reason=r.finish_reason, num_tokens=r.num_tokens) for r in row],
            prompt_tokens=row[0].prompt_tokens if row else 0,
        )
        for row in results
    ]
    return pb.GenerateResponse(completions=completions, model=model)


def to_stream_response(event: StreamEvent) -> pb.GenerateStreamResponse:
    return pb.GenerateStreamResponse(
        prompt_index=event.prompt_index,
        sample_index=event.sample_index,
        text=event.text,
        finish_reason=event.finish_reason or "",
    )


def to_stats(stats: BatchStats, model: str) -> pb.GetServerStatsResponse:
    return pb.GetServerStatsResponse(
        model=model,
        requests=stats.requests,
        sequences=stats.sequences,
        batches=stats.forward_passes,
        max_batch_size=stats.max_batch_size,
        batch_sizes=dict(stats.batch_sizes),
        generated_tokens=stats.generated_tokens,
    )
