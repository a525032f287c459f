"""Proto <-> domain conversions of the executor (protobuf only, no grpc)."""

from __future__ import annotations

from octopack.common.vocabulary import LANGUAGE_OF_EXECUTOR
from octopack.executor.v1 import executor_pb2
from octopack.services.executor.isolation import Protection
from octopack.services.executor.model import ExecutionResult, ProgramSpec, Status

STATUS_VALUES: dict[Status, int] = {
    Status.PASSED: executor_pb2.STATUS_PASSED,
    Status.FAILED: executor_pb2.STATUS_FAILED,
    Status.COMPILE_ERROR: executor_pb2.STATUS_COMPILE_ERROR,
    Status.RUNTIME_ERROR: executor_pb2.STATUS_RUNTIME_ERROR,
    Status.TIMEOUT: executor_pb2.STATUS_TIMEOUT,
    Status.MEMORY_LIMIT: executor_pb2.STATUS_MEMORY_LIMIT,
    Status.OUTPUT_LIMIT: executor_pb2.STATUS_OUTPUT_LIMIT,
    Status.SANDBOX_ERROR: executor_pb2.STATUS_SANDBOX_ERROR,
    Status.DISK_LIMIT: executor_pb2.STATUS_DISK_LIMIT,
}
LIMIT_FIELDS = (
    "timeout_seconds",
    "compile_timeout_seconds",
    "cpu_seconds",
    "memory_bytes",
    "max_processes",
    "max_file_bytes",
    "max_open_files",
    "max_output_bytes",
    "max_disk_bytes",
)


def program_from_proto(program: executor_pb2.Program) -> ProgramSpec:
    """A domain program; an unknown language becomes its numeric name (validation rejects it)."""
    language = LANGUAGE_OF_EXECUTOR.get(program.language, f"<{program.language}>")
    limits = {name: getattr(program.limits, name) for name in LIMIT_FIELDS}
    return ProgramSpec(language, program.source, program.test, program.id, limits)


def result_to_proto(result: ExecutionResult) -> executor_pb2.Result:
    return executor_pb2.Result(
        id=result.id,
        status=STATUS_VALUES[result.status],  # type: ignore[arg-type]
        exit_code=result.exit_code,
        stdout=result.stdout,
        stderr=result.stderr,
        stdout_truncated=result.stdout_truncated,
        stderr_truncated=result.stderr_truncated,
        compile_seconds=result.compile_seconds,
        run_seconds=result.run_seconds,
        detail=result.detail,
    )


def protection_to_proto(protection: Protection) -> executor_pb2.Protection:
    return executor_pb2.Protection(name=protection.name, enforced=protection.enforced, how=protection.how)
