"""``octopack exec``: run one program in the executor's sandbox and print its Result as JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from octopack.common.errors import InvalidArgument
from octopack.common.vocabulary import LANGUAGES

if TYPE_CHECKING:
    from octopack.executor.v1 import executor_pb2


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "exec",
        help="run one program in the sandbox (in-process, or on an executor with --executor)",
        description="The file is written as the language's source file (main.py, main.js, Main.java, "
        "main_test.go, main.cpp, main.rs); --test is appended after a newline. Passing rules are "
        "HumanEvalPack's: Python/Java/Go/C++/Rust exit 0 (Go: go test, Rust: the #[test]s), "
        "JavaScript exit 0 with no output.",
    )
    p.add_argument("--language", "-l", required=True, choices=LANGUAGES)
    p.add_argument("file", type=Path, help="the program's source")
    p.add_argument("--test", type=Path, help="test code appended to the source")
    p.add_argument("--executor", metavar="HOST:PORT", help="a running executor (default: in-process)")
    p.add_argument("--timeout", type=float, default=0.0, help="run-step wall clock, s (0: language default)")
    p.add_argument("--token", help="bearer token of the executor")
    p.set_defaults(func=run)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidArgument(f"cannot read {path}: {exc.strerror}") from exc


def run(args: argparse.Namespace) -> int:
    import asyncio

    from google.protobuf import json_format

    from octopack.common.vocabulary import executor_language
    from octopack.executor.v1 import executor_pb2

    source = _read(args.file)
    test = _read(args.test) if args.test else ""
    program = executor_pb2.Program(
        language=executor_language(args.language),
        source=source,
        test=test,
        id=args.file.name,
        limits=executor_pb2.Limits(timeout_seconds=args.timeout),
    )
    result = _remote(args.executor, args.token, program) if args.executor else asyncio.run(_local(program))
    doc = json_format.MessageToDict(
        result, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    print(json.dumps(doc, indent=2, ensure_ascii=False))
    return 0 if result.status == executor_pb2.STATUS_PASSED else 1


async def _local(program: executor_pb2.Program) -> executor_pb2.Result:
    from octopack.services.executor.convert import program_from_proto, result_to_proto
    from octopack.services.executor.executor import Executor
    from octopack.services.executor.settings import ExecutorSettings

    executor = Executor(ExecutorSettings(concurrency=1))
    try:
        result = await executor.execute(program_from_proto(program))
    finally:
        executor.close()
    return result_to_proto(result)


def _remote(address: str, token: str | None, program: executor_pb2.Program) -> executor_pb2.Result:
    import grpc

    from octopack.common.client import auth_metadata, error_from_rpc, sync_channel
    from octopack.executor.v1 import executor_pb2, executor_pb2_grpc

    with sync_channel(address) as channel:
        stub = executor_pb2_grpc.ExecutorServiceStub(channel)
        try:
            response = stub.Execute(
                executor_pb2.ExecuteRequest(program=program),
                metadata=auth_metadata(token),
            )
        except grpc.RpcError as exc:
            raise error_from_rpc(exc, f"executor at {address}") from exc
    return response.result
