"""The service surface: validation, back-pressure, streaming, metrics and reflection."""

from __future__ import annotations

import json
import math
import subprocess
import threading
import time
import urllib.request

import grpc
import pytest

from octopack.executor.v1 import executor_pb2
from tests.integration.executor.executor_server import ExecutorServer

pytestmark = pytest.mark.integration

S = executor_pb2


def prog(
    source: str, language: int = S.LANGUAGE_PYTHON, pid: str = "", **limits: float
) -> executor_pb2.Program:
    return S.Program(language=language, source=source, id=pid, limits=S.Limits(**limits))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("program", "message"),
    [
        (S.Program(source="print(1)"), "language"),
        (prog("   \n"), "source is empty"),
        (prog("print(1)", timeout_seconds=100_000), "limits.timeout_seconds"),
        (prog("print(1)", memory_bytes=-1), "limits.memory_bytes"),
        (prog("x = 1\n" * 200_000), "program.source"),
        (prog("print(1)", cpu_seconds=math.nan), "limits.cpu_seconds: must be a finite number, not nan"),
        (prog("print(1)", timeout_seconds=math.nan), "limits.timeout_seconds: must be a finite number, not nan"),
        (prog("print(1)", timeout_seconds=math.inf), "limits.timeout_seconds: must be a finite number, not inf"),
        (prog("print(1)", compile_timeout_seconds=-math.inf), "limits.compile_timeout_seconds: must be a finite number, not -inf"),
        (prog("print(1)", timeout_seconds=-2.0), "limits.timeout_seconds: is -2.0; must be at least 0"),
        (prog("print(1)", max_disk_bytes=-1), "limits.max_disk_bytes: is -1; must be at least 0"),
    ],
    ids=["no-language", "empty", "timeout-too-long", "negative-memory", "too-big", "nan-cpu", "nan-timeout",
         "inf-timeout", "minus-inf-compile", "negative-timeout", "negative-disk"],
)
def test_bad_requests_are_invalid_argument(
    executor: ExecutorServer, program: executor_pb2.Program, message: str
) -> None:
    with pytest.raises(grpc.RpcError) as info:
        executor.stub().Execute(S.ExecuteRequest(program=program), timeout=30)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in (info.value.details() or "")


def test_batch_keeps_request_order(executor: ExecutorServer) -> None:
    programs = [
        prog(f"import time; time.sleep({0.3 * (3 - i)}); assert {i} != 1", pid=f"p{i}") for i in range(3)
    ]
    reply = executor.stub().ExecuteBatch(S.ExecuteBatchRequest(programs=programs), timeout=60)
    assert [r.id for r in reply.results] == ["p0", "p1", "p2"]
    assert [r.status for r in reply.results] == [S.STATUS_PASSED, S.STATUS_FAILED, S.STATUS_PASSED]


def test_stream_answers_in_completion_order(executor: ExecutorServer) -> None:
    requests = [
        S.ExecuteStreamRequest(program=prog("import time; time.sleep(2)", pid="slow")),
        S.ExecuteStreamRequest(program=prog("pass", pid="fast")),
    ]
    replies = list(executor.stub().ExecuteStream(iter(requests), timeout=60))
    assert [r.result.id for r in replies] == ["fast", "slow"]
    assert all(r.result.status == S.STATUS_PASSED for r in replies)


def test_full_queue_is_resource_exhausted_and_gauges_show_it(small_executor: ExecutorServer) -> None:
    stub = small_executor.stub()
    # A batch bigger than slot + queue is refused whole.
    with pytest.raises(grpc.RpcError) as info:
        stub.ExecuteBatch(S.ExecuteBatchRequest(programs=[prog("pass")] * 3), timeout=30)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    # One program runs, one waits: a third is refused while the server keeps working.
    sleeper = prog("import time; time.sleep(4)", timeout_seconds=20)
    results: list[executor_pb2.Result] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(stub.Execute(S.ExecuteRequest(program=sleeper)).result)
        )
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
        time.sleep(0.5)
    time.sleep(0.5)
    metrics = _metrics(small_executor.metrics_port)
    assert metrics["octopack_executor_running"] == 1.0
    assert metrics["octopack_executor_queue_depth"] == 1.0
    with pytest.raises(grpc.RpcError) as info:
        stub.Execute(S.ExecuteRequest(program=prog("pass")), timeout=30)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "queue is full" in (info.value.details() or "")
    for thread in threads:
        thread.join(60)
    assert [r.status for r in results] == [S.STATUS_PASSED, S.STATUS_PASSED]
    after = stub.Execute(S.ExecuteRequest(program=prog("pass")), timeout=30).result
    assert after.status == S.STATUS_PASSED
    assert _metrics(small_executor.metrics_port)["octopack_executor_queue_depth"] == 0.0


def test_capabilities_list_the_installed_languages(executor: ExecutorServer) -> None:
    caps = executor.stub().GetCapabilities(S.GetCapabilitiesRequest(), timeout=30)
    assert set(caps.languages) == {
        S.LANGUAGE_PYTHON,
        S.LANGUAGE_JAVASCRIPT,
        S.LANGUAGE_JAVA,
        S.LANGUAGE_GO,
        S.LANGUAGE_CPP,
        S.LANGUAGE_RUST,
    }
    assert caps.max_concurrency == 2
    assert caps.max_queue == 64
    assert caps.sandbox
    # What holds here, one entry per row of the table in docs/executor.md.
    assert caps.isolation == "namespaces"
    held = {p.name: p.enforced for p in caps.protections}
    assert held["private_tmp"] and held["disk_limit"] and held["processes"] and held["network"], held


def test_grpcurl_by_reflection(executor: ExecutorServer, grpcurl: str) -> None:
    listed = subprocess.run(
        [grpcurl, "-plaintext", executor.address, "list"], capture_output=True, text=True, timeout=60
    )
    assert "octopack.executor.v1.ExecutorService" in listed.stdout, listed.stderr
    body = json.dumps(
        {"program": {"language": "LANGUAGE_PYTHON", "source": "assert 1 + 1 == 2", "id": "curl"}}
    )
    called = subprocess.run(
        [grpcurl, "-plaintext", "-d", body, executor.address, "octopack.executor.v1.ExecutorService/Execute"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert called.returncode == 0, called.stderr
    result = json.loads(called.stdout)["result"]
    assert (result["id"], result["status"]) == ("curl", "STATUS_PASSED")


def _metrics(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    values = {}
    for line in text.splitlines():
        if line.startswith("octopack_executor_") and "{" not in line:
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values
