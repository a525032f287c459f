"""Request validation, default limits and verdict rules (no program is run)."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from octopack.common.errors import FailedPrecondition, InvalidArgument, ResourceExhausted
from octopack.services.executor.executor import Executor
from octopack.services.executor.model import ProgramSpec, Status, StepOutcome
from octopack.services.executor.runners import RUNNERS
from octopack.services.executor.settings import ExecutorSettings
from octopack.services.executor.verdict import compile_failure, run_verdict


@pytest.fixture(scope="module")
def executor() -> Iterator[Executor]:
    ex = Executor(ExecutorSettings(concurrency=1, max_queue=1, max_source_bytes=1000))
    yield ex
    ex.close()


@pytest.mark.parametrize(
    ("program", "message"),
    [
        (ProgramSpec("cobol", "x"), "unknown or unspecified language"),
        (ProgramSpec("python", "  \n"), "source is empty"),
        (ProgramSpec("python", "x" * 1001), "program.source is 1001 bytes; the limit is 1000"),
        (ProgramSpec("python", "x", "y" * 2000), "program.test is 2000 bytes"),
        (ProgramSpec("python", "x", limits={"timeout_seconds": 1e9}), "limits.timeout_seconds"),
        (ProgramSpec("python", "x", limits={"max_processes": -1}), "limits.max_processes"),
        (ProgramSpec("python", "x", limits={"cpu_seconds": math.nan}), "limits.cpu_seconds = nan is not a finite"),
        (ProgramSpec("python", "x", limits={"timeout_seconds": math.nan}), "limits.timeout_seconds = nan"),
        (ProgramSpec("python", "x", limits={"timeout_seconds": math.inf}), "limits.timeout_seconds = inf"),
        (ProgramSpec("python", "x", limits={"compile_timeout_seconds": -math.inf}), "limits.compile_timeout_seconds"),
        (ProgramSpec("python", "x", limits={"timeout_seconds": -1.5}), "limits.timeout_seconds = -1.5 is out of range"),
        (ProgramSpec("python", "x", limits={"max_disk_bytes": -1}), "limits.max_disk_bytes"),
        (ProgramSpec("python", "x", limits={"max_disk_bytes": 1 << 40}), "limits.max_disk_bytes"),
    ],
)
def test_validation_names_the_field(executor: Executor, program: ProgramSpec, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message.replace(".", r"\.")):
        executor.validate(program)


def test_language_defaults_follow_the_reference_table(executor: Executor) -> None:
    timeouts = {name: executor.validate(ProgramSpec(name, "x")).timeout_seconds for name in RUNNERS}
    assert timeouts == {"python": 10, "js": 10, "java": 10, "go": 20, "cpp": 60, "rust": 60}
    limits = executor.validate(ProgramSpec("rust", "x", limits={"timeout_seconds": 5, "memory_bytes": 0}))
    assert limits.timeout_seconds == 5
    assert limits.compile_timeout_seconds == 300  # compile has its own budget
    assert limits.memory_bytes == RUNNERS["rust"].defaults.memory_bytes
    assert limits.max_disk_bytes == 256 * 1024**2


async def test_batch_larger_than_capacity_is_refused(executor: Executor) -> None:
    with pytest.raises(ResourceExhausted, match="queue is full"):
        await executor.execute_batch([ProgramSpec("python", "pass")] * 3)


def outcome(code: int, out: str = "", err: str = "") -> StepOutcome:
    return StepOutcome(exit_code=code, stdout=out, stderr=err, seconds=0.1)


@pytest.mark.parametrize(
    ("language", "run", "status"),
    [
        ("python", outcome(0), Status.PASSED),
        ("python", outcome(1, err="Traceback...\nAssertionError"), Status.FAILED),
        ("python", outcome(1, err="Traceback...\nNameError: x"), Status.RUNTIME_ERROR),
        ("js", outcome(0), Status.PASSED),
        ("js", outcome(0, err="Assertion failed"), Status.FAILED),
        ("js", outcome(0, out="hello"), Status.FAILED),
        ("java", outcome(1, err='Exception in thread "main" java.lang.AssertionError'), Status.FAILED),
        ("cpp", outcome(-6, err="main: main.cpp:9: int main(): Assertion `x' failed."), Status.FAILED),
        ("cpp", outcome(-11), Status.RUNTIME_ERROR),
        ("go", outcome(1, out="--- FAIL: TestX"), Status.FAILED),
        ("go", outcome(2, err="runtime: failed to create new OS thread (have 5 already; errno=11)"),
         Status.RUNTIME_ERROR),
        ("go", outcome(2, err="fatal error: all goroutines are asleep - deadlock!"), Status.RUNTIME_ERROR),
        ("rust", outcome(101, out="test result: FAILED. 0 passed; 1 failed"), Status.FAILED),
        # The JVM could not start its own threads (the process limit): it logs that on stdout and exits 1.
        ("java", outcome(1, out='[0.015s][warning][os,thread] Failed to start thread "VM Thread" - pthread_create '
                                'failed (EAGAIN) for attributes: stacksize: 1024k'), Status.RUNTIME_ERROR),
        ("java", outcome(1), Status.FAILED),
    ],
)
def test_verdicts(executor: Executor, language: str, run: StepOutcome, status: Status) -> None:
    assert executor.runners[language].judge(run) is status


def test_a_full_work_directory_is_disk_limit_only_when_the_step_failed(executor: Executor) -> None:
    runner, limits = executor.runners["python"], executor.validate(ProgramSpec("python", "x"))
    failed = StepOutcome(1, "", "OSError: [Errno 28] No space left on device", 0.1, disk_full=True)
    assert run_verdict(runner, failed, limits)[0] is Status.DISK_LIMIT
    passed = StepOutcome(0, "", "", 0.1, disk_full=True)
    assert run_verdict(runner, passed, limits)[0] is Status.PASSED
    assert compile_failure("p", failed, 0.1, limits).status is Status.DISK_LIMIT
    # A linker out of room removes its partial output: the disk is free again, the message says what happened.
    linked = StepOutcome(1, "", "note: /usr/bin/ld: final link failed: No space left on device", 0.3)
    assert compile_failure("p", linked, 0.3, limits).status is Status.DISK_LIMIT
    assert compile_failure("p", StepOutcome(1, "", "error[E0425]: cannot find value", 0.3), 0.3, limits).status \
        is Status.COMPILE_ERROR


def test_an_isolation_that_cannot_be_had_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # no bwrap to be found
    with pytest.raises(FailedPrecondition, match="ISOLATION=namespaces: no sandbox can be built here: bubblewrap is not installed"):
        Executor(ExecutorSettings(concurrency=1, isolation="namespaces"))


def test_a_one_language_executor_refuses_the_others() -> None:
    ex = Executor(ExecutorSettings(concurrency=1, language="go"))
    try:
        assert ex.languages() == ["go"]
        with pytest.raises(FailedPrecondition, match="serves only go"):
            ex.validate(ProgramSpec("python", "pass"))
    finally:
        ex.close()
