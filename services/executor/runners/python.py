"""Python: ``python main.py``; passes when no exception escapes (exit 0)."""

from __future__ import annotations

from octopack.services.executor.model import Status, StepOutcome
from octopack.services.executor.runners.base import Runner, limits


class PythonRunner(Runner):
    language = "python"
    filename = "main.py"
    defaults = limits(timeout=10)
    memory_markers = ("MemoryError",)
    failure_markers = ("AssertionError",)

    def executables(self) -> list[str]:
        return [str(self.tools.python)]

    def env(self) -> dict[str, str]:
        # numpy's BLAS would start one thread per core, each counted by RLIMIT_NPROC.
        return {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}

    def run_command(self, limits: object) -> list[str]:
        return [str(self.tools.python), "-I", "-B", self.filename]

    def judge(self, run: StepOutcome) -> Status:
        if run.exit_code == 0:
            return Status.PASSED
        if run.signal:
            return Status.RUNTIME_ERROR
        # Tests are asserts: an AssertionError is a failed test, any other exception a crash.
        last = run.stderr.strip().splitlines()[-1:] or [""]
        return Status.FAILED if last[0].startswith("AssertionError") else Status.RUNTIME_ERROR
