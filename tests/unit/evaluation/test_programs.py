"""Program assembly under the two scorings: where ``harness`` and ``corrected`` differ (text only)."""

from __future__ import annotations

import pytest

from octopack.common.errors import InvalidArgument
from octopack.evaluation.dataset import load_problems
from octopack.evaluation.programs import assemble_programs, build_program, check_scoring
from octopack.evaluation.prompts import code_base

GO = load_problems("go")


def _synthesize(problem, body: str) -> str:  # type: ignore[no-untyped-def]
    return code_base(problem, "synthesize").rstrip() + body


def test_harness_keeps_the_prompts_imports_as_they_are() -> None:
    p = GO[27]  # the prompt imports "strings"; the canonical solution does not use it
    code = _synthesize(p, "\n" + p.canonical_solution)
    harness = build_program(p, code).source
    assert 'import (\n    "strings"\n)' in harness  # an unused import: Go refuses to build it
    corrected = build_program(p, code, scoring="corrected").source
    assert '"strings"' not in corrected and corrected.count("import (") == 1


def test_harness_imports_only_the_last_path_segment_of_an_unimported_package() -> None:
    p = GO[0]  # the prompt imports "math" only
    code = _synthesize(p, "\n    _ = rand.Intn(2)\n" + p.canonical_solution)
    harness = build_program(p, code).source
    assert 'import (\n    "rand"\n)' in harness and '"math/rand"' not in harness  # "rand" does not build
    assert '"math/rand"' in build_program(p, code, scoring="corrected").source


@pytest.mark.parametrize("index", [10, 32, 38, 50])
def test_harness_builds_fix_on_the_bare_declaration(index: int) -> None:
    p = GO[index]  # the prompt defines a helper the declaration lacks
    helper = p.prompt.split("func ")[1].split("(")[0]
    code = p.declaration + p.canonical_solution
    assert f"func {helper}(" not in build_program(p, code).source
    assert f"func {helper}(" in build_program(p, code, scoring="corrected").source


def test_harness_cpp_38_keeps_the_half_body_of_its_declaration() -> None:
    p = load_problems("cpp")[38]
    code = p.declaration + p.canonical_solution
    assert p.declaration + p.canonical_solution in build_program(p, code).source
    assert p.prompt.rstrip() in build_program(p, code, scoring="corrected").source


def test_harness_go_setup_loses_the_imports_an_earlier_sample_declared() -> None:
    p = GO[90]  # test_setup imports "math"
    first = 'import (\n    "math"\n)\n' + p.declaration + p.canonical_solution
    second = p.declaration + p.canonical_solution
    one, two = assemble_programs(p, [first, second], ["a", "b"])
    assert '"math"' not in one.source.split("import (\n    \"math\"\n)")[0]  # its own import is enough
    alone = build_program(p, second).source
    assert '    "math"\n' in alone.split(")")[0]  # on its own the setup imports math ...
    assert '    "math"\n' not in two.source.split(")")[0]  # ... after the first sample it does not (harness)


def test_other_languages_assemble_alike_apart_from_the_fix_base() -> None:
    for language in ("python", "js", "java", "cpp", "rust"):
        for p in load_problems(language)[:20]:
            code = _synthesize(p, p.canonical_solution)
            assert build_program(p, code).source == build_program(p, code, scoring="corrected").source + "\n"


def test_unknown_scoring_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="scoring must be one of harness, corrected"):
        check_scoring("strict")
    assert check_scoring("corrected") == "corrected"
