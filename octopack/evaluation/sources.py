"""Where generations come from: the :class:`Generator` protocol and the file and reference sources.

A model served by an inference service, a samples file and the dataset's own
reference solutions all answer the same call, so they feed one scoring path.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from octopack.common.errors import FailedPrecondition, InvalidArgument, NotFound
from octopack.common.vocabulary import LANGUAGES, TASK_ID_PREFIXES
from octopack.evaluation.dataset import Problem, load_problems
from octopack.evaluation.postprocess import function_end_rule

Stage = Literal["describe", "code"]
Reference = Literal["canonical", "buggy"]

@dataclass(frozen=True)
class GenerationParams:
    """Sampling settings (the paper: n=20, temperature 0.2, top_p 0.95)."""

    n: int = 1
    temperature: float = 0.2
    top_p: float = 0.95
    max_new_tokens: int = 512
    #: Extra stop sequences for every request (each request also carries its language's).
    stop: tuple[str, ...] = ()
    #: Stop generating code once its first function is complete, as the reference harness does (the
    #: post-processing would cut there anyway; it saves the tokens after it). Generators that can:
    #: the gRPC endpoint and the in-process model; the OpenAI API has no such field.
    stop_at_function_end: bool = True


@dataclass(frozen=True)
class ChatTurn:
    """A prompt of the ``chat`` format: the question as the user turn, the answer starting with ``prefix``.

    A generator with the model's tokenizer renders ``template(user) + prefix`` and continues it; a
    chat API answers the user turn, and the answer's code is aligned to ``prefix``
    (:func:`octopack.evaluation.chat.continuation`).
    """

    user: str
    prefix: str


@dataclass(frozen=True)
class GenerationRequest:
    """One prompt to answer."""

    task_id: str
    language: str
    task: str
    #: "describe" for Explain's first step, "code" for every answer that is code.
    stage: Stage
    prompt: str
    stop: tuple[str, ...] = ()
    #: Set for the ``chat`` format; ``prompt`` is then only its template-free text.
    chat: ChatTurn | None = None
    #: The function the answer defines (to find it in a chat answer).
    entry_point: str = ""


def function_end(request: GenerationRequest, params: GenerationParams) -> str:
    """The engine's stop rule for ``request`` ("" for descriptions, or when ``params`` turn it off)."""
    if not params.stop_at_function_end or request.stage != "code":
        return ""
    return function_end_rule(request.language)


def longest_first(requests: Sequence[GenerationRequest]) -> list[int]:
    """Indices of ``requests`` by prompt length, longest first.

    Generators submit in this order so a batching engine prefills prompts of similar length
    together (less padding) and the batch ends on the short ones.
    """
    def size(i: int) -> int:
        chat = requests[i].chat
        return len(requests[i].prompt) if chat is None else len(chat.user) + len(chat.prefix)

    return sorted(range(len(requests)), key=lambda i: -size(i))


def fan_out(
    requests: Sequence[GenerationRequest], concurrency: int,
    one: Callable[[GenerationRequest, int], list[str]],
) -> list[list[str]]:
    """``one(request, index)`` for every request, ``concurrency`` at a time, longest prompts first.

    Answers come back in request order; the first failure cancels what has not started.
    """
    with ThreadPoolExecutor(max(1, concurrency)) as pool:
        futures = {i: pool.submit(one, requests[i], i) for i in longest_first(requests)}
        try:
            return [futures[i].result() for i in range(len(requests))]
        except BaseException:
            for future in futures.values():
                future.cancel()
            raise


class Generator(Protocol):
    """Anything that answers prompts with ``params.n`` generations each.

    A generation is the text that continues the prompt (a repeated prompt is removed).
    """

    #: True when generations are finished bodies to append verbatim (no stop/first-function cut).
    raw: bool
    #: True when it can answer "describe" requests (Explain's two-step flow); a source of
    #: finished code answers the code step directly.
    describes: bool

    def generate(self, requests: Sequence[GenerationRequest], params: GenerationParams) -> list[list[str]]:
        """One list of generations per request, in request order."""
        ...


def _only_code(requests: Sequence[GenerationRequest], what: str) -> None:
    if any(r.stage != "code" for r in requests):
        raise FailedPrecondition(
            f"{what} holds code, not descriptions: Explain's describe step needs a model"
        )


class SamplesGenerator:
    """Generations read from a samples file, looked up by task_id."""

    describes = False

    def __init__(self, samples: Mapping[str, list[str]], raw: bool = False) -> None:
        self.samples = samples
        self.raw = raw

    def generate(self, requests: Sequence[GenerationRequest], params: GenerationParams) -> list[list[str]]:
        _only_code(requests, "a samples file")
        missing = [r.task_id for r in requests if r.task_id not in self.samples]
        if missing:
            raise NotFound(
                f"the samples file has no generations for {len(missing)} selected problems "
                f"(first: {missing[0]}): add them, or narrow --language/--limit"
            )
        return [list(self.samples[r.task_id]) for r in requests]


class ReferenceGenerator:
    """Each problem's canonical (or buggy) solution as its one generation."""

    raw = True
    describes = False

    def __init__(self, problems: Sequence[Problem], which: Reference = "canonical") -> None:
        if which not in ("canonical", "buggy"):
            raise InvalidArgument(f"reference must be canonical or buggy; got {which!r}")
        self.which = which
        self._by_id = {p.task_id: p for p in problems}

    def generate(self, requests: Sequence[GenerationRequest], params: GenerationParams) -> list[list[str]]:
        _only_code(requests, f"the {self.which} reference")
        out = []
        for request in requests:
            problem = self._by_id[request.task_id]
            out.append([problem.canonical_solution if self.which == "canonical" else problem.buggy_solution])
        return out


def language_of(task_id: str) -> str:
    """The dataset language of a task_id such as ``CPP/12``."""
    prefix = task_id.split("/", 1)[0]
    if prefix not in TASK_ID_PREFIXES:
        known = ", ".join(f"{p}/N" for p in TASK_ID_PREFIXES)
        raise InvalidArgument(f"unknown task_id {task_id!r}: HumanEvalPack ids look like {known}")
    return TASK_ID_PREFIXES[prefix]


def parse_samples(lines: Sequence[str], source: str = "samples") -> dict[str, list[str]]:
    """Parse JSON lines ``{"task_id": ..., "generations": [str, ...]}`` into task_id -> generations.

    Every error names the line and says what to fix: bad JSON, a missing or mistyped
    field, an id HumanEvalPack does not have, or an id given twice.
    """
    known: dict[str, set[str]] = {}
    samples: dict[str, list[str]] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        try:
            doc = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidArgument(
                f"{where}: not valid JSON ({exc.msg}); write one JSON object per line"
            ) from None
        if not isinstance(doc, dict):
            raise InvalidArgument(f"{where}: expected a JSON object with task_id and generations")
        for key in ("task_id", "generations"):
            if key not in doc:
                raise InvalidArgument(
                    f"{where}: missing field {key!r}; each line needs task_id and generations"
                )
        task_id, generations = doc["task_id"], doc["generations"]
        if not isinstance(task_id, str):
            raise InvalidArgument(f"{where}: task_id must be a string such as 'Python/0'")
        if (
            not isinstance(generations, list)
            or not generations
            or not all(isinstance(g, str) for g in generations)
        ):
            raise InvalidArgument(f"{where}: generations must be a non-empty list of strings")
        language = language_of(task_id)
        if language not in known:
            known[language] = {p.task_id for p in load_problems(language)}
        if task_id not in known[language]:
            raise InvalidArgument(f"{where}: unknown task_id {task_id!r}: HumanEvalPack has no such problem")
        if task_id in samples:
            raise InvalidArgument(
                f"{where}: task_id {task_id!r} appears twice; merge its generations into one line"
            )
        samples[task_id] = generations
    if not samples:
        raise InvalidArgument(f"{source}: no samples; write one JSON object per line")
    return samples


def read_samples(path: Path) -> dict[str, list[str]]:
    """Read a samples file (see :func:`parse_samples`)."""
    if not path.is_file():
        raise NotFound(f"samples file {path} does not exist")
    return parse_samples(path.read_text(encoding="utf-8").splitlines(), str(path))


def all_languages() -> tuple[str, ...]:
    """Every HumanEvalPack language, in the dataset's order."""
    return tuple(LANGUAGES)
