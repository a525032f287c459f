"""``octopack run [JOB.yaml]``: submit a job to the local stack (starting it if needed) and follow it.

Without a file it runs the default job (``jobs/default.yaml``): crawl this repository's history,
filter, LoRA-finetune the default small model, serve it, evaluate the base model and the tuned
model on the same HumanEvalPack problems in six languages, and print both with the difference.
The run ends with a summary of every stage.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from octopack.common.errors import InvalidArgument, NotFound

#: The default job ships with the source tree (an editable install keeps it next to the package).
DEFAULT_JOB = Path(__file__).resolve().parents[2] / "jobs" / "default.yaml"
#: Problems per language of ``--quick``.
QUICK_LIMIT = 3


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run a job (default: the main job) on the local stack and follow it")
    p.add_argument("job", nargs="?", type=Path, help="job file (YAML); default jobs/default.yaml")
    p.add_argument("--repo", action="append", default=[], help="another repository to crawl (path or URL); repeatable")
    p.add_argument("--repos-file", type=Path, metavar="FILE",
                   help="more repositories to crawl, one path or URL per line (# comments)")
    p.add_argument("--quick", action="store_true",
                   help=f"smoke run: evaluate {QUICK_LIMIT} problems per language instead of the job's limit")
    p.add_argument("--idempotency-key", default="", help="a repeated key returns the first job instead of a new one")
    p.add_argument("--address", default="", help="a controller host:port instead of the local stack")
    p.add_argument("--detach", action="store_true", help="print the job id and return without following")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import time

    from rich.console import Console

    from octopack.cli.jobs import _rpc, follow, load_spec, results_table, state_name, stub
    from octopack.jobs.v1 import jobs_pb2

    console = Console()
    started = time.monotonic()
    path = args.job or DEFAULT_JOB
    if not path.exists():
        raise NotFound(f"job file {path} does not exist")
    spec = load_spec(path)
    repos = [*args.repo, *(read_repos_file(args.repos_file) if args.repos_file else [])]
    if repos:
        if not spec.HasField("crawl"):
            spec.crawl.SetInParent()
        spec.crawl.repositories.extend(load_spec_repos(repos))
    if args.quick and spec.HasField("evaluate"):
        spec.evaluate.limit = QUICK_LIMIT
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
    table = comparison(final) or results_table(final)
    if table is not None:
        console.print(table)
    for line in summary(final):
        console.print(line, highlight=False, soft_wrap=True)
    for st in final.stages:
        if st.state == jobs_pb2.STATE_FAILED:
            console.print(f"[red]{st.message}[/]")
    console.print(f"job {final.id}: {state_name(final.state)} in {time.monotonic() - started:.0f} s")
    return 0 if final.state == jobs_pb2.STATE_SUCCEEDED else 1


def load_spec_repos(repos: list[str]) -> list[str]:
    """Local paths made absolute (the controller may run elsewhere); URLs as they are."""
    out = []
    for repo in repos:
        is_url = "://" in repo or repo.startswith("git@")
        out.append(repo if is_url else str(Path(repo).resolve()))
    return out


def read_repos_file(path: Path) -> list[str]:
    """One repository per line; blank lines and ``#`` comments are skipped."""
    if not path.is_file():
        raise NotFound(f"--repos-file {path} does not exist")
    repos = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
    repos = [r for r in repos if r]
    if not repos:
        raise InvalidArgument(f"--repos-file {path} names no repository (one path or URL per line)")
    return repos


# -- the result and the summary ------------------------------------------------------------------
def _stage(job: Any, kind: int) -> Any:
    return next((st for st in job.stages if st.kind == kind), None)


def comparison(job: Any) -> Any:
    """The base vs tuned table of the evaluate stage (None without a baseline)."""
    from octopack.evaluation.comparison import Score, comparison_table
    from octopack.jobs.v1 import jobs_pb2

    st = _stage(job, jobs_pb2.STAGE_KIND_EVALUATE)
    if st is None or not st.outputs.evaluation.HasField("baseline"):
        return None
    ev = st.outputs.evaluation

    def scores(result: Any) -> list[Score]:
        return [Score(s.language, s.problems, s.passed, s.pass_at_1) for s in result.scores]

    title = f"HumanEvalPack {ev.task or 'synthesize'}: base model vs tuned model, pass@1"
    return comparison_table(scores(ev.baseline), scores(ev), "base", "tuned", title)


def _filter_lines(details: Any) -> list[str]:
    rules = sorted((k, v) for k, v in details.items() if k.startswith("dropped."))
    if not rules:
        return []
    lines = ["  rule                              dropped"]
    for key, value in rules:
        _, number, name = key.split(".", 2)
        lines.append(f"  {number} {name:<30} {value:>7}")
    return lines


def summary(job: Any) -> list[str]:
    """One block per stage: what it read, what it made, and where the results are."""
    from octopack.jobs.v1 import jobs_pb2

    K = jobs_pb2.StageKind
    lines = ["", "[bold]summary[/]"]
    crawl, filt = _stage(job, K.STAGE_KIND_CRAWL), _stage(job, K.STAGE_KIND_FILTER)
    train, serve = _stage(job, K.STAGE_KIND_TRAIN), _stage(job, K.STAGE_KIND_SERVE)
    evaluate = _stage(job, K.STAGE_KIND_EVALUATE)
    crawled = filtered = None
    if crawl is not None:
        repos = list(job.spec.crawl.repositories)
        d = crawl.outputs.details
        crawled = crawl.outputs.datasets[0].samples if crawl.outputs.datasets else 0
        lines.append(f"crawl     {len(repos)} repositories ({', '.join(repos)}): {d.get('commits_seen', '?')} commits "
                     f"seen, {crawled} samples (one-file commits that passed CommitPack's selection)")
        skipped = ", ".join(f"{k.removeprefix('skipped.')} {v}" for k, v in sorted(d.items()) if k.startswith("skipped."))
        if skipped:
            lines.append(f"          skipped: {skipped}")
    if filt is not None:
        d = filt.outputs.details
        filtered = filt.outputs.datasets[0].samples if filt.outputs.datasets else int(d.get("rows_out", 0) or 0)
        lines.append(f"filter    {d.get('rows_in', '?')} samples in, {filtered} kept by the CommitPackFT rules")
        lines.extend(_filter_lines(d))
    if train is not None and train.outputs.HasField("model"):
        d = train.outputs.details
        lines.append(f"train     {d.get('steps', '?')} steps on {d.get('dataset', '?')}: loss {d.get('first_loss', '?')} "
                     f"-> {d.get('final_loss', '?')}; model {train.outputs.model.uri}")
        minimum = job.spec.train.min_samples
        if d.get("dataset_fallback"):
            lines.append(
                f"          [yellow]the filtered data is too small to train on ({filtered} samples, fewer than "
                f"train.minSamples={minimum}): the model trained on the {crawled} crawled samples instead.[/]"
            )
        if d.get("dataset_fallback") or (crawled is not None and crawled < 100):
            lines.append("          [yellow]so few samples cannot teach the model much; add repositories with "
                         "'octopack run --repo URL' (repeatable) or '--repos-file FILE' (one per line).[/]")
    if serve is not None and serve.outputs.endpoint:
        app = serve.outputs.details.get("application", "")
        kept = "kept (serve.keep)" if job.spec.serve.keep else "removed when the job ended (serve.keep keeps it)"
        lines.append(f"serve     gRPC {serve.outputs.endpoint}" + (f", Ray Serve application {app}" if app else "")
                     + f"; {kept}")
    if evaluate is not None and evaluate.outputs.HasField("evaluation"):
        ev = evaluate.outputs.evaluation
        lines.append(f"evaluate  {ev.source}: average pass@1 {100 * ev.average_pass_at_1:.1f}%")
        if ev.HasField("baseline"):
            b = ev.baseline
            diff = 100 * (ev.average_pass_at_1 - b.average_pass_at_1)
            lines.append(f"          baseline {b.source}: {100 * b.average_pass_at_1:.1f}% ({diff:+.1f} points)")
        lines.append(f"results   {ev.results_uri}" + (f"\n          {ev.baseline.results_uri}" if ev.HasField("baseline") else ""))
        if ev.chart_uri:
            lines.append(f"chart     {ev.chart_uri}")
    return lines
