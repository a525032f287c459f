"""Turn a model's raw continuation into the code that is run.

Two cuts, as in the reference harness: first at the earliest stop sequence of the
language (the end-of-text token always stops), then after the first complete function:
for Python at the first non-empty line that is not indented, for the brace languages
where the braces opened by the prompt base are balanced again. The prompt base
(declaration or prompt) is right-stripped and the cut continuation appended to it,
mirroring the stripped prompt the model continued.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from octopack.evaluation.prompts import Task, code_base

if TYPE_CHECKING:
    from octopack.evaluation.dataset import Problem

END_OF_TEXT = "<|endoftext|>"

#: Stop sequences per language (from CodeGeeX, as the reference harness uses them).
STOP_SEQUENCES: dict[str, tuple[str, ...]] = {
    "python": ("\nclass", "\ndef", "\n#", "\n@", "\nprint", "\nif", "\nassert"),
    "js": (),
    "java": (),
    "go": ("\n//", "\nfunc main(", "struct", "\nfunc"),
    "cpp": (),
    "rust": (),
}

#: Braces already open when the continuation starts: the function's, and for Java its class's.
_OPEN_BRACES = {"java": 2, "js": 1, "go": 1, "cpp": 1, "rust": 1}


def function_end_rule(language: str) -> str:
    """How a generator stops once the first function is complete (the harness's check; see first_function)."""
    return "indent" if language == "python" else f"braces:{_OPEN_BRACES[language]}"


def stop_sequences(language: str) -> tuple[str, ...]:
    """The language's stop sequences plus the end-of-text token (pass them to a generator too)."""
    return (*STOP_SEQUENCES[language], END_OF_TEXT)


def cut_at_stop(text: str, stops: Sequence[str]) -> str:
    """Cut ``text`` before each stop sequence in turn (so at the earliest one that survives)."""
    for stop in stops:
        at = text.find(stop)
        if at != -1:
            text = text[:at]
    return text


def _first_python_function(code: str) -> str:
    lines = code.split("\n")
    for i, line in enumerate(lines):
        if line.strip() and line[0] not in (" ", "\t"):
            return "\n".join(lines[:i])
    return code


def _first_brace_function(code: str, language: str) -> str:
    depth = _OPEN_BRACES[language]
    for i, char in enumerate(code):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        if depth == 0:
            return code[: i + 1]
    # The braces never balanced: keep up to the last closing brace, and for Java drop a
    # main method the model started and close the class if only the method was closed.
    if language == "java":
        main_at = code.find("public static void main")
        if main_at != -1:
            code = code[:main_at] + "}"
        if "}" in code:
            code = code[: code.rfind("}")] + "}"
        if code.count("{") - 1 == code.count("}"):
            code += "\n}"
    elif "}" in code:
        code = code[: code.rfind("}")] + "}"
    return code


def first_function(code: str, language: str) -> str:
    """Keep the first complete function of a continuation (applied after :func:`cut_at_stop`)."""
    if language == "python":
        return _first_python_function(code)
    return _first_brace_function(code, language)


def clean_continuation(generation: str, language: str, prompt: str | None = None) -> str:
    """Stop sequences, then the first function. A generation that repeats the prompt loses it first."""
    if prompt is not None and generation.startswith(prompt):
        generation = generation[len(prompt) :]
    cut = cut_at_stop(generation.rstrip(), stop_sequences(language))
    return first_function(cut, language)


def postprocess_code(problem: Problem, task: Task, generation: str, prompt: str | None = None) -> str:
    """The program's code for one generation: code base (right-stripped) + cleaned continuation."""
    return code_base(problem, task).rstrip() + clean_continuation(generation, problem.language, prompt)


def raw_code(problem: Problem, task: Task, generation: str) -> str:
    """The program's code for a generation that is already a finished body (no cleaning)."""
    return code_base(problem, task) + generation


def postprocess_description(problem: Problem, generation: str, prompt: str | None = None) -> str:
    """Explain, step 1: keep at most len(docstring) characters and remove copied code.

    The description is cut to the docstring's length and at the stop sequences, then
    every line of the canonical solution longer than 20 characters is removed from it,
    so the rewrite step cannot simply copy the code back.
    """
    if prompt is not None and generation.startswith(prompt):
        generation = generation[len(prompt) :]
    text = generation.strip()[: len(problem.docstring)]
    text = cut_at_stop(text, stop_sequences(problem.language)).rstrip()
    for line in problem.canonical_solution.split("\n"):
        line = line.strip()
        if len(line) > 20 and line in text:
            text = text.replace(line, "")
    return text
