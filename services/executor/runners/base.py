"""The one runner interface: a language only declares its files, commands, defaults and verdict."""

from __future__ import annotations

import json
import shutil
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from octopack.services.executor.model import Limits, Status, StepOutcome

GiB = 1024**3
MiB = 1024**2


@dataclass(frozen=True)
class Toolchains:
    """Where the toolchains are (``scripts/install_toolchains.sh`` writes ``root``)."""

    root: Path
    python: Path

    @property
    def go_cache(self) -> Path:
        """The warm Go build cache: read-only to programs, which Go accepts (it only misses writes)."""
        return self.root / "go" / "cache"

    def rust_externs(self) -> dict[str, object]:
        path = self.root / "rust" / "externs.json"
        return json.loads(path.read_text()) if path.exists() else {}


def limits(
    timeout: float, compile_timeout: float = 0.0, memory: int = 4 * GiB, processes: int = 64
) -> Limits:
    """Default limits of a language (CPU seconds: twice the wall clock, for threaded runtimes)."""
    return Limits(
        timeout_seconds=timeout,
        compile_timeout_seconds=compile_timeout,
        cpu_seconds=2 * timeout,
        memory_bytes=memory,
        max_processes=processes,
        max_file_bytes=64 * MiB,
        max_open_files=1024,
        max_output_bytes=1 * MiB,
        max_disk_bytes=256 * MiB,
    )


class Runner(ABC):
    """How one language is built and judged. The sandbox does the rest."""

    #: Name used across the project ("python", "js", "java", "go", "cpp", "rust").
    language: ClassVar[str]
    #: The file the program (source + "\n" + test) is written to.
    filename: ClassVar[str]
    defaults: ClassVar[Limits]
    #: Substrings of stderr that mean the program ran out of memory.
    memory_markers: ClassVar[tuple[str, ...]] = ()
    #: Substrings of stderr/stdout that mean the tests themselves failed (vs a crash).
    failure_markers: ClassVar[tuple[str, ...]] = ()
    #: stderr text of the language runtime aborting the whole process (not a test's verdict).
    crash_markers: ClassVar[tuple[str, ...]] = ()

    def __init__(self, tools: Toolchains) -> None:
        self.tools = tools

    @abstractmethod
    def executables(self) -> list[str]:
        """Commands that must exist for this language to be available."""

    def available(self) -> bool:
        return all(shutil.which(exe) or Path(exe).exists() for exe in self.executables())

    def env(self) -> dict[str, str]:
        """Language variables on top of PATH/HOME/LANG/TMPDIR."""
        return {}

    def path(self) -> str:
        return "/usr/local/bin:/usr/bin:/bin"

    def compile_commands(self, limits: Limits, text: str = "") -> list[list[str]]:
        """Build steps for the program ``text``, run in its work directory (none when interpreted)."""
        return []

    def warm_compiler(self) -> dict[str, object] | None:
        """A build the slot's warm compiler can do instead of the first build command (Java)."""
        return None

    @abstractmethod
    def run_command(self, limits: Limits) -> list[str]:
        """The step whose outcome is judged."""

    def judge(self, run: StepOutcome) -> Status:
        """Verdict of a run that finished by itself (no timeout, no cap): exit 0 passes."""
        if run.exit_code == 0:
            return Status.PASSED
        if any(marker in run.stderr for marker in self.crash_markers):
            return Status.RUNTIME_ERROR
        text = run.stderr + run.stdout
        if any(marker in text for marker in self.failure_markers):
            return Status.FAILED
        return Status.RUNTIME_ERROR if run.signal else Status.FAILED
