"""``octopack eval``: score generations on HumanEvalPack (Synthesize, Fix, Explain)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from octopack.common.vocabulary import LANGUAGES

if TYPE_CHECKING:
    from octopack.evaluation.dataset import Problem
    from octopack.evaluation.results import EvaluationResult
    from octopack.evaluation.sources import GenerationParams, Generator

log = logging.getLogger(__name__)
LANGUAGE_CHOICES = (*LANGUAGES, "all")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="score generations on HumanEvalPack and write results.json and a pass@1 chart",
        description="Runs every generation against its problem's tests in an executor and reports pass@k.",
    )
    p.add_argument("--task", required=True, choices=("synthesize", "fix", "explain"))
    p.add_argument(
        "--language", action="append", choices=LANGUAGE_CHOICES, help="repeat for several; 'all' for all six"
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--samples", type=Path, metavar="FILE.jsonl", help='lines of {"task_id", "generations"}'
    )
    source.add_argument(
        "--reference", choices=("canonical", "buggy"), help="score the dataset's own solutions"
    )
    source.add_argument(
        "--model", metavar="HOST:PORT", help="generate with a served model (octopack serve) and score it"
    )
    p.add_argument(
        "--raw", action="store_true", help="samples are finished bodies: skip the stop/function cut"
    )
    p.add_argument("--prompt-format", default="octocoder", choices=("octocoder", "completion"))
    p.add_argument(
        "--scoring", default="harness", choices=("harness", "corrected"),
        help="harness: assemble and judge as bigcode-evaluation-harness (default, comparable with published "
        "scores); corrected: with the project's fixes (docs/evaluation.md)",
    )
    p.add_argument(
        "--compare-semantics", action="store_true",
        help="also judge under the other scoring and list the problems whose verdicts differ",
    )
    p.add_argument("--limit", type=int, metavar="N", help="first N problems per language")
    p.add_argument(
        "--executor", metavar="HOST:PORT", help="a running executor (default: start one in-process)"
    )
    p.add_argument("--token", help="bearer token of the executor")
    p.add_argument(
        "--connect-timeout", type=float, default=10.0, metavar="S", help="seconds to wait for the executor"
    )
    p.add_argument(
        "--concurrency", type=int, metavar="N", help="programs in flight (default: 2 x executor's)"
    )
    p.add_argument("--n", type=int, default=1, help="samples per problem with --model (paper: 20)")
    p.add_argument("--temperature", type=float, default=0.2, help="sampling temperature with --model")
    p.add_argument("--top-p", type=float, default=0.95, help="nucleus sampling with --model")
    p.add_argument("--max-new-tokens", type=int, default=512, help="generated tokens per sample with --model")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG chart")
    p.add_argument("--out", type=Path, required=True, metavar="DIR")
    p.set_defaults(func=run)


def _generator(args: argparse.Namespace, problems: dict[str, list[Problem]]) -> tuple[Generator, str]:
    """The source of generations the arguments name, and how results.json calls it."""
    from octopack.evaluation.sources import ReferenceGenerator, SamplesGenerator, read_samples

    if args.samples is not None:
        return SamplesGenerator(read_samples(args.samples), raw=args.raw), f"samples {args.samples.name}"
    if args.model is not None:
        from octopack.evaluation.model_generator import ModelGenerator

        return ModelGenerator(args.model), f"model at {args.model}"
    flat = [p for ps in problems.values() for p in ps]
    return ReferenceGenerator(flat, args.reference), f"{args.reference} reference"


def _params(args: argparse.Namespace) -> GenerationParams:
    from octopack.evaluation.sources import GenerationParams

    return GenerationParams(
        n=args.n, temperature=args.temperature, top_p=args.top_p, max_new_tokens=args.max_new_tokens
    )


@contextlib.asynccontextmanager
async def executor_at(address: str | None) -> AsyncIterator[str]:
    """``address`` as given, or an in-process executor on a free loopback port while the block runs.

    Either way the evaluation then talks gRPC to the address it gets: one code path.
    """
    if address:
        yield address
        return
    from octopack.common.server import start_server
    from octopack.services.executor.server import executor_service
    from octopack.services.executor.settings import ExecutorSettings

    settings = ExecutorSettings(host="127.0.0.1", port=0, metrics_port=0)
    running = await start_server(settings, [executor_service(settings)])
    log.info("started an in-process executor on %s", running.address)
    try:
        yield running.address
    finally:
        await running.stop(grace=1.0)


async def _evaluate(args: argparse.Namespace, languages: list[str]) -> EvaluationResult:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from octopack.evaluation.executor_client import ExecutorClient
    from octopack.evaluation.runner import evaluate, select_problems

    problems = select_problems(languages, args.limit)
    generator, source = _generator(args, problems)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns) as progress:
        bar = progress.add_task(f"{args.task}: generating", total=None)
        async with (
            executor_at(args.executor) as address,
            ExecutorClient(address, args.token, connect_timeout=args.connect_timeout) as client,
        ):
            return await evaluate(
                args.task,
                problems,
                generator,
                client,
                fmt=args.prompt_format,
                source=source,
                params=_params(args),
                window=args.concurrency,
                on_total=lambda n: progress.update(bar, total=n, description=f"{args.task}: running"),
                on_result=lambda _r: progress.advance(bar),
                scoring=args.scoring,
                compare=args.compare_semantics,
            )


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from octopack.common.errors import InvalidArgument
    from octopack.evaluation.results import plot_pass_at_1, results_table, write_results
    from octopack.evaluation.sources import all_languages

    chosen = args.language or ["all"]
    languages = list(all_languages()) if "all" in chosen else list(dict.fromkeys(chosen))
    if args.raw and args.samples is None:
        raise InvalidArgument("--raw applies to --samples only (references are always raw)")
    if args.concurrency is not None and args.concurrency < 1:
        raise InvalidArgument(f"--concurrency must be at least 1; got {args.concurrency}")
    result = asyncio.run(_evaluate(args, languages))
    console = Console()
    console.print(results_table(result))
    path = write_results(result, args.out)
    console.print(f"results: {path}  ({result.wall_seconds:.1f} s)")
    if not args.no_plot:
        console.print(f"chart: {plot_pass_at_1(result, args.out)}")
    return 0
