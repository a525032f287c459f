"""C++: ``g++ -std=c++11 main.cpp -lcrypto -lssl`` then ``./main``; exit 0 passes.

HumanEvalPack programs start with the reference's block of common headers (boost/any.hpp among
them), which costs most of each compile. ``scripts/install_toolchains.sh`` precompiles exactly
those headers; a program whose leading ``#include`` block holds every one of them is compiled
with ``-include prelude.h`` so g++ loads the precompiled header. The headers have include guards
and would be read first anyway, so the program means the same; any other program compiles as
written. Programs are linked with gold (``-fuse-ld=gold``, binutils' other linker): the same
executable for these programs, linked in half the time of ld.bfd.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from octopack.services.executor.model import Limits
from octopack.services.executor.runners.base import Runner, limits

_LEAD = re.compile(r"\s*(#include\s*<[^>]+>|using\s+namespace\s+std\s*;)")


def _header(line: str) -> str:
    return re.sub(r"\s+", "", line)


@functools.cache
def _prelude(path: Path) -> frozenset[str]:
    if not (path.exists() and path.with_suffix(".h.gch").exists()):
        return frozenset()
    return frozenset(_header(line) for line in path.read_text().splitlines() if line.strip())


def leading_includes(text: str) -> set[str]:
    """The ``#include <...>`` lines before the first other code line (normalised)."""
    found = set()
    for line in text.splitlines():
        if not line.strip():
            continue
        match = _LEAD.fullmatch(line.strip())
        if match is None:
            break
        found.add(_header(line.strip()))
    return found


class CppRunner(Runner):
    language = "cpp"
    filename = "main.cpp"
    defaults = limits(timeout=60, compile_timeout=60)
    memory_markers = ("std::bad_alloc",)
    failure_markers = ("Assertion `",)

    def executables(self) -> list[str]:
        return ["g++"]

    def compile_commands(self, limits: Limits, text: str = "") -> list[list[str]]:
        argv = ["g++", "-std=c++11"]
        prelude_h = self.tools.root / "cpp" / "prelude.h"
        prelude = _prelude(prelude_h)
        if prelude and prelude <= leading_includes(text):
            argv += ["-include", str(prelude_h)]
        return [[*argv, "-fuse-ld=gold", "-o", "main", self.filename, "-lcrypto", "-lssl"]]

    def run_command(self, limits: Limits) -> list[str]:
        return ["./main"]
