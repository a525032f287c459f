"""The executor's domain types: what a program is, its limits, and the closed set of outcomes."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace


class Status(enum.Enum):
    """Closed set of outcomes of one program (mirrors ``octopack.executor.v1.Status``)."""

    PASSED = "passed"
    FAILED = "failed"
    COMPILE_ERROR = "compile_error"
    RUNTIME_ERROR = "runtime_error"
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"
    SANDBOX_ERROR = "sandbox_error"
    DISK_LIMIT = "disk_limit"


@dataclass(frozen=True)
class Limits:
    """Resource limits of one program. ``timeout_seconds`` is the run step's wall clock; the
    compile step has its own budget (``compile_timeout_seconds``) so a slow build under load
    does not eat into the run."""

    timeout_seconds: float
    compile_timeout_seconds: float
    cpu_seconds: float
    memory_bytes: int
    max_processes: int
    max_file_bytes: int
    max_open_files: int
    max_output_bytes: int
    #: What the program may write in all (work directory and temporary folders together).
    max_disk_bytes: int

    def merged(self, **overrides: float | int) -> Limits:
        """These limits with every non-zero override applied (zero means "keep the default")."""
        return replace(self, **{k: v for k, v in overrides.items() if v})  # type: ignore[arg-type]


@dataclass(frozen=True)
class ProgramSpec:
    """One program to run: the file is ``source + "\\n" + test``."""

    language: str
    source: str
    test: str = ""
    id: str = ""
    #: Non-zero fields override the language's default limits (names as in :class:`Limits`).
    limits: dict[str, float | int] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.source + "\n" + self.test if self.test else self.source


@dataclass
class StepOutcome:
    """What the sandbox saw of one command."""

    exit_code: int
    stdout: str
    stderr: str
    seconds: float
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    timed_out: bool = False
    output_exceeded: bool = False
    #: Set when the sandbox itself failed (could not start the command, ...).
    error: str = ""
    #: The work directory had (almost) no room left when the step ended.
    disk_full: bool = False

    @property
    def signal(self) -> int:
        return -self.exit_code if self.exit_code < 0 else 0

    @property
    def stopped(self) -> bool:
        """The program went no further than this step (it failed, timed out or was killed)."""
        return bool(self.error or self.timed_out or self.output_exceeded or self.exit_code != 0)


@dataclass
class ExecutionResult:
    """The verdict of one program."""

    id: str
    status: Status
    exit_code: int = 0
    stdout: str = ""
    stderr: str = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    compile_seconds: float = 0.0
    run_seconds: float = 0.0
    detail: str = ""
