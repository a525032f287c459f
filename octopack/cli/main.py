"""The ``octopack`` command-line program.

Each sub-command lives in its own module under :mod:`octopack.cli` and exposes
``register(subparsers)``; modules are discovered, so adding a file adds a command; heavy libraries are imported inside the command, so
``octopack --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import octopack.cli
from octopack.common.errors import OctopackError
from octopack.common.logging import setup_logging


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="octopack",
        description="Instruction-tune code LLMs on Git commits and evaluate them on HumanEvalPack.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    # Every module of this package but this one adds sub-commands through register(subparsers).
    for info in sorted(pkgutil.iter_modules(octopack.cli.__path__), key=lambda m: m.name):
        if info.name != "main" and not info.name.startswith("_"):
            importlib.import_module(f"octopack.cli.{info.name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from octopack.stack.discovery import apply_stack_defaults

    setup_logging()
    # After 'octopack up', every command finds the stack's S3 settings (the environment wins).
    apply_stack_defaults()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except OctopackError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
