"""HumanEvalPack program assembly: the code to judge, made into the program that is run.

``code`` is the prompt base plus the generation (for Fix with the canonical reference:
``declaration + canonical_solution``). The program is ``code + "\\n" + test`` with each
language's prelude. Two scorings:

``harness`` (the default) assembles exactly as bigcode-evaluation-harness does for
HumanEvalPack (``humanevalpack.py``, ``process_results``), so scores compare with published ones:

- Python: the common imports first.
- C++: the common headers first (``boost/any.hpp`` among them); anything from ``int main`` on
  in the code is dropped (the test brings its own ``main``).
- Java: an empty ``public class Main {}`` the model may have written is removed.
- Go: the problem's ``test_setup`` (``package main`` and the test's imports) first, without the
  import lines the code already holds; then, for each package of the reference's helper list
  whose quoted path is nowhere in the program but whose last path segment followed by ``.`` is
  on a line that is not a comment, an import of that last segment (``"rand"`` for ``math/rand``,
  which does not build); then the code as it is, its own import blocks included (an import it
  does not use fails the build). The harness strips the import lines it removes from
  ``test_setup`` for good, so a problem's later samples see the shortened setup too.
- Rust: ``fn main(){}`` and the declaration's lines the code lacks.
- Fix builds on the bare ``declaration``: Go/10, 32, 38, 50 (a helper only the prompt defines)
  and C++/38 (half a body in the declaration) fail there even for the canonical solution.

``corrected`` keeps the project's fixes: a leading ``declaration`` is replaced by the problem's
``prompt`` (a continuation of the declaration's last line is a continuation of the prompt's
too), and Go gets one ``package main`` and one import block holding the test's imports plus
every import the code declares or the helper list offers, each with its full path and only if
the code or test uses it. docs/evaluation.md lists both, problem by problem.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal, get_args

from octopack.common.errors import InvalidArgument
from octopack.common.vocabulary import executor_language
from octopack.evaluation.dataset import Problem
from octopack.executor.v1 import executor_pb2

RUST_MAIN = "fn main(){}\n"

Scoring = Literal["harness", "corrected"]
SCORINGS: tuple[Scoring, ...] = get_args(Scoring)

PYTHON_IMPORTS = "\n".join(
    [
        "import math",
        "import re",
        "import sys",
        "import copy",
        "import datetime",
        "import itertools",
        "import collections",
        "import heapq",
        "import statistics",
        "import functools",
        "import hashlib",
        "import numpy",
        "import numpy as np",
        "import string",
        "from typing import *",
        "from collections import *",
    ]
)
CPP_HEADERS = "\n".join(
    [
        "using namespace std;",
        "#include<stdlib.h>",
        "#include<algorithm>",
        "#include<cmath>",
        "#include<math.h>",
        "#include<numeric>",
        "#include<stdio.h>",
        "#include<vector>",
        "#include<set>",
        "#include<map>",
        "#include<queue>",
        "#include<stack>",
        "#include<list>",
        "#include<deque>",
        "#include<boost/any.hpp>",
        "#include<string>",
        "#include<climits>",
        "#include<cstring>",
        "#include<iostream>",
        "#include<sstream>",
        "#include<fstream>",
    ]
)
#: Packages the reference adds to Go programs when the code uses them.
GO_HELPER_IMPORTS = (
    "math",
    "strings",
    "fmt",
    "strconv",
    "time",
    "bytes",
    "regexp",
    "sort",
    "math/rand",
    "crypto/md5",
)
#: Run-step wall clock per language (the reference's table; Rust's 300 s was its first cargo
#: build, which is the compile budget here).
TIMEOUTS = {"python": 10.0, "js": 10.0, "java": 10.0, "go": 20.0, "cpp": 60.0, "rust": 60.0}
COMPILE_TIMEOUTS = {"java": 60.0, "go": 60.0, "cpp": 60.0, "rust": 300.0}


def check_scoring(scoring: str) -> Scoring:
    """Return ``scoring`` as a :data:`Scoring` or raise a clear error."""
    if scoring not in SCORINGS:
        raise InvalidArgument(f"scoring must be one of {', '.join(SCORINGS)}; got {scoring!r}")
    return scoring  # type: ignore[return-value]


def build_program(
    problem: Problem, code: str, program_id: str = "", scoring: Scoring = "harness"
) -> executor_pb2.Program:
    """The program that judges ``code`` (prompt base + generation), assembled under ``scoring``."""
    return assemble_programs(problem, [code], [program_id or problem.task_id], scoring)[0]


def assemble_programs(
    problem: Problem, codes: Sequence[str], program_ids: Sequence[str], scoring: Scoring = "harness"
) -> list[executor_pb2.Program]:
    """One program per code, in order: the samples of one problem (the harness's Go setup carries over)."""
    check_scoring(scoring)
    limits = executor_pb2.Limits(
        timeout_seconds=TIMEOUTS[problem.language],
        compile_timeout_seconds=COMPILE_TIMEOUTS.get(problem.language, 0.0),
    )
    sources = []
    if scoring == "harness" and problem.language == "go":
        setup = problem.test_setup + "\n"
        for code in codes:
            source, setup = _go_harness(problem, code, setup)
            sources.append(source)
    else:
        assemble = _ASSEMBLERS[problem.language] if scoring == "corrected" else _HARNESS[problem.language]
        sources = [assemble(problem, on_prompt(problem, c) if scoring == "corrected" else c) for c in codes]
    if scoring == "harness":
        # The harness joins program and test with "\n" + ("\n" + test): the executor adds one "\n" + test.
        sources = [source + "\n" for source in sources]
    return [
        executor_pb2.Program(
            language=executor_language(problem.language),  # type: ignore[arg-type]
            source=source,
            test=problem.test,
            limits=limits,
            id=program_id,
        )
        for source, program_id in zip(sources, program_ids, strict=True)
    ]


def on_prompt(problem: Problem, code: str) -> str:
    """``code`` with a leading declaration replaced by the problem's prompt (see module doc)."""
    prompt = problem.prompt.rstrip()
    if code.startswith(prompt):  # Synthesize and Explain answers already continue the prompt
        return code
    for base in (problem.declaration, RUST_MAIN + problem.declaration):
        base = base.rstrip()
        if base and base != prompt and code.startswith(base):
            return prompt + code[len(base) :]
    return code


def _python(problem: Problem, code: str) -> str:
    return (PYTHON_IMPORTS + "\n" + code).strip()


def _js(problem: Problem, code: str) -> str:
    return code


def _java(problem: Problem, code: str) -> str:
    return code.replace("public class Main {\n    }", "").strip()


def _cpp(problem: Problem, code: str) -> str:
    return (CPP_HEADERS + "\n" + code.split("int main")[0]).strip()


def _rust(problem: Problem, code: str) -> str:
    head = "" if "fn main()" in code else RUST_MAIN
    for line in problem.declaration.split("\n"):
        stripped = line.strip()
        if stripped in code:
            continue
        # The function itself is already there when its name is.
        if stripped.startswith("fn") and stripped.split("(")[0] in code:
            continue
        head += stripped + "\n"
    # A second `fn main()` (a model repeating the prompt) is cut off.
    code = "fn main()".join(code.split("fn main()")[0:2])
    return head + code


_IMPORT_BLOCK = re.compile(r"^[ \t]*import[ \t]*\((.*?)\)[ \t]*$", re.MULTILINE | re.DOTALL)
_IMPORT_LINE = re.compile(r"^[ \t]*import[ \t]+((?:[A-Za-z_.][\w]*[ \t]+)?\"[^\"]+\")[ \t]*$", re.MULTILINE)
_SPEC = re.compile(r"^(?:([A-Za-z_.][\w]*)[ \t]+)?\"([^\"]+)\"$")
_PACKAGE = re.compile(r"^[ \t]*package[ \t]+\w+[ \t]*$", re.MULTILINE)


def _go_imports(text: str) -> tuple[str, list[tuple[str, str]]]:
    """``text`` without its package clause and import declarations, and those imports."""
    specs: list[tuple[str, str]] = []

    def block(match: re.Match[str]) -> str:
        for line in match.group(1).splitlines():
            spec = _SPEC.match(line.split("//")[0].strip())
            if spec:
                specs.append((spec.group(1) or "", spec.group(2)))
        return ""

    def single(match: re.Match[str]) -> str:
        spec = _SPEC.match(match.group(1).strip())
        if spec:
            specs.append((spec.group(1) or "", spec.group(2)))
        return ""

    text = _IMPORT_BLOCK.sub(block, text)
    text = _IMPORT_LINE.sub(single, text)
    return _PACKAGE.sub("", text), specs


def _go_uses(body: str, alias: str, path: str) -> bool:
    if alias in ("_", "."):
        return True
    name = alias or path.split("/")[-1]
    token = re.compile(rf"(?<![\w.]){re.escape(name)}\.")
    return any(token.search(line) for line in body.splitlines() if not line.strip().startswith("//"))


def _go_harness(problem: Problem, code: str, setup: str) -> tuple[str, str]:
    """The harness's Go program for ``code`` and the test setup it leaves for the next sample."""
    for line in setup.split("\n"):
        spec = line.replace("import", "").replace("(", "").replace(")", "").strip()
        if spec.startswith('"') and spec in code:
            setup = setup.replace(spec, "")
    whole = setup + code + "\n\n" + problem.test
    extra: list[str] = []
    for path in GO_HELPER_IMPORTS:
        name = path.split("/")[-1]
        if f'"{path}"' in whole or name + "." not in whole:
            continue
        if any(name + "." in line and not line.strip().startswith("//") for line in whole.split("\n")):
            extra.append(f'"{name}"')
    # The harness collects these in a set (its order varies from run to run); the list's order is kept here.
    imports = "import (\n" + "\n".join("    " + p for p in dict.fromkeys(extra)) + "\n)\n" if extra else ""
    if "package main" in code and "package main" in setup:
        code = code.replace("package main", "")
    return setup + imports + code, setup


def _go(problem: Problem, code: str) -> str:
    _, setup_specs = _go_imports(problem.test_setup)
    body, code_specs = _go_imports(code)
    used = body + "\n" + problem.test
    chosen: list[tuple[str, str]] = list(setup_specs)
    candidates = code_specs + [("", path) for path in GO_HELPER_IMPORTS]
    for alias, path in candidates:
        if (alias, path) in chosen or any(p == path and not a for a, p in chosen):
            continue
        if _go_uses(used, alias, path):
            chosen.append((alias, path))
    lines = "\n".join(f'    {alias + " " if alias else ""}"{path}"' for alias, path in chosen)
    return f"package main\n\nimport (\n{lines}\n)\n" + body.lstrip("\n")


_ASSEMBLERS = {"python": _python, "js": _js, "java": _java, "go": _go, "cpp": _cpp, "rust": _rust}
#: The harness assembles every language but Go as the project does (Go: :func:`_go_harness`).
_HARNESS = {"python": _python, "js": _js, "java": _java, "cpp": _cpp, "rust": _rust}
