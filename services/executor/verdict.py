"""From what the sandbox saw to the closed set of statuses."""

from __future__ import annotations

from collections.abc import Iterable

from octopack.services.executor.model import ExecutionResult, Limits, Status, StepOutcome
from octopack.services.executor.runners import Runner

#: What a build tool says when the work directory's disk limit stops it (ENOSPC).
NO_SPACE = "No space left on device"


def compile_failure(program_id: str, built: StepOutcome, seconds: float, limits: Limits) -> ExecutionResult:
    if built.error:
        status, detail = Status.SANDBOX_ERROR, built.error
    elif built.timed_out:
        status, detail = Status.TIMEOUT, "compilation exceeded its time budget"
    elif built.output_exceeded:
        status, detail = Status.OUTPUT_LIMIT, "compiler output exceeded the cap"
    elif built.disk_full or NO_SPACE in built.stderr:
        # A linker that ran out of room removes its partial output, so the disk looks free again afterwards.
        status, detail = Status.DISK_LIMIT, _disk_detail(limits)
    else:
        status, detail = Status.COMPILE_ERROR, f"compiler exited with {built.exit_code}"
    return result_of(program_id, built, status, detail, compile_seconds=seconds)


def result_of(
    program_id: str, step: StepOutcome, status: Status, detail: str, compile_seconds: float, run_seconds: float = 0.0
) -> ExecutionResult:
    """The result of a program whose last step was ``step``."""
    return ExecutionResult(
        id=program_id,
        status=status,
        exit_code=step.exit_code,
        stdout=step.stdout,
        stderr=step.stderr,
        stdout_truncated=step.stdout_truncated,
        stderr_truncated=step.stderr_truncated,
        compile_seconds=compile_seconds,
        run_seconds=run_seconds,
        detail=detail,
    )


def run_verdict(runner: Runner, ran: StepOutcome, limits: Limits) -> tuple[Status, str]:
    if ran.error:
        return Status.SANDBOX_ERROR, ran.error
    if ran.timed_out:
        return Status.TIMEOUT, f"wall clock of {limits.timeout_seconds:g} s reached; process group killed"
    if ran.signal == 24:  # SIGXCPU
        return Status.TIMEOUT, f"CPU time limit of {limits.cpu_seconds:g} s reached"
    if ran.output_exceeded:
        return Status.OUTPUT_LIMIT, f"output exceeded {limits.max_output_bytes} bytes; process group killed"
    if ran.exit_code != 0 and ran.disk_full:
        return Status.DISK_LIMIT, _disk_detail(limits)
    if ran.exit_code != 0 and _contains(ran.stderr, runner.memory_markers):
        return Status.MEMORY_LIMIT, f"out of memory (address-space limit {limits.memory_bytes} bytes)"
    status = runner.judge(ran)
    if status is Status.PASSED:
        return status, ""
    if ran.signal:
        return status, f"killed by signal {ran.signal}"
    return status, f"exit code {ran.exit_code}"


def _disk_detail(limits: Limits) -> str:
    return f"the work directory is full (max_disk_bytes {limits.max_disk_bytes} for files and temporary folders)"


def _contains(text: str, markers: Iterable[str]) -> bool:
    return any(marker in text for marker in markers)
