"""HumanEvalPack program assembly: the code to judge, made into the program the reference runs.

``code`` is the prompt base plus the generation (for Fix with the canonical reference:
``declaration + canonical_solution``). The program is ``code + "\\n" + test`` with each
language's prelude, following the reference harness (bigcode-evaluation-harness,
``humanevalpack.py``):

- Python: the common imports first.
- C++: the common headers first (``boost/any.hpp`` among them); anything from ``int main`` on
  in the code is dropped (the test brings its own ``main``).
- Java: an empty ``public class Main {}`` the model may have written is removed.
- Go: one ``package main`` and one import block: the test's imports, plus every import the code
  declares or the reference's helper list offers, but only those the code or test uses (Go
  refuses unused imports).
- Rust: ``fn main(){}`` and the declaration's ``use`` lines when the code lacks them.

One deliberate difference: the problem's ``declaration`` at the start of the code is replaced by
its ``prompt``. The prompt is the declaration with its documentation and, in some problems,
helper definitions the declaration lacks (Go/10, 32, 38, 50 call a helper that only the prompt
defines; C++/38's declaration already holds half of the body, so ``declaration + solution`` does
not balance). A continuation of the declaration's last line is a continuation of the prompt's
too, so generations keep their meaning.
"""

from __future__ import annotations

import re

from octopack.common.vocabulary import executor_language
from octopack.evaluation.dataset import Problem
from octopack.executor.v1 import executor_pb2

RUST_MAIN = "fn main(){}\n"

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


def build_program(problem: Problem, code: str, program_id: str = "") -> executor_pb2.Program:
    """The program the reference harness runs for ``code`` (prompt base + generation)."""
    code = on_prompt(problem, code)
    assemble = _ASSEMBLERS[problem.language]
    source = assemble(problem, code)
    limits = executor_pb2.Limits(
        timeout_seconds=TIMEOUTS[problem.language],
        compile_timeout_seconds=COMPILE_TIMEOUTS.get(problem.language, 0.0),
    )
    return executor_pb2.Program(
        language=executor_language(problem.language),  # type: ignore[arg-type]
        source=source,
        test=problem.test,
        limits=limits,
        id=program_id or problem.task_id,
    )


def on_prompt(problem: Problem, code: str) -> str:
    """``code`` with a leading declaration replaced by the problem's prompt (see module doc)."""
    prompt = problem.prompt.rstrip()
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
