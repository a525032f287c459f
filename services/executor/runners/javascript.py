"""JavaScript: ``node main.js``; passes only with exit 0 and no output at all.

The tests use ``console.assert``, which prints to stderr and exits 0 on failure, so any output
fails the program (the reference rule). ``js-md5`` is importable through NODE_PATH.
"""

from __future__ import annotations

from octopack.services.executor.model import Limits, Status, StepOutcome
from octopack.services.executor.runners.base import Runner, limits


class JavaScriptRunner(Runner):
    language = "js"
    filename = "main.js"
    defaults = limits(timeout=10)
    memory_markers = ("heap out of memory", "Reached heap limit", "Fatal process out of memory")

    def executables(self) -> list[str]:
        return ["node"]

    def env(self) -> dict[str, str]:
        return {"NODE_PATH": str(self.tools.root / "node" / "node_modules")}

    def run_command(self, limits: Limits) -> list[str]:
        heap_mb = max(64, limits.memory_bytes // (2 * 1024 * 1024)) if limits.memory_bytes else 2048
        return ["node", f"--max-old-space-size={heap_mb}", self.filename]

    def judge(self, run: StepOutcome) -> Status:
        if run.exit_code == 0:
            return Status.PASSED if not run.stdout and not run.stderr else Status.FAILED
        if run.signal:
            return Status.RUNTIME_ERROR
        return Status.FAILED if "AssertionError" in run.stderr else Status.RUNTIME_ERROR
