"""``octopack serve MODEL``: serve a model version over gRPC (Ray Serve locally, or a plain server)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import threading


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="serve a model over gRPC (octopack.inference.v1.InferenceService) and HTTP",
        description="Starts Ray Serve locally with its gRPC proxy (reflection on) and HTTP POST /generate; "
        "settings also come from OCTOPACK_SERVE_* variables.",
    )
    p.add_argument("model", help="'default', a local HF folder or NAME[@vN] in the registry")
    p.add_argument("--host", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="gRPC port (default 9000)")
    p.add_argument("--http-port", type=int, help="HTTP port (default 8000; Ray Serve only)")
    p.add_argument("--max-batch-size", type=int, help="sequences per forward pass (default 32)")
    p.add_argument("--min-replicas", type=int, help="autoscaling minimum (default 1)")
    p.add_argument("--max-replicas", type=int, help="autoscaling maximum (default 1)")
    p.add_argument("--no-ray", action="store_true", help="plain gRPC server in this process (no Ray, no HTTP)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from octopack.ray_jobs.serve.settings import ServeSettings

    overrides = {
        "model": args.model, "host": args.host, "port": args.port, "http_port": args.http_port,
        "max_batch_size": args.max_batch_size, "min_replicas": args.min_replicas,
        "max_replicas": args.max_replicas,
    }
    settings = ServeSettings(**{k: v for k, v in overrides.items() if v is not None})
    console = Console()
    address = f"{settings.host}:{settings.port}"
    hint = (
        f"grpcurl -plaintext -d '{{\"prompts\": [\"def fib(n):\"], \"params\": {{\"max_new_tokens\": 32}}}}' "
        f"{address} octopack.inference.v1.InferenceService/Generate"
    )
    if args.no_ray:
        from octopack.common.server import serve_forever
        from octopack.ray_jobs.serve.server import inference_service

        console.print(f"loading {settings.model} ...")
        service = inference_service(settings)
        console.print(f"serving on {address} (plain gRPC)\n  {hint}")
        asyncio.run(serve_forever(settings, [service]))
        return 0
    from octopack.ray_jobs.serve.app import start

    console.print(f"starting Ray Serve with {settings.model} ...")
    start(settings)
    console.print(f"gRPC {address}, HTTP http://{settings.host}:{settings.http_port}/generate\n  {hint}\n"
                  "Ctrl-C stops.")
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    from ray import serve

    serve.shutdown()
    return 0
