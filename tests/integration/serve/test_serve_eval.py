"""``octopack eval --model HOST:PORT`` end to end: a served model's generations are executed and scored."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from octopack.cli.main import main

pytestmark = [pytest.mark.integration, pytest.mark.ray]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_serving(address: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited"
        try:
            with grpc.insecure_channel(address) as channel:
                reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
        except grpc.RpcError:
            time.sleep(0.5)
    raise AssertionError("inference server did not become ready")


def test_eval_with_a_served_model(tiny_model: Path, tmp_path: Path) -> None:
    port = _free_port()
    address = f"127.0.0.1:{port}"
    env = dict(os.environ, OCTOPACK_SERVE_TORCH_THREADS="1", OCTOPACK_SERVE_DEVICE="cpu")
    server = subprocess.Popen(
        [sys.executable, "-m", "octopack.cli.main", "serve", str(tiny_model), "--no-ray", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        _wait_serving(address, server)
        out = tmp_path / "out"
        code = main(["eval", "--task", "synthesize", "--language", "python", "--limit", "5",
                     "--model", address, "--max-new-tokens", "32", "--out", str(out)])
        assert code == 0
        doc = json.loads((out / "results.json").read_text())
        python = doc["languages"]["python"]
        assert python["problems"] == 5
        assert 0.0 <= python["pass@1"] <= 1.0
        assert list(out.glob("*.png"))
    finally:
        server.terminate()
        server.wait(timeout=30)
