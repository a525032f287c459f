"""Serving throughput: generated tokens/s at concurrency 1, 8 and 32 vs plain HF ``generate``.

    .venv/bin/python benchmarks/serve.py [--model default|tiny|PATH] [--new-tokens 256] [--ray]

Baseline: one request at a time through ``model.generate`` (the same sampling: temperature
0.2, top_p 0.95). OctoPack: concurrent ``Generate`` calls through the inference service
(the plain gRPC server in this process, or Ray Serve's gRPC proxy with ``--ray``), whose
continuous batcher shares forward passes. Prompts are HumanEvalPack Python prompts.
Goal on CPU: >= 4x the baseline at concurrency 32.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import time
from importlib import resources
from typing import Any

from peak_memory import PeakMemory


def table(header: list[str], rows: list[list[Any]]) -> str:
    cells = [header] + [[f"{c:.2f}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def prompts(n: int) -> list[str]:
    text = resources.files("octopack").joinpath("data/humanevalpack/python.jsonl").read_text()
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    return [rows[i % len(rows)]["prompt"] for i in range(n)]


def baseline(path: str, new_tokens: int, n: int) -> tuple[float, float]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    generated, start = 0, time.perf_counter()
    for prompt in prompts(n):
        ids = tok(prompt, return_tensors="pt")
        with torch.inference_mode():
            out = model.generate(**ids, max_new_tokens=new_tokens, do_sample=True, temperature=0.2, top_p=0.95,
                                 pad_token_id=tok.pad_token_id or tok.eos_token_id)
        generated += out.shape[1] - ids["input_ids"].shape[1]
    return generated / (time.perf_counter() - start), float(generated)


async def _load(address: str, concurrency: int, total: int, new_tokens: int) -> tuple[float, int, int]:
    import grpc

    from octopack.inference.v1 import inference_pb2 as pb
    from octopack.inference.v1 import inference_pb2_grpc

    params = pb.SamplingParams(max_new_tokens=new_tokens, temperature=0.2, top_p=0.95)
    gate = asyncio.Semaphore(concurrency)
    async with grpc.aio.insecure_channel(address) as channel:
        stub = inference_pb2_grpc.InferenceServiceStub(channel)

        async def one(prompt: str) -> int:
            async with gate:
                reply = await stub.Generate(pb.GenerateRequest(prompts=[prompt], params=params))
                return reply.completions[0].samples[0].num_tokens

        start = time.perf_counter()
        counts = await asyncio.gather(*(one(p) for p in prompts(total)))
        seconds = time.perf_counter() - start
        stats = await stub.GetServerStats(pb.GetServerStatsRequest())
    return sum(counts) / seconds, sum(counts), stats.max_batch_size


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def run_plain(path: str, levels: list[int], new_tokens: int) -> list[list[Any]]:
    from octopack.common.server import start_server
    from octopack.ray_jobs.serve.server import inference_service
    from octopack.ray_jobs.serve.settings import ServeSettings

    settings = ServeSettings(model=path, port=0, device="cpu", max_batch_size=32)
    running = await start_server(settings, [inference_service(settings)])
    rows = []
    try:
        for level in levels:
            with PeakMemory() as mem:
                tps, tokens, batch = await _load(running.address, level, max(2, level), new_tokens)
            rows.append([level, tps, tokens, batch, mem.gib])
    finally:
        await running.stop(0)
    return rows


def run_ray(path: str, levels: list[int], new_tokens: int) -> list[list[Any]]:
    import ray
    from ray import serve

    from octopack.ray_jobs.serve.app import start
    from octopack.ray_jobs.serve.settings import ServeSettings

    settings = ServeSettings(model=path, port=free_port(), http_port=free_port(), device="cpu",
                             max_batch_size=32, replica_cpus=1)
    start(settings)
    rows = []
    try:
        for level in levels:
            with PeakMemory() as mem:
                tps, tokens, batch = asyncio.run(_load(f"127.0.0.1:{settings.port}", level, max(2, level),
                                                       new_tokens))
            rows.append([level, tps, tokens, batch, mem.gib])
    finally:
        serve.shutdown()
        ray.shutdown()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default", help="'default' (SmolLM2-135M), 'tiny' or a folder")
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--baseline-requests", type=int, default=2)
    parser.add_argument("--levels", default="1,8,32")
    parser.add_argument("--ray", action="store_true", help="through Ray Serve's gRPC proxy")
    args = parser.parse_args()

    from octopack.common.logging import setup_logging
    from octopack.models.resolve import resolve_model

    setup_logging()
    if args.model == "tiny":
        import tempfile
        from pathlib import Path

        from octopack.models.tiny import build_tiny_model

        path = str(build_tiny_model(Path(tempfile.mkdtemp()) / "tiny"))
    else:
        path = str(resolve_model(args.model)[0])
    levels = [int(x) for x in args.levels.split(",")]
    with PeakMemory() as mem:
        base_tps, base_tokens = baseline(path, args.new_tokens, args.baseline_requests)
    base_mem = mem.gib
    rows = run_ray(path, levels, args.new_tokens) if args.ray else asyncio.run(run_plain(path, levels, args.new_tokens))
    # The baseline again after the service runs: on a shared machine the load drifts, so the
    # comparison uses the faster of the two baseline runs (the conservative ratio).
    with PeakMemory() as mem:
        again, again_tokens = baseline(path, args.new_tokens, args.baseline_requests)
    if again > base_tps:
        base_tps, base_tokens, base_mem = again, again_tokens, max(base_mem, mem.gib)
    print(f"\nmodel {args.model}, {args.new_tokens} new tokens, temperature 0.2, top_p 0.95, CPU "
          f"({'Ray Serve gRPC' if args.ray else 'plain gRPC server'})")
    out = [["HF generate, 1 at a time", 1, base_tps, int(base_tokens), 1, base_mem, 1.0]]
    for level, tps, tokens, batch, gib in rows:
        out.append(["octopack service", level, tps, tokens, batch, gib, tps / base_tps])
    print(table(["path", "concurrency", "tokens/s", "tokens", "max batch", "peak RSS GiB", "x baseline"], out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
