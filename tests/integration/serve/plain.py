"""``octopack serve MODEL --no-ray`` in a child process, for the serving integration tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PlainServer:
    """``octopack serve MODEL --no-ray`` in a child process: gRPC and HTTP over one model."""

    proc: subprocess.Popen[bytes]
    grpc_address: str
    http_port: int
    model: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/v1"


def start_plain_server(model: Path, *extra: str) -> PlainServer:
    grpc_port, http_port = free_port(), free_port()
    env = dict(os.environ, OCTOPACK_SERVE_TORCH_THREADS="1", OCTOPACK_SERVE_DEVICE="cpu")
    proc = subprocess.Popen(
        [sys.executable, "-m", "octopack.cli.main", "serve", str(model), "--no-ray", "--port", str(grpc_port),
         "--http-port", str(http_port), *extra],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/v1/models", timeout=2):
                return PlainServer(proc, f"127.0.0.1:{grpc_port}", http_port, model)
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise AssertionError("the server did not answer within 120 s")


def stop_plain_server(server: PlainServer) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()
