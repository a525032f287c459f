"""A real executor server in its own process on a free loopback port, reached through the stubs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from octopack.evaluation.dataset import Problem
from octopack.evaluation.programs import RUST_MAIN
from octopack.executor.v1 import executor_pb2_grpc

#: Planted in the server's environment; no program may ever see it.
SECRET = "octopack-fake-secret-7f3a9c1e"
ROOT = Path(__file__).resolve().parents[3]


@dataclass
class ExecutorServer:
    address: str
    process: subprocess.Popen[bytes]
    metrics_port: int

    def stub(self) -> executor_pb2_grpc.ExecutorServiceStub:
        return executor_pb2_grpc.ExecutorServiceStub(grpc.insecure_channel(self.address))

    def serving(self) -> bool:
        """True while the server process lives and answers health checks."""
        if self.process.poll() is not None:
            return False
        channel = grpc.insecure_channel(self.address)
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        except grpc.RpcError:
            return False
        finally:
            channel.close()
        return reply.status == health_pb2.HealthCheckResponse.SERVING


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_executor(tmp: Path, **settings: str) -> ExecutorServer:
    port, metrics = free_port(), free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp),
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "OCTOPACK_TEST_SECRET": SECRET,
        "OCTOPACK_EXECUTOR_PORT": str(port),
        "OCTOPACK_EXECUTOR_METRICS_PORT": str(metrics),
        **{f"OCTOPACK_EXECUTOR_{k.upper()}": v for k, v in settings.items()},
    }
    log = (tmp / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "octopack.services.executor"], env=env, cwd=ROOT, stdout=log, stderr=log
    )
    server = ExecutorServer(f"127.0.0.1:{port}", proc, metrics)
    deadline = time.monotonic() + 60
    while not server.serving():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"executor did not start: {(tmp / 'server.log').read_text()[-2000:]}")
        time.sleep(0.2)
    return server


def stop_executor(server: ExecutorServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


def fix_code(problem: Problem, solution: str) -> str:
    """What the Fix task judges: prompt base (the declaration) + the solution."""
    base = RUST_MAIN + problem.declaration if problem.language == "rust" else problem.declaration
    return base + solution
