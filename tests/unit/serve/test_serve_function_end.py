"""Stopping at the end of the first function (the harness's check), in the engine and its parameters."""

from __future__ import annotations

import dataclasses

import pytest

from octopack.common.errors import InvalidArgument
from octopack.ray_jobs.serve.engine import GenerationEngine, RowSpec
from octopack.ray_jobs.serve.params import Limits, Sampling, function_complete, validate

pytestmark = pytest.mark.ray


def test_function_complete() -> None:
    assert not function_complete("\n    x = 1\n    return x\n", "indent")
    assert function_complete("\n    return x\nprint(f(1))", "indent")
    assert not function_complete("\n    return x\n\n   \n", "indent")
    assert not function_complete("\n  if (x) {\n    return 1;\n  }\n", "braces:1")
    assert function_complete("\n  if (x) {\n    return 1;\n  }\n}", "braces:1")
    assert not function_complete("\n    return 1;\n  }\n", "braces:2")
    assert function_complete("\n    return 1;\n  }\n}", "braces:2")
    assert not function_complete("}}}", "")


def test_bad_rules_are_refused() -> None:
    for rule in ("brace", "braces:0", "braces:x", "python"):
        with pytest.raises(InvalidArgument, match="stop_at_function_end"):
            validate(["p"], 4, 0.0, 1.0, 1, [], None, Limits(), function_end=rule)
    assert validate(["p"], 4, 0.0, 1.0, 1, [], None, Limits(), function_end="braces:2").sampling.function_end == "braces:2"


def test_the_engine_stops_where_the_rule_says(engine: GenerationEngine) -> None:
    free = Sampling(max_new_tokens=60, temperature=0.0, top_p=1.0, n=1, stop=(), seed=None)
    prompt = engine.encode("def add(a, b):")
    text = engine.generate([RowSpec(prompt, free)])[0].text
    ends = [i for i in range(1, len(text) + 1) if function_complete(text[:i], "indent")]
    if not ends:
        pytest.skip(f"the tiny model wrote no unindented line in 60 tokens: {text!r}")
    stopped = engine.generate([RowSpec(prompt, dataclasses.replace(free, function_end="indent"))])[0]
    # It stops at the token that completed the function: a prefix of the free text, at least to that point.
    assert stopped.finish_reason == "stop" and text.startswith(stopped.text)
    assert len(stopped.text) >= ends[0] and function_complete(stopped.text, "indent")
    assert not function_complete(stopped.text[: ends[0] - 1], "indent")
    assert stopped.num_tokens < 60
