"""Deploy or delete one job's Ray Serve application (run by the local backend as a child process).

``python -m octopack.services.controller.serve_deploy deploy --app ID --model REF`` starts Serve on
the Ray cluster if needed (gRPC proxy on ``--port``), deploys the app and prints
``{"endpoint": "host:port"}``. Serve applications outlive this process (Serve is detached);
``delete --app ID`` removes one. :func:`app_builder` is the import path RayService uses.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def app_builder(args: dict[str, Any]) -> Any:
    """Serve application builder for ``serveConfigV2`` (keys of ServeSettings)."""
    from octopack.ray_jobs.serve.app import build_app
    from octopack.ray_jobs.serve.settings import ServeSettings

    return build_app(ServeSettings(**args))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m octopack.services.controller.serve_deploy")
    parser.add_argument("action", choices=["deploy", "delete"])
    parser.add_argument("--app", required=True)
    parser.add_argument("--model", default="default")
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--http-port", type=int, default=8000)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)

    from ray import serve

    from octopack.common.logging import setup_logging
    from octopack.ray_jobs.cluster import ensure_ray

    setup_logging()
    ensure_ray()
    if args.action == "delete":
        serve.delete(args.app)
        print(json.dumps({"deleted": args.app}))
        return 0
    from octopack.ray_jobs.serve.app import SERVICER_FUNCTION, build_app
    from octopack.ray_jobs.serve.settings import ServeSettings

    settings = ServeSettings(
        model=args.model, app_name=args.app, host=args.host, port=args.port, http_port=args.http_port,
        default_max_new_tokens=args.max_new_tokens, min_replicas=args.replicas, max_replicas=args.replicas,
    )
    serve.start(
        http_options={"host": args.host, "port": settings.http_port},
        grpc_options={"port": args.port, "grpc_servicer_functions": [SERVICER_FUNCTION]},
    )
    serve.run(build_app(settings), name=args.app, route_prefix=f"/{args.app}")
    print(json.dumps({"endpoint": f"{args.host}:{args.port}", "application": args.app}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
