"""``octopack up`` / ``octopack down``: the whole stack as background processes on this machine."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("up", help="start the local stack (S3, Ray, every service, the controller) in the background")
    p.add_argument(
        "--only", default="", help="comma-separated components to start (s3,ray,datasets,crawler,filter,executor,controller)"
    )
    p.set_defaults(func=up)
    d = sub.add_parser("down", help="stop the local stack started by 'octopack up'")
    d.set_defaults(func=down)
    s = sub.add_parser("ps", help="show the local stack's components and their health")
    s.set_defaults(func=status)


def up(args: argparse.Namespace) -> int:
    from rich.console import Console

    from octopack.stack.stack import Stack

    console = Console()
    stack = Stack(say=lambda line: console.print(f"[green]✓[/] {line}"))
    only = [n.strip() for n in args.only.split(",") if n.strip()] or None
    stack.up(only)
    console.print(f"\nstate, pids and logs: {stack.dir}")
    console.print("try:")
    for line in stack.grpcurl_examples():
        console.print(f"  {line}", soft_wrap=True, highlight=False)
    console.print("  octopack run            # the default job; 'octopack down' stops everything", highlight=False)
    env = stack.s3_env()
    if env:
        console.print("the data commands (octopack crawl, filter, datasets, train) run from this directory find the "
                      "S3 settings by themselves ('octopack ps' shows them); elsewhere:")
        console.print("  export " + " ".join(f"{k}={v}" for k, v in env.items()), soft_wrap=True, highlight=False)
    return 0


def down(args: argparse.Namespace) -> int:
    from octopack.stack.stack import Stack

    stopped = Stack().down()
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0


def status(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from octopack.stack import process
    from octopack.stack.discovery import find_stack
    from octopack.stack.stack import Stack

    console = Console()
    stack = Stack()
    table = Table("component", "pid", "address", "state", "log")
    for name, comp in stack.load().items():
        state = "healthy" if process.alive(comp.pid) and stack._healthy(comp) else (
            "running" if process.alive(comp.pid) else "dead")
        table.add_row(name, str(comp.pid), comp.address, state, comp.log)
    console.print(table)
    found = find_stack(stack.settings)
    if found is None:
        console.print(f"no running stack in {stack.dir} ('octopack up' starts one)")
        return 0
    if found.s3:
        import os

        console.print("S3 settings of the data commands (crawl, filter, datasets, train):")
        for key, value in found.s3.items():
            current = os.environ.get(key) or value
            origin = "from the stack" if current == value else "from the environment"
            console.print(f"  {key}={current}  ({origin})", highlight=False, soft_wrap=True)
    console.print("service addresses: " + ", ".join(f"{n} {a}" for n, a in found.addresses.items() if n != "s3"),
                  highlight=False, soft_wrap=True)
    return 0
