"""``octopack jobs ...``: submit, get, list, cancel and watch jobs; ``octopack stage``: run one stage here.

The helpers (:func:`load_spec`, :func:`follow`, :func:`results_table`) are shared with ``octopack run``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from octopack.common.errors import InvalidArgument, NotFound
from octopack.common.vocabulary import STAGES

STATES = ("pending", "running", "succeeded", "failed", "cancelled")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("jobs", help="submit, get, list, cancel and watch jobs on the controller")
    p.add_argument("--address", default="", help="controller host:port (default: the local stack's)")
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    s = verbs.add_parser("submit", help="submit a job file (YAML) and print the job")
    s.add_argument("file", type=Path)
    s.add_argument("--idempotency-key", default="")
    s.set_defaults(func=submit)
    g = verbs.add_parser("get", help="print one job as JSON")
    g.add_argument("job_id")
    g.set_defaults(func=get)
    ls = verbs.add_parser("list", help="list jobs, newest first")
    ls.add_argument("--state", action="append", choices=STATES, default=[])
    ls.add_argument("--limit", type=int, default=20)
    ls.set_defaults(func=list_jobs)
    c = verbs.add_parser("cancel", help="cancel a job")
    c.add_argument("job_id")
    c.set_defaults(func=cancel)
    w = verbs.add_parser("watch", help="follow a job until it finishes")
    w.add_argument("job_id")
    w.set_defaults(func=watch)
    st = sub.add_parser("stage", help="run one stage of a job in this process (what Kubernetes stage pods run)")
    st.add_argument("stage", choices=STAGES)
    st.add_argument("--job-id", required=True)
    st.add_argument("--payload", required=True, help="JSON: {spec, inputs, attempt}")
    st.set_defaults(func=run_stage)


# -- shared helpers ------------------------------------------------------------------------------
def stub(address: str) -> Any:
    from octopack.common.client import sync_channel
    from octopack.jobs.v1 import jobs_pb2_grpc

    if not address:
        from octopack.stack.stack import Stack

        address = Stack().controller_address()
    return jobs_pb2_grpc.JobServiceStub(sync_channel(address))


def load_spec(path: Path, base: Path | None = None) -> Any:
    """A JobSpec from a YAML job file; relative local repository paths are made absolute."""
    from google.protobuf import json_format

    from octopack.jobs.v1 import jobs_pb2

    if not path.exists():
        raise NotFound(f"job file {path} does not exist")
    doc = yaml.safe_load(path.read_text()) or {}
    if not isinstance(doc, dict):
        raise InvalidArgument(f"{path}: a job file is a mapping with crawl/filter/train/serve/evaluate keys")
    doc = doc.get("spec", doc)
    base = base or Path.cwd()
    repos = (doc.get("crawl") or {}).get("repositories") or []
    for i, repo in enumerate(repos):
        if isinstance(repo, str) and "://" not in repo and not repo.startswith("git@"):
            repos[i] = str((base / repo).resolve())
    try:
        return json_format.ParseDict(doc, jobs_pb2.JobSpec())
    except json_format.ParseError as exc:
        raise InvalidArgument(f"{path}: {exc}") from exc


def _rpc(call: Any, request: Any) -> Any:
    import grpc

    from octopack.common.client import error_from_rpc

    try:
        return call(request)
    except grpc.RpcError as exc:
        raise error_from_rpc(exc, "controller") from exc


def to_json(message: Any) -> str:
    from google.protobuf import json_format

    return json_format.MessageToJson(message, indent=2)


def state_name(state: int) -> str:
    from octopack.jobs.v1 import jobs_pb2

    return jobs_pb2.State.Name(state).removeprefix("STATE_").lower()  # type: ignore[arg-type]


def stage_label(kind: int) -> str:
    from octopack.jobs.v1 import jobs_pb2

    return jobs_pb2.StageKind.Name(kind).removeprefix("STAGE_KIND_").lower()  # type: ignore[arg-type]


def follow(client: Any, job_id: str, console: Any = None) -> Any:
    """Stream WatchJob with a live rich view of the stages; return the final job."""
    from rich.console import Console
    from rich.live import Live
    from rich.table import Table

    from octopack.jobs.v1 import jobs_pb2

    console = console or Console()

    def view(job: Any) -> Table:
        table = Table(title=f"{job.id} {job.spec.name} [{state_name(job.state)}]", expand=False)
        for col in ("stage", "state", "attempts", "progress", "message"):
            table.add_column(col)
        for st in job.stages:
            bar = "█" * int(st.progress * 20) + "·" * (20 - int(st.progress * 20))
            table.add_row(stage_label(st.kind), state_name(st.state), str(st.attempts), bar, st.message[:80])
        return table

    job = None
    with Live(console=console, refresh_per_second=4, transient=False) as live:
        for event in client.WatchJob(jobs_pb2.WatchJobRequest(job_id=job_id)):
            job = event.job
            live.update(view(job))
    console.print()
    return job


def results_table(job: Any) -> Any:
    """The pass@1 table of the job's evaluate stage (None if it has none)."""
    from rich.table import Table

    from octopack.jobs.v1 import jobs_pb2

    for st in job.stages:
        if st.kind == jobs_pb2.STAGE_KIND_EVALUATE and st.outputs.HasField("evaluation"):
            ev = st.outputs.evaluation
            table = Table(title=f"HumanEvalPack {ev.task or 'synthesize'}: pass@1")
            for col in ("language", "problems", "passed", "pass@1 %"):
                table.add_column(col, justify="right")
            for score in ev.scores:
                table.add_row(score.language, str(score.problems), str(score.passed), f"{100 * score.pass_at_1:.1f}")
            table.add_row("average", "", "", f"{100 * ev.average_pass_at_1:.1f}")
            return table
    return None


# -- commands ------------------------------------------------------------------------------------
def submit(args: argparse.Namespace) -> int:
    from octopack.jobs.v1 import jobs_pb2

    spec = load_spec(args.file)
    reply = _rpc(stub(args.address).SubmitJob, jobs_pb2.SubmitJobRequest(spec=spec, idempotency_key=args.idempotency_key))
    print(to_json(reply.job))
    return 0


def get(args: argparse.Namespace) -> int:
    from octopack.jobs.v1 import jobs_pb2

    print(to_json(_rpc(stub(args.address).GetJob, jobs_pb2.GetJobRequest(job_id=args.job_id)).job))
    return 0


def list_jobs(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from octopack.jobs.v1 import jobs_pb2

    states = [jobs_pb2.State.Value(f"STATE_{s.upper()}") for s in args.state]
    reply = _rpc(stub(args.address).ListJobs, jobs_pb2.ListJobsRequest(states=states, page_size=args.limit))
    table = Table("id", "name", "state", "stages", "created")
    for job in reply.jobs:
        stages = " ".join(f"{stage_label(s.kind)}:{state_name(s.state)}" for s in job.stages)
        table.add_row(job.id, job.spec.name, state_name(job.state), stages, job.create_time.ToJsonString())
    Console().print(table)
    return 0


def cancel(args: argparse.Namespace) -> int:
    from octopack.jobs.v1 import jobs_pb2

    job = _rpc(stub(args.address).CancelJob, jobs_pb2.CancelJobRequest(job_id=args.job_id)).job
    print(f"{job.id}: {state_name(job.state)}")
    return 0


def watch(args: argparse.Namespace) -> int:
    from rich.console import Console

    from octopack.jobs.v1 import jobs_pb2

    console = Console()
    job = follow(stub(args.address), args.job_id, console)
    table = results_table(job)
    if table is not None:
        console.print(table)
    return 0 if job is not None and job.state == jobs_pb2.STATE_SUCCEEDED else 1


def run_stage(args: argparse.Namespace) -> int:
    """Run one stage with the local backend and store its outputs where the controller reads them."""
    from octopack.services.controller.stage_main import run_stage_here

    outputs = run_stage_here(args.stage, args.job_id, json.loads(args.payload))
    sys.stdout.write(to_json(outputs) + "\n")
    return 0
