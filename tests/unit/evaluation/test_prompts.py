"""Prompts of Synthesize, Fix and Explain, exactly as the reference harness builds them."""

from __future__ import annotations

import pytest

from octopack.common.errors import InvalidArgument
from octopack.common.vocabulary import DISPLAY_NAMES, LANGUAGES
from octopack.evaluation.dataset import Problem, load_problems
from octopack.evaluation.prompts import (
    check_task,
    code_base,
    code_prompt,
    describe_prompt,
    explain_prompt,
    fix_prompt,
    prompt_base,
    render,
    synthesize_prompt,
)

# Golden prompts of Python/0 (has_close_elements), written out in full.
FIX_PYTHON_0 = (
    "Question: Fix bugs in has_close_elements.\n"
    "from typing import List\n"
    "\n"
    "\n"
    "def has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
    "    for idx, elem in enumerate(numbers):\n"
    "        for idx2, elem2 in enumerate(numbers):\n"
    "            if idx != idx2:\n"
    "                distance = elem - elem2\n"
    "                if distance < threshold:\n"
    "                    return True\n"
    "\n"
    "    return False\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "def check(has_close_elements):\n"
    "    assert has_close_elements([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3) == True\n"
    "    assert has_close_elements([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.05) == False\n"
    "    assert has_close_elements([1.0, 2.0, 5.9, 4.0, 5.0], 0.95) == True\n"
    "    assert has_close_elements([1.0, 2.0, 5.9, 4.0, 5.0], 0.8) == False\n"
    "    assert has_close_elements([1.0, 2.0, 3.0, 4.0, 5.0, 2.0], 0.1) == True\n"
    "    assert has_close_elements([1.1, 2.2, 3.1, 4.1, 5.1], 1.0) == True\n"
    "    assert has_close_elements([1.1, 2.2, 3.1, 4.1, 5.1], 0.5) == False\n"
    "\n"
    "check(has_close_elements)\n"
    "\n"
    "Answer:\n"
    "from typing import List\n"
    "\n"
    "\n"
    "def has_close_elements(numbers: List[float], threshold: float) -> bool:"
)
SYNTHESIZE_PYTHON_0 = (
    "Question: Write a Python function `has_close_elements(numbers: List[float], threshold: float) -> bool` to solve the following problem:\n"
    "Check if in given list of numbers, are any two numbers closer to each other than\n"
    "given threshold.\n"
    ">>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n"
    "False\n"
    ">>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n"
    "True\n"
    "\n"
    "Answer:\n"
    "from typing import List\n"
    "\n"
    "\n"
    "def has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
    '    """ Check if in given list of numbers, are any two numbers closer to each other than\n'
    "    given threshold.\n"
    "    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n"
    "    False\n"
    "    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n"
    "    True\n"
    '    """'
)
DESCRIBE_PYTHON_0 = (
    "Question: Provide a concise natural language description of the code using at most 213 characters.\n"
    "from typing import List\n"
    "\n"
    "\n"
    "def has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
    "    for idx, elem in enumerate(numbers):\n"
    "        for idx2, elem2 in enumerate(numbers):\n"
    "            if idx != idx2:\n"
    "                distance = abs(elem - elem2)\n"
    "                if distance < threshold:\n"
    "                    return True\n"
    "\n"
    "    return False\n"
    "\n"
    "\n"
    "Answer:"
)
EXPLAIN_PYTHON_0 = (
    "Question: Write functional code in Python according to the description.\n"
    "Returns whether two numbers are close.\n"
    "\n"
    "Answer:\n"
    "from typing import List\n"
    "\n"
    "\n"
    "def has_close_elements(numbers: List[float], threshold: float) -> bool:"
)


@pytest.fixture(scope="module")
def python0() -> Problem:
    return load_problems("python")[0]


def first(language: str) -> Problem:
    return load_problems(language)[0]


def test_exact_octocoder_prompts_of_python_0(python0: Problem) -> None:
    assert fix_prompt(python0).text == FIX_PYTHON_0
    assert synthesize_prompt(python0).text == SYNTHESIZE_PYTHON_0
    assert describe_prompt(python0).text == DESCRIBE_PYTHON_0
    assert explain_prompt(python0, "Returns whether two numbers are close.").text == EXPLAIN_PYTHON_0


def test_describe_limit_is_the_docstring_length(python0: Problem) -> None:
    assert len(python0.docstring) == 213
    assert "using at most 213 characters." in describe_prompt(python0).instruction


def test_fix_parts(python0: Problem) -> None:
    prompt = fix_prompt(python0)
    assert prompt.instruction == "Fix bugs in has_close_elements."
    assert prompt.context == python0.declaration + python0.buggy_solution + "\n" + python0.test
    assert prompt.prompt_base == python0.declaration


@pytest.mark.parametrize(
    ("language", "name"),
    [
        ("python", "Python"),
        ("js", "JavaScript"),
        ("java", "Java"),
        ("go", "Go"),
        ("cpp", "C++"),
        ("rust", "Rust"),
    ],
)
def test_explain_names_the_language(language: str, name: str) -> None:
    assert DISPLAY_NAMES[language] == name
    prompt = explain_prompt(first(language), "desc")
    assert prompt.text.startswith(
        f"Question: Write functional code in {name} according to the description.\ndesc\n"
    )


def test_rust_declaration_base_carries_a_main_function() -> None:
    problem = first("rust")
    assert prompt_base(problem, "fix") == "fn main(){}\n" + problem.declaration
    assert prompt_base(problem, "explain").startswith("fn main(){}\n")
    # Synthesize uses the prompt, which already starts with a main function.
    assert prompt_base(problem, "synthesize") == problem.prompt
    assert problem.prompt.startswith("fn main(){}")
    assert fix_prompt(problem).context.startswith("fn main(){}\n")  # type: ignore[union-attr]


def test_go_synthesize_prompt_keeps_the_import_block() -> None:
    problem = first("go")
    text = synthesize_prompt(problem).text
    assert text.endswith(
        'Answer:\nimport (\n    "math"\n)\n\n' + problem.prompt[len('import (\n    "math"\n)\n\n') :].strip()
    )
    assert text.endswith("func HasCloseElements(numbers []float64, threshold float64) bool {")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("task", ["synthesize", "fix", "explain"])
def test_every_prompt_ends_with_its_stripped_base(language: str, task: str) -> None:
    for problem in load_problems(language):
        prompt = code_prompt(problem, check_task(task), description="d")
        assert prompt.text.startswith("Question: ")
        assert prompt.text == prompt.text.strip()
        assert prompt.text.endswith("\n\nAnswer:\n" + prompt.prompt_base.rstrip())


def test_code_base_is_the_declaration_for_fix_and_the_prompt_otherwise() -> None:
    problem = first("go")
    assert code_base(problem, "fix") == problem.declaration
    assert code_base(problem, "synthesize") == problem.prompt
    assert code_base(problem, "explain") == problem.prompt


def test_completion_format(python0: Problem) -> None:
    assert synthesize_prompt(python0, "completion").text == python0.prompt.strip()
    fix = fix_prompt(python0, "completion")
    assert fix.text == (fix.context + "\nFix bugs in has_close_elements.\n\n" + python0.declaration).strip()  # type: ignore[operator]


def test_unknown_task_and_format_are_rejected() -> None:
    with pytest.raises(InvalidArgument, match="task must be one of synthesize, fix, explain"):
        check_task("translate")
    with pytest.raises(InvalidArgument, match="prompt format"):
        render("i", None, "b", "chatml")  # type: ignore[arg-type]
