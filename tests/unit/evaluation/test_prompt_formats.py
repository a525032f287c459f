"""The prompt formats for instruction-tuned models, and the promise that the original two never change."""

from __future__ import annotations

import hashlib

import pytest

from octopack.common.errors import InvalidArgument
from octopack.common.vocabulary import LANGUAGES
from octopack.evaluation.dataset import load_problems
from octopack.evaluation.prompts import (
    FORMAT_STOPS,
    FORMATS,
    check_format,
    code_prompt,
    describe_prompt,
    explain_prompt,
    fix_prompt,
    question,
    render,
)
from octopack.evaluation.runner import _request
from octopack.evaluation.sources import GenerationParams

#: sha256 over every prompt (Synthesize, Fix, Explain's two steps; 6 x 164 problems) of the formats
#: whose prompts the golden tests in test_prompts.py tie to the reference harness. Any change to them
#: changes these digests.
UNCHANGED = {
    "octocoder": "a07c44cb18ae679b80e1da0feb6a3857105c29c1579ed9c7d368cba8afd50a69",
    "completion": "c35ff9524d30c08c480b8274c58f7ce337cd941346c16e54cc908f3222ab0c28",
}

STRLEN = next(p for p in load_problems("python") if p.task_id == "Python/23")
QUESTION = (
    "Write a Python function `strlen(string: str) -> int` to solve the following problem:\n"
    "Return length of given string\n>>> strlen('')\n0\n>>> strlen('abc')\n3"
)
BASE = '\n\ndef strlen(string: str) -> int:\n    """ Return length of given string\n    >>> strlen(\'\')\n    0\n    >>> strlen(\'abc\')\n    3\n    """'


@pytest.mark.parametrize("fmt", sorted(UNCHANGED))
def test_the_original_formats_are_byte_identical(fmt: str) -> None:
    digest = hashlib.sha256()
    for lang in LANGUAGES:
        for p in load_problems(lang):
            for task in ("synthesize", "fix"):
                digest.update(code_prompt(p, task, fmt).text.encode() + b"\0")  # type: ignore[arg-type]
            digest.update(describe_prompt(p, fmt).text.encode() + b"\0")  # type: ignore[arg-type]
            digest.update(explain_prompt(p, "A description.", fmt).text.encode() + b"\0")  # type: ignore[arg-type]
    assert digest.hexdigest() == UNCHANGED[fmt]


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("wizardcoder", "Below is an instruction that describes a task. Write a response that appropriately "
                        f"completes the request.\n\n### Instruction:\n{QUESTION}\n\n### Response:\n{BASE}"),
        ("instructcodet5p", "Below is an instruction that describes a task. Write a response that appropriately "
                            f"completes the request.\n\n### Instruction:\n{QUESTION}\n\n### Response:{BASE}"),
        ("codellama", f"[INST] {QUESTION} [/INST] {BASE}"),
        ("yi", f"<|im_start|>user\n{QUESTION}<|im_end|>\n<|im_start|>assistant\n{BASE}"),
        ("starchat", f"<|system|>\n<|end|>\n<|user|>\n{QUESTION}<|end|>\n<|assistant|>\n{BASE}"),
        ("tulu", f"<|user|>\n{QUESTION}\n<|assistant|>\n{BASE}"),
        ("zephyr", f"<|user|>\n{QUESTION}</s>\n<|assistant|>\n{BASE}"),
        ("aurora-m", f"### Instruction:\n{QUESTION}\n### Response:\n{BASE}"),
        ("instruct", f"{QUESTION}\n\n{BASE}"),
        ("chat", f"{QUESTION}\n\n{BASE}"),
    ],
)
def test_synthesize_prompt_of_each_format(fmt: str, expected: str) -> None:
    assert code_prompt(STRLEN, "synthesize", fmt).text == expected.strip()  # type: ignore[arg-type]


def test_context_order_and_stripping() -> None:
    assert question("Fix it.", "CODE", "instruct") == "CODE\nFix it."
    assert question("Fix it.", "CODE", "wizardcoder") == "Fix it.\nCODE"
    assert question("Fix it.", None, "instruct") == "Fix it."
    # octogeex and codellama strip the question (a trailing newline of the context goes away).
    assert render("Fix it.", "CODE\n", "BASE", "octogeex") == "Question: Fix it.\nCODE\n\nAnswer:\nBASE"
    assert render("Fix it.", "CODE\n", "BASE", "octocoder") == "Question: Fix it.\nCODE\n\n\nAnswer:\nBASE"
    fix = fix_prompt(STRLEN, "codellama")
    assert fix.text.startswith("[INST] Fix bugs in strlen.\ndef strlen(string: str) -> int:\n    return len(string) - 1")
    assert fix.text.endswith("check(strlen) [/INST] def strlen(string: str) -> int:")


def test_every_format_renders_every_task() -> None:
    for fmt in FORMATS:
        for lang in LANGUAGES:
            problem = load_problems(lang)[0]
            for task in ("synthesize", "fix", "explain"):
                text = code_prompt(problem, task, fmt, description="Does things.").text  # type: ignore[arg-type]
                assert text == text.strip() and problem.entry_point.lower()[:3] in text.lower()


def test_format_stops_and_chat_turns_reach_the_request() -> None:
    params = GenerationParams()
    starchat = _request(STRLEN, "synthesize", "code", code_prompt(STRLEN, "synthesize", "starchat"), params, "starchat")
    assert FORMAT_STOPS["starchat"][0] in starchat.stop and starchat.chat is None
    chat = _request(STRLEN, "synthesize", "code", code_prompt(STRLEN, "synthesize", "chat"), params, "chat")
    assert chat.chat is not None and chat.chat.user == QUESTION and chat.chat.prefix == STRLEN.prompt
    assert chat.entry_point == "strlen"


def test_unknown_format() -> None:
    with pytest.raises(InvalidArgument, match="prompt format must be one of octocoder"):
        check_format("alpaca")
    with pytest.raises(InvalidArgument):
        render("x", None, "y", "alpaca")  # type: ignore[arg-type]


def test_the_docs_show_what_each_format_renders() -> None:
    import re
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[3] / "docs" / "evaluation.md").read_text()
    section = docs.split("The other formats, each shown for", 1)[1].split("\n## ", 1)[0]
    shown = dict(re.findall(r"^`([a-z0-9-]+)`[^\n]*:\n\n```\n(.*?)\n```", section, re.S | re.M))
    assert set(shown) == set(FORMATS) - {"chat"}
    for fmt, text in shown.items():
        assert text == render("Write a Python function `inc(x)` that returns x + 1.", None, "def inc(x):\n", fmt), fmt
