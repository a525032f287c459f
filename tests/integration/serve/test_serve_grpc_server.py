"""The inference service on the plain gRPC server (no Ray): generated stubs, grpcurl, errors, batching."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import grpc
import pytest

from octopack.common.server import start_server
from octopack.inference.v1 import inference_pb2 as pb
from octopack.inference.v1 import inference_pb2_grpc

pytestmark = [pytest.mark.integration, pytest.mark.ray]


@pytest.fixture
async def server(tiny_model: Path):
    from octopack.ray_jobs.serve.server import inference_service
    from octopack.ray_jobs.serve.settings import ServeSettings

    settings = ServeSettings(model=str(tiny_model), port=0, device="cpu", max_batch_size=32, batch_wait_ms=20,
                             torch_threads=1)
    running = await start_server(settings, [inference_service(settings)])
    yield running
    await running.stop(0)


async def test_generate_stream_and_errors(server) -> None:
    async with grpc.aio.insecure_channel(server.address) as channel:
        stub = inference_pb2_grpc.InferenceServiceStub(channel)
        params = pb.SamplingParams(max_new_tokens=6, n=2, temperature=0.7, seed=3)
        reply = await stub.Generate(pb.GenerateRequest(prompts=["def add(a, b):", "import os"], params=params))
        assert [len(c.samples) for c in reply.completions] == [2, 2]
        assert all(s.num_tokens <= 6 and s.finish_reason in ("length", "eos") for c in reply.completions
                   for s in c.samples)
        texts: dict[tuple[int, int], str] = {}
        async for piece in stub.GenerateStream(pb.GenerateStreamRequest(prompts=["def add(a, b):", "import os"],
                                                                         params=params)):
            key = (piece.prompt_index, piece.sample_index)
            texts[key] = texts.get(key, "") + piece.text
        assert texts == {(p, j): reply.completions[p].samples[j].text for p in range(2) for j in range(2)}
        for bad in (pb.SamplingParams(temperature=-1), pb.SamplingParams(max_new_tokens=100000)):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.Generate(pb.GenerateRequest(prompts=["x"], params=bad))
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.Generate(pb.GenerateRequest(prompts=[""]))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "prompts[0]" in err.value.details()


async def test_sixteen_concurrent_calls_share_forward_passes(server) -> None:
    async with grpc.aio.insecure_channel(server.address) as channel:
        stub = inference_pb2_grpc.InferenceServiceStub(channel)
        calls = [stub.Generate(pb.GenerateRequest(prompts=[f"def f{i}(x):"],
                                                  params=pb.SamplingParams(max_new_tokens=16)))
                 for i in range(16)]
        replies = await asyncio.gather(*calls)
        assert all(r.completions[0].samples[0].finish_reason in ("length", "eos") for r in replies)
        stats = await stub.GetServerStats(pb.GetServerStatsRequest())
        assert stats.requests >= 16 and stats.max_batch_size > 1
        assert max(stats.batch_sizes) == stats.max_batch_size


async def test_grpcurl_calls_generate_by_reflection(server, grpcurl: str) -> None:
    body = json.dumps({"prompts": ["def add(a, b):"], "params": {"max_new_tokens": 4}})
    out = await asyncio.to_thread(
        subprocess.run,
        [grpcurl, "-plaintext", "-d", body, server.address, "octopack.inference.v1.InferenceService/Generate"],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    reply = json.loads(out.stdout)
    assert reply["completions"][0]["samples"][0]["finish_reason"] in ("length", "eos"), out.stdout
