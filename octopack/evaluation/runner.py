"""Orchestration: prompts -> generations -> programs -> executor -> pass@k.

:func:`evaluate` is the library entry point. Any :class:`~octopack.evaluation.sources.Generator`
plugs in: a samples file, the reference solutions, or a model behind an inference
service. Programs go to an executor through :class:`ExecutorClient`, local or remote.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence

from octopack.common.errors import FailedPrecondition, InvalidArgument
from octopack.common.vocabulary import executor_language
from octopack.evaluation.dataset import Problem, load_problems
from octopack.evaluation.executor_client import ExecutorClient
from octopack.evaluation.postprocess import (
    postprocess_code,
    postprocess_description,
    raw_code,
    stop_sequences,
)
from octopack.evaluation.programs import SCORINGS, Scoring, assemble_programs, check_scoring
from octopack.evaluation.prompts import PromptFormat, Task, code_prompt, describe_prompt
from octopack.evaluation.results import (
    EvaluationResult,
    LanguageResult,
    ProblemResult,
    ScoringComparison,
    Verdict,
    stderr_head,
)
from octopack.evaluation.sources import GenerationParams, GenerationRequest, Generator
from octopack.executor.v1 import executor_pb2

__all__ = [
    "GenerationParams",
    "GenerationRequest",
    "Generator",
    "Sampled",
    "build_programs",
    "check_languages",
    "evaluate",
    "select_problems",
]

ResultCallback = Callable[[executor_pb2.Result], None]


@dataclasses.dataclass(frozen=True)
class Sampled:
    """A problem's generations and the prompt they answer (to strip a repeated prompt)."""

    problem: Problem
    generations: list[str]
    prompts: list[str]


def select_problems(languages: Sequence[str], limit: int | None = None) -> dict[str, list[Problem]]:
    """The first ``limit`` problems of each language (all without a limit)."""
    if limit is not None and limit < 1:
        raise InvalidArgument(f"--limit must be at least 1; got {limit}")
    return {lang: load_problems(lang)[:limit] for lang in languages}


def program_id(task_id: str, sample: int) -> str:
    return f"{task_id}#{sample}"


def _request(
    problem: Problem, task: Task, stage: str, prompt: str, params: GenerationParams
) -> GenerationRequest:
    stop = (*stop_sequences(problem.language), *params.stop)
    return GenerationRequest(problem.task_id, problem.language, task, stage, prompt, stop)  # type: ignore[arg-type]


def _call(
    generator: Generator, requests: list[GenerationRequest], params: GenerationParams
) -> list[list[str]]:
    answers = generator.generate(requests, params)
    if len(answers) != len(requests):
        raise FailedPrecondition(f"the generator answered {len(answers)} of {len(requests)} prompts")
    for request, generations in zip(requests, answers, strict=True):
        if not generations:
            raise FailedPrecondition(f"the generator gave no generation for {request.task_id}")
    return answers


def _generate_code(
    task: Task, problems: list[Problem], generator: Generator, params: GenerationParams, fmt: PromptFormat
) -> list[Sampled]:
    """Generations that are code, for every problem (blocking: run it in a thread)."""
    if task == "explain" and generator.describes:
        # Step 1: n descriptions per problem; step 2: one rewrite per description.
        steps = [describe_prompt(p, fmt).text for p in problems]
        described = _call(
            generator,
            [_request(p, task, "describe", s, params) for p, s in zip(problems, steps, strict=True)],
            params,
        )
        owners: list[Problem] = []
        prompts: list[str] = []
        for problem, step, texts in zip(problems, steps, described, strict=True):
            for text in texts:
                owners.append(problem)
                prompts.append(
                    code_prompt(problem, task, fmt, postprocess_description(problem, text, step)).text
                )
        single = dataclasses.replace(params, n=1)
        rewrites = _call(
            generator,
            [_request(p, task, "code", s, single) for p, s in zip(owners, prompts, strict=True)],
            single,
        )
        by_id: dict[str, Sampled] = {p.task_id: Sampled(p, [], []) for p in problems}
        for problem, prompt, answer in zip(owners, prompts, rewrites, strict=True):
            by_id[problem.task_id].generations.append(answer[0])
            by_id[problem.task_id].prompts.append(prompt)
        return list(by_id.values())
    texts = [code_prompt(p, task, fmt).text for p in problems]
    answers = _call(
        generator,
        [_request(p, task, "code", t, params) for p, t in zip(problems, texts, strict=True)],
        params,
    )
    return [Sampled(p, a, [t] * len(a)) for p, t, a in zip(problems, texts, answers, strict=True)]


def build_programs(
    task: Task, sampled: Sequence[Sampled], raw: bool, scoring: Scoring = "harness"
) -> list[executor_pb2.Program]:
    """One program per generation: code base + (cleaned) generation, then the tests, assembled under ``scoring``."""
    programs = []
    for item in sampled:
        codes = [
            raw_code(item.problem, task, generation) if raw
            else postprocess_code(item.problem, task, generation, prompt)
            for generation, prompt in zip(item.generations, item.prompts, strict=True)
        ]
        ids = [program_id(item.problem.task_id, j) for j in range(len(codes))]
        programs += assemble_programs(item.problem, codes, ids, scoring)
    return programs


def _other_scoring(scoring: Scoring) -> Scoring:
    return next(s for s in SCORINGS if s != scoring)


def _rerun(programs: list[executor_pb2.Program], others: list[executor_pb2.Program]) -> list[executor_pb2.Program]:
    """The other scoring's programs whose text differs from this one's, under ids of their own.

    Blank lines at the end of the code (before the test) do not count: they change no verdict.
    """
    out = []
    for mine, theirs in zip(programs, others, strict=True):
        if (mine.source.rstrip("\n"), mine.test) != (theirs.source.rstrip("\n"), theirs.test):
            rerun = executor_pb2.Program()
            rerun.CopyFrom(theirs)
            rerun.id = theirs.id + "@other"
            out.append(rerun)
    return out


def _verdict(sample: int, result: executor_pb2.Result) -> Verdict:
    status = executor_pb2.Status.Name(result.status).removeprefix("STATUS_").lower()
    stderr = "" if status == "passed" else stderr_head(result.stderr)
    seconds = result.compile_seconds + result.run_seconds
    return Verdict(sample, status, result.exit_code, result.detail, stderr, seconds)


async def check_languages(client: ExecutorClient, languages: Sequence[str]) -> None:
    """Fail early, naming the languages the executor has no toolchain for."""
    caps = await client.capabilities()
    missing = [lang for lang in languages if executor_language(lang) not in caps.languages]
    if missing:
        raise FailedPrecondition(
            f"executor at {client.address} cannot run {', '.join(missing)}: install their toolchains "
            "(scripts/install.sh) or choose other --language values"
        )


async def evaluate(
    task: Task,
    problems: Mapping[str, Sequence[Problem]],
    generator: Generator,
    client: ExecutorClient,
    params: GenerationParams | None = None,
    fmt: PromptFormat = "octocoder",
    source: str = "",
    window: int | None = None,
    on_total: Callable[[int], None] | None = None,
    on_result: ResultCallback | None = None,
    scoring: Scoring = "harness",
    compare: bool = False,
) -> EvaluationResult:
    """Generate, run and score ``task`` on ``problems`` (language -> problems).

    ``scoring`` assembles and judges the programs (``harness``: as bigcode-evaluation-harness;
    ``corrected``: with the project's fixes). With ``compare`` the programs the other scoring
    builds differently run too, and the result lists the problems whose verdicts differ.
    ``on_total`` hears the number of programs once they are built, ``on_result``
    each program's result as it arrives (progress bars).
    """
    params = params or GenerationParams()
    check_scoring(scoring)
    started = time.perf_counter()
    await check_languages(client, list(problems))
    flat = [p for lang in problems for p in problems[lang]]
    sampled = await asyncio.to_thread(_generate_code, task, flat, generator, params, fmt)
    programs = build_programs(task, sampled, generator.raw, scoring)
    other = _other_scoring(scoring)
    reruns = _rerun(programs, build_programs(task, sampled, generator.raw, other)) if compare else []
    if on_total is not None:
        on_total(len(programs) + len(reruns))
    results = await client.execute(programs + reruns, window=window, on_result=on_result)
    by_id = {item.problem.task_id: item for item in sampled}

    def judged(suffix: str) -> dict[str, LanguageResult]:
        languages = {}
        for lang, chosen in problems.items():
            rows = []
            for problem in chosen:
                ids = [program_id(problem.task_id, j) for j in range(len(by_id[problem.task_id].generations))]
                verdicts = tuple(_verdict(j, results[i + suffix] if i + suffix in results else results[i])
                                 for j, i in enumerate(ids))
                rows.append(ProblemResult(problem.task_id, verdicts))
            languages[lang] = LanguageResult(lang, tuple(rows))
        return languages

    languages = judged("")
    comparison = ScoringComparison(other, judged("@other"), len(reruns)) if compare else None
    generation = dataclasses.asdict(params) | {"raw": generator.raw}
    return EvaluationResult(
        task=task,
        source=source,
        prompt_format=fmt,
        languages=languages,
        generation=generation,
        executor=client.address,
        wall_seconds=time.perf_counter() - started,
        scoring=scoring,
        comparison=comparison,
    )
