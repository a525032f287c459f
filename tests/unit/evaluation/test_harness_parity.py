"""Prompts, post-processing and (under ``harness`` scoring) program files equal the harness's, byte for byte.

Every task, language and problem, against ``tests/oracles/harness.py`` (a transcription of
bigcode-evaluation-harness's ``humanevalpack.py`` that shares no code with the project).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest

from octopack.common.vocabulary import LANGUAGES
from octopack.evaluation.dataset import load_problems
from octopack.evaluation.postprocess import postprocess_code, postprocess_description
from octopack.evaluation.programs import assemble_programs
from octopack.evaluation.prompts import code_prompt, describe_prompt
from tests.oracles import harness

DESCRIPTION = "Return the result the docstring describes, for every input."
#: Text a model may add after its answer: a second function, a main, a stop sequence.
TAILS = {
    "python": ["", "\n\ndef helper(x):\n    return x\n", "\nprint(1)\n<|endoftext|>junk", "\n# done\n"],
    "go": ["", "\n\nfunc Extra() int {\n    return 1\n}\n", "\n// done\nfunc main() {}\n"],
}
BRACES = ["", "\n\nint main() {\n  return 0;\n}\n", "\n}\n}\nextra<|endoftext|>more", "\n}\n\npublic static void main"]


def _docs(language: str) -> list[dict[str, Any]]:
    text = resources.files("octopack.data").joinpath(f"humanevalpack/{language}.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _continuations(doc: dict[str, Any], language: str, task: str) -> list[str]:
    """Plausible generations after the prompt: the canonical and buggy bodies with the model's extra text."""
    base = harness.prompt_base(doc, language, task == "synthesize")
    rest = base[len(base.rstrip()) :]  # the prompt is stripped: the answer starts with what was cut off
    tails = TAILS.get(language, BRACES)
    return [rest + body + tail for body in (doc["canonical_solution"], doc["buggy_solution"]) for tail in tails]


@pytest.mark.parametrize("language", LANGUAGES)
def test_prompts_equal_the_harness(language: str) -> None:
    for problem, doc in zip(load_problems(language), _docs(language), strict=True):
        for task in ("synthesize", "fix"):
            assert code_prompt(problem, task).text == harness.prompt(doc, language, task), (problem.task_id, task)
        assert describe_prompt(problem).text == harness.prompt(doc, language, "describe"), problem.task_id
        assert code_prompt(problem, "explain", description=DESCRIPTION).text == harness.prompt(
            doc, language, "explain", DESCRIPTION), problem.task_id


@pytest.mark.parametrize("language", LANGUAGES)
def test_postprocessing_equals_the_harness(language: str) -> None:
    for problem, doc in zip(load_problems(language), _docs(language), strict=True):
        for task in ("synthesize", "fix", "explain"):
            description = DESCRIPTION if task == "explain" else ""
            text = harness.prompt(doc, language, task, description)
            for continuation in _continuations(doc, language, task):
                ours = postprocess_code(problem, task, continuation, text)
                assert ours == harness.postprocess(doc, language, task, text + continuation, description), (
                    problem.task_id, task, continuation[-60:])
        step = harness.prompt(doc, language, "describe")
        for said in ("  " + doc["docstring"] + " " + doc["canonical_solution"], DESCRIPTION + "<|endoftext|>x"):
            assert postprocess_description(problem, said, step) == harness.postprocess(
                doc, language, "describe", step + said), problem.task_id


@pytest.mark.parametrize("language", LANGUAGES)
def test_harness_scoring_writes_the_harness_program_files(language: str) -> None:
    """Each problem's samples in order (the harness's Go set-up carries over from sample to sample)."""
    for problem, doc in zip(load_problems(language), _docs(language), strict=True):
        for task in ("synthesize", "fix"):
            text = harness.prompt(doc, language, task)
            codes = [harness.postprocess(doc, language, task, text + c) for c in _continuations(doc, language, task)]
            if language == "go":  # a package the prompt does not import, and a second package clause
                codes += [codes[0].replace("{\n", "{\n    _ = rand.Intn(2)\n", 1), "package main\n" + codes[1]]
            ids = [f"{problem.task_id}#{i}" for i in range(len(codes))]
            ours = [p.source + "\n" + p.test for p in assemble_programs(problem, codes, ids, "harness")]
            assert ours == harness.program_files(doc, language, codes), (problem.task_id, task)
