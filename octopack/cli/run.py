"""``octopack run [JOB.yaml]``: submit a job to the local stack (starting it if needed) and follow it.

Without a file it runs the default job (``jobs/default.yaml``): crawl this repository's history,
filter, LoRA-finetune the default small model, serve it, evaluate it on HumanEvalPack in six
languages and print the pass@1 table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from octopack.common.errors import NotFound

#: The default job ships with the source tree (an editable install keeps it next to the package).
DEFAULT_JOB = Path(__file__).resolve().parents[2] / "jobs" / "default.yaml"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run a job (default: the main job) on the local stack and follow it")
    p.add_argument("job", nargs="?", type=Path, help="job file (YAML); default jobs/default.yaml")
    p.add_argument("--repo", action="append", default=[], help="another repository to crawl (path or URL)")
    p.add_argument("--idempotency-key", default="", help="a repeated key returns the first job instead of a new one")
    p.add_argument("--address", default="", help="a controller host:port instead of the local stack")
    p.add_argument("--detach", action="store_true", help="print the job id and return without following")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from octopack.cli.jobs import _rpc, follow, load_spec, results_table, state_name, stub
    from octopack.jobs.v1 import jobs_pb2

    console = Console()
    path = args.job or DEFAULT_JOB
    if not path.exists():
        raise NotFound(f"job file {path} does not exist")
    spec = load_spec(path)
    if args.repo:
        if not spec.HasField("crawl"):
            spec.crawl.SetInParent()
        spec.crawl.repositories.extend(load_spec_repos(args.repo))
    address = args.address
    if not address:
        from octopack.stack.stack import Stack

        stack = Stack(say=lambda line: console.print(f"[green]✓[/] {line}"))
        if not stack.healthy("controller"):
            console.print("starting the local stack (octopack up) ...")
            stack.up()
        address = stack.controller_address()
    client = stub(address)
    reply = _rpc(client.SubmitJob, jobs_pb2.SubmitJobRequest(spec=spec, idempotency_key=args.idempotency_key))
    job = reply.job
    console.print(f"job [bold]{job.id}[/] {'submitted' if reply.created else 'already exists'} ({path})")
    if args.detach:
        return 0
    final = follow(client, job.id, console)
    table = results_table(final)
    if table is not None:
        console.print(table)
    for st in final.stages:
        if st.state == jobs_pb2.STATE_FAILED:
            console.print(f"[red]{st.message}[/]")
    console.print(f"job {final.id}: {state_name(final.state)}")
    return 0 if final.state == jobs_pb2.STATE_SUCCEEDED else 1


def load_spec_repos(repos: list[str]) -> list[str]:
    """Local paths made absolute (the controller may run elsewhere); URLs as they are."""
    out = []
    for repo in repos:
        is_url = "://" in repo or repo.startswith("git@")
        out.append(repo if is_url else str(Path(repo).resolve()))
    return out
