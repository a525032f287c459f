"""HumanEvalPack program assembly (pure text, no execution)."""

from __future__ import annotations

import pytest

from octopack.common.errors import InvalidArgument
from octopack.common.vocabulary import LANGUAGES
from octopack.evaluation.dataset import load_problems
from octopack.evaluation.programs import CPP_HEADERS, PYTHON_IMPORTS, RUST_MAIN, build_program, on_prompt
from octopack.executor.v1 import executor_pb2


def problem(language: str, index: int):  # type: ignore[no-untyped-def]
    return load_problems(language)[index]


def test_dataset_has_164_problems_per_language() -> None:
    for language in LANGUAGES:
        problems = load_problems(language)
        assert len(problems) == 164
        assert len({p.task_id for p in problems}) == 164
    assert load_problems("go")[0].test_setup.startswith("package main")
    assert load_problems("python")[0].import_ == ""


def test_unknown_language_is_invalid_argument() -> None:
    with pytest.raises(InvalidArgument, match="language must be one of"):
        load_problems("cobol")


def test_python_program_has_the_reference_imports_and_the_test() -> None:
    p = problem("python", 0)
    program = build_program(p, p.declaration + p.canonical_solution, "x#0")
    assert program.source.startswith(PYTHON_IMPORTS)
    assert program.test == p.test
    assert program.id == "x#0"
    assert program.language == executor_pb2.LANGUAGE_PYTHON
    assert program.limits.timeout_seconds == 10


def test_declaration_is_replaced_by_the_prompt() -> None:
    p = problem("go", 10)  # the prompt defines IsPalindrome, the declaration does not
    code = on_prompt(p, p.declaration + p.canonical_solution)
    assert code == p.prompt.rstrip() + p.declaration[len(p.declaration.rstrip()) :] + p.canonical_solution
    assert "func IsPalindrome" in code
    # Code that does not start with the declaration is left alone.
    assert on_prompt(p, "func Other() {}") == "func Other() {}"


def test_cpp_drops_main_and_prepends_headers() -> None:
    p = problem("cpp", 0)
    program = build_program(p, p.declaration + p.canonical_solution + "\nint main(){}\n")
    assert program.source.startswith(CPP_HEADERS)
    assert "int main" not in program.source
    assert program.test.lstrip().startswith("#undef NDEBUG")


def test_go_imports_are_the_used_ones_only() -> None:
    """The corrected scoring (the harness's is in tests/unit/evaluation/test_programs.py)."""
    p = problem("go", 27)  # its prompt imports "strings" but the solution does not use it
    program = build_program(p, p.declaration + p.canonical_solution, scoring="corrected")
    header = program.source.split(")")[0]
    assert program.source.startswith("package main\n")
    assert program.source.count("package main") == 1
    assert '"testing"' in header and '"github.com/stretchr/testify/assert"' in header
    assert '"strings"' not in header
    p0 = problem("go", 0)  # uses math.Abs: "math" is added
    source = build_program(p0, p0.declaration + p0.canonical_solution, scoring="corrected").source
    assert '"math"' in source.split(")")[0]


def test_go_commented_package_use_does_not_import() -> None:
    p = problem("go", 0)
    code = p.declaration + "    // strings.ToUpper would be wrong here\n" + p.canonical_solution
    assert '"strings"' not in build_program(p, code, scoring="corrected").source.split(")")[0]
    assert '"strings"' not in build_program(p, code).source  # the harness skips commented lines too


def test_rust_gets_main_and_missing_use_lines() -> None:
    p = problem("rust", 0)
    body = "fn has_close_elements(numbers:Vec<f32>, threshold: f32) -> bool{\n    true\n}\n"
    program = build_program(p, body)
    assert program.source.startswith(RUST_MAIN)
    assert "use rand::Rng;" in program.source
    assert program.source.count("fn has_close_elements") == 1


def test_java_removes_an_empty_main_class() -> None:
    p = problem("java", 0)
    code = p.declaration + p.canonical_solution + "\npublic class Main {\n    }"
    assert "public class Main" not in build_program(p, code).source
