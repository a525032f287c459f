"""``octopack service NAME``: run one gRPC service in the foreground."""

from __future__ import annotations

import argparse
import importlib

#: Service name -> module with a ``main()`` that serves until SIGTERM.
SERVICES = {
    "executor": "octopack.services.executor.__main__",
    "datasets": "octopack.services.datasets.__main__",
    "crawler": "octopack.services.crawler.__main__",
    "filter": "octopack.services.filter.__main__",
    "controller": "octopack.services.controller.__main__",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "service", help="run one gRPC service in the foreground (configured by OCTOPACK_* env)"
    )
    p.add_argument("name", choices=sorted(SERVICES))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    importlib.import_module(SERVICES[args.name]).main()
    return 0
