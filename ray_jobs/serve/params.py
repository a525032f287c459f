"""Validated generation requests (domain types; no grpc here).

Zero values mean "the default", as in the proto: max_new_tokens 0 -> the server's
default, top_p 0 -> 1.0, n 0 -> 1, temperature 0 -> greedy. Sample ``j`` of a prompt
with seed ``s`` uses seed ``s + j``, so the n samples differ but are reproducible.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from octopack.common.errors import InvalidArgument

MAX_STOPS = 16
_FUNCTION_END = re.compile(r"indent|braces:[1-9]")
MAX_STOP_CHARS = 256


@dataclass(frozen=True)
class Limits:
    """What one server accepts."""

    default_max_new_tokens: int = 256
    max_new_tokens: int = 2048
    max_prompts: int = 256
    max_n: int = 64
    max_prompt_tokens: int = 4096


@dataclass(frozen=True)
class Sampling:
    max_new_tokens: int
    temperature: float
    top_p: float
    n: int
    stop: tuple[str, ...]
    seed: int | None
    #: "" (off), "indent" or "braces:N": see :func:`function_complete`.
    function_end: str = ""


@dataclass(frozen=True)
class GenerationRequest:
    prompts: tuple[str, ...]
    sampling: Sampling


def validate(
    prompts: Sequence[str],
    max_new_tokens: int,
    temperature: float,
    top_p: float,
    n: int,
    stop: Sequence[str],
    seed: int | None,
    limits: Limits,
    function_end: str = "",
) -> GenerationRequest:
    """Check every field and fill defaults; raise InvalidArgument naming the field and the fix."""
    if not prompts:
        raise InvalidArgument("prompts is empty: send at least one prompt")
    if len(prompts) > limits.max_prompts:
        raise InvalidArgument(f"prompts has {len(prompts)} entries; at most {limits.max_prompts} per request")
    for i, prompt in enumerate(prompts):
        if not prompt:
            raise InvalidArgument(f"prompts[{i}] is empty: every prompt needs text")
    if max_new_tokens < 0:
        raise InvalidArgument("params.max_new_tokens must be >= 0 (0 = server default)")
    if max_new_tokens > limits.max_new_tokens:
        raise InvalidArgument(
            f"params.max_new_tokens={max_new_tokens} is too many: at most {limits.max_new_tokens}"
        )
    if not temperature >= 0 or temperature > 100:  # also rejects NaN
        raise InvalidArgument(f"params.temperature={temperature} must be in [0, 100] (0 = greedy)")
    if not 0 <= top_p <= 1:
        raise InvalidArgument(f"params.top_p={top_p} must be in (0, 1] (0 = 1.0)")
    if n < 0 or n > limits.max_n:
        raise InvalidArgument(f"params.n={n} must be in [0, {limits.max_n}] (0 = 1)")
    if len(stop) > MAX_STOPS:
        raise InvalidArgument(f"params.stop has {len(stop)} strings; at most {MAX_STOPS}")
    for i, s in enumerate(stop):
        if not s or len(s) > MAX_STOP_CHARS:
            raise InvalidArgument(f"params.stop[{i}] must have 1..{MAX_STOP_CHARS} characters")
    if function_end and _FUNCTION_END.fullmatch(function_end) is None:
        raise InvalidArgument(
            f"params.stop_at_function_end={function_end!r} must be empty, 'indent' or 'braces:N' with N in 1..9"
        )
    sampling = Sampling(
        max_new_tokens=max_new_tokens or limits.default_max_new_tokens,
        temperature=float(temperature),
        top_p=float(top_p) or 1.0,
        n=n or 1,
        stop=tuple(stop),
        seed=seed,
        function_end=function_end,
    )
    return GenerationRequest(tuple(prompts), sampling)


def function_complete(text: str, rule: str) -> bool:
    """Whether a continuation holds a complete function under ``rule`` (the harness's check).

    ``indent``: a non-empty line starts without indentation (Python: the function's body ended).
    ``braces:N``: the braces balance, N of them having been open when the continuation started.
    """
    if rule == "indent":
        return any(line.strip() and line[0] not in " \t" for line in text.split("\n"))
    if rule.startswith("braces:"):
        return text.count("{") + int(rule[7:]) <= text.count("}")
    return False
