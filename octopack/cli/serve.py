"""``octopack serve MODEL``: serve a model version over gRPC and HTTP (Ray Serve locally, or plain servers).

HTTP has the OpenAI-compatible API (``/v1/completions``, ``/v1/chat/completions``, ``/v1/models``)
beside ``POST /generate``; ``--no-ray`` runs the gRPC server and the HTTP server (uvicorn) in this
process over one loaded model.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from octopack.ray_jobs.serve.settings import ServeSettings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="serve a model over gRPC (octopack.inference.v1.InferenceService) and HTTP (OpenAI API)",
        description="Starts Ray Serve locally with its gRPC proxy (reflection on) and HTTP: the OpenAI-compatible "
        "API (/v1/completions, /v1/chat/completions, /v1/models), POST /generate and GET /stats; "
        "settings also come from OCTOPACK_SERVE_* variables.",
    )
    p.add_argument("model", help="'default', a local HF folder or NAME[@vN] in the registry")
    p.add_argument("--host", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="gRPC port (default 9000)")
    p.add_argument("--http-port", type=int, help="HTTP port (default 8000)")
    p.add_argument("--served-name", help="model id of the OpenAI API (default: the resolved model name)")
    p.add_argument("--max-batch-size", type=int, help="sequences per forward pass (default 32)")
    p.add_argument("--min-replicas", type=int, help="autoscaling minimum (default 1)")
    p.add_argument("--max-replicas", type=int, help="autoscaling maximum (default 1)")
    p.add_argument("--no-ray", action="store_true", help="plain gRPC and HTTP servers in this process (no Ray)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from octopack.ray_jobs.serve.settings import ServeSettings

    overrides = {
        "model": args.model, "host": args.host, "port": args.port, "http_port": args.http_port,
        "max_batch_size": args.max_batch_size, "min_replicas": args.min_replicas,
        "max_replicas": args.max_replicas, "served_name": args.served_name,
    }
    settings = ServeSettings(**{k: v for k, v in overrides.items() if v is not None})
    console = Console()
    address = f"{settings.host}:{settings.port}"
    hint = (
        f"grpcurl -plaintext -d '{{\"prompts\": [\"def fib(n):\"], \"params\": {{\"max_new_tokens\": 32}}}}' "
        f"{address} octopack.inference.v1.InferenceService/Generate"
    )
    if args.no_ray:
        console.print(f"loading {settings.model} ...")
        asyncio.run(_serve_plain(settings, console, hint))
        return 0
    from octopack.ray_jobs.serve.app import start

    console.print(f"starting Ray Serve with {settings.model} ...")
    start(settings)
    console.print(f"gRPC {address}\n{_http_lines(settings)}\n  {hint}\nCtrl-C stops.")
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    from ray import serve

    serve.shutdown()
    return 0


def _http_lines(settings: ServeSettings) -> str:
    base = f"http://{settings.host}:{settings.http_port}"
    return (f"OpenAI API {base}/v1 (completions, chat/completions, models); POST {base}/generate\n"
            f"  curl {base}/v1/models")


async def _serve_plain(settings: ServeSettings, console: Any, hint: str) -> None:
    """The gRPC server and the HTTP server over one model, until SIGINT or SIGTERM."""
    import uvicorn

    from octopack.common.server import start_server
    from octopack.ray_jobs.serve.core import InferenceCore
    from octopack.ray_jobs.serve.http import http_app
    from octopack.ray_jobs.serve.server import inference_service
    from octopack.ray_jobs.serve.validation import rules

    core = await asyncio.to_thread(InferenceCore, settings)
    running = await start_server(settings, [inference_service(settings, core)])
    config = uvicorn.Config(http_app(core, rules(settings)), host=settings.host, port=settings.http_port, log_level="warning",
                            lifespan="off")
    http = uvicorn.Server(config)
    task = asyncio.create_task(http.serve())
    while not http.started:
        if task.done():
            await running.stop(0)
            task.result()
            raise OSError(f"the HTTP server could not bind {settings.host}:{settings.http_port}")
        await asyncio.sleep(0.05)
    console.print(f"serving on {running.address} (gRPC)\n{_http_lines(settings)}\n  {hint}")
    # Installed after uvicorn's own handlers, so this loop decides how both servers stop.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    http.should_exit = True
    await task
    await running.stop(settings.grace_seconds)
