"""``octopack service NAME``: run one gRPC service in the foreground."""

from __future__ import annotations

import argparse
import runpy

from octopack.common.catalog import SERVICES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "service", help="run one gRPC service in the foreground (configured by OCTOPACK_<NAME>_* env)"
    )
    p.add_argument("name", choices=list(SERVICES))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    runpy.run_module(SERVICES[args.name].module, run_name="__main__", alter_sys=True)
    return 0
