"""``octopack eval``: score generations on HumanEvalPack (Synthesize, Fix, Explain)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from octopack.common.errors import InvalidArgument
from octopack.common.vocabulary import LANGUAGES
from octopack.evaluation.prompts import FORMATS

if TYPE_CHECKING:
    from octopack.evaluation.dataset import Problem
    from octopack.evaluation.model_source import ModelSource
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
        "--model", metavar="HOST:PORT|NAME",
        help="generate with a served model: its gRPC HOST:PORT (octopack serve), or with --openai-base-url "
        "the model id",
    )
    source.add_argument(
        "--model-path", metavar="DIR|default|NAME@vN", help="generate with a model loaded in this process (no server)"
    )
    _model_flags(p)
    p.add_argument(
        "--raw", action="store_true", help="samples are finished bodies: skip the stop/function cut"
    )
    p.add_argument("--prompt-format", default="octocoder", choices=FORMATS,
                   help="how prompts are written (docs/evaluation.md); chat: the model's chat template / chat API")
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


def _model_flags(p: argparse.ArgumentParser) -> None:
    """Flags of the model a generating source talks to."""
    p.add_argument("--openai-base-url", metavar="URL",
                   help="an OpenAI-compatible server (vLLM, TGI, llama.cpp, octopack serve: http://HOST:8000/v1); "
                   "needs --model NAME")
    p.add_argument("--api-key-env", metavar="VAR", help="environment variable with the API key (default OPENAI_API_KEY if set)")
    p.add_argument("--application", default="", metavar="NAME",
                   help="the Ray Serve application behind --model HOST:PORT when the proxy serves several")
    p.add_argument("--requests", type=int, default=32, metavar="N",
                   help="requests in flight to the server, or rows per forward pass with --model-path (default 32)")
    p.add_argument("--seed", type=int, help="sampling seed (reproducible samples at temperature > 0)")
    p.add_argument("--chat-prefill", action="store_true",
                   help="chat API: start the answer with the code base (vLLM's continue_final_message)")


def model_source(args: argparse.Namespace) -> ModelSource | None:
    """The model the arguments name (None for --samples and --reference)."""
    from octopack.evaluation.model_source import ModelSource

    if args.openai_base_url and args.model_path:
        raise InvalidArgument("--openai-base-url and --model-path exclude each other: choose one model")
    if args.openai_base_url and not args.model:
        raise InvalidArgument("--openai-base-url needs --model NAME (the id GET /v1/models lists)")
    if args.model is None and args.model_path is None:
        if args.openai_base_url or args.api_key_env or args.application or args.chat_prefill:
            raise InvalidArgument("--openai-base-url, --api-key-env, --application and --chat-prefill need a model "
                                  "(--model or --model-path)")
        return None
    openai = bool(args.openai_base_url)
    source = ModelSource(
        endpoint="" if openai or args.model is None else args.model,
        application=args.application,
        openai_base_url=args.openai_base_url or "",
        model=args.model if openai else "",
        api_key_env=args.api_key_env or "",
        model_path=args.model_path or "",
        concurrency=args.requests,
        seed=args.seed,
        prefill=args.chat_prefill,
    )
    source.check()
    return source


def _generator(args: argparse.Namespace, problems: dict[str, list[Problem]]) -> tuple[Generator, str]:
    """The source of generations the arguments name, and how results.json calls it."""
    from octopack.evaluation.sources import ReferenceGenerator, SamplesGenerator, read_samples

    if args.samples is not None:
        return SamplesGenerator(read_samples(args.samples), raw=args.raw), f"samples {args.samples.name}"
    source = model_source(args)
    if source is not None:
        from octopack.evaluation.model_source import open_generator

        return open_generator(source), source.describe()
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
    with contextlib.ExitStack() as closing, Progress(*columns) as progress:
        if hasattr(generator, "close"):
            closing.callback(generator.close)
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
