"""Per-language runners: each declares files and commands; the sandbox is shared."""

from __future__ import annotations

from octopack.services.executor.runners.base import Runner, Toolchains
from octopack.services.executor.runners.cpp import CppRunner
from octopack.services.executor.runners.go import GoRunner
from octopack.services.executor.runners.java import JavaRunner
from octopack.services.executor.runners.javascript import JavaScriptRunner
from octopack.services.executor.runners.python import PythonRunner
from octopack.services.executor.runners.rust import RustRunner

RUNNERS: dict[str, type[Runner]] = {
    r.language: r for r in (PythonRunner, JavaScriptRunner, JavaRunner, GoRunner, CppRunner, RustRunner)
}

__all__ = ["RUNNERS", "Runner", "Toolchains"]
