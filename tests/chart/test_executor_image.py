"""The python executor image, built here with podman from a debootstrap Debian base (no registry image can be
pulled), runs with no network, a read-only root, no capabilities and memory/pid limits, and answers Execute.

Heavy (minutes: debootstrap, pip and apt inside the builds): marker `full` (OCTOPACK_FULL_TESTS=1).
Needs root with podman, runc, catatonit and debootstrap installed (apt); skips with the reason otherwise.
The Debian root file system and podman's layer cache stay in /var/tmp/octopack-podman between runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.full, pytest.mark.timeout(3600)]

WORK = Path("/var/tmp/octopack-podman")
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
DEBIAN = "localhost/octopack-debian:bookworm"
PYTHON = "localhost/octopack-python:3.11"
BASE = "localhost/octopack-base:test"
EXECUTOR = "localhost/octopack-executor-python:test"
CONTAINER = "octopack-executor-image-test"
CONTAINERS_CONF = """[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"

[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
"""
CLIENT = """
import sys
import grpc
from octopack.executor.v1 import executor_pb2 as pb, executor_pb2_grpc as rpc
stub = rpc.ExecutorServiceStub(grpc.insecure_channel("127.0.0.1:50052"))
program = pb.Program(language=pb.LANGUAGE_PYTHON, source=sys.argv[1], test=sys.argv[2], id="image/0")
result = stub.Execute(pb.ExecuteRequest(program=program), timeout=120, wait_for_ready=True).result
print(pb.Status.Name(result.status))
print(result.stdout + result.stderr)
"""


def podman(*args: str, timeout: float = 1800, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONTAINERS_CONF": str(WORK / "containers.conf")}
    proc = subprocess.run(
        ["podman", *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"podman {' '.join(args[:3])} failed:\n{proc.stderr[-3000:]}")
    return proc


def build(dockerfile: str, tag: str, *build_args: str) -> None:
    """Build from the repository root; the host's CA bundle and pip settings reach the RUN steps only."""
    mounts = [f"-v={HOST_CA}:{HOST_CA}:ro", f"-v={WORK / 'pip.conf'}:/etc/pip.conf:ro"]
    args = [f"--build-arg={a}" for a in build_args]
    podman("build", "-q", *mounts, *args, "-f", str(ROOT / dockerfile), "-t", tag, str(ROOT))


@pytest.fixture(scope="module")
def executor_image() -> str:
    missing = [tool for tool in ("podman", "runc", "debootstrap") if shutil.which(tool) is None]
    if missing or os.geteuid() != 0:
        pytest.skip(
            f"needs root with podman, runc and debootstrap (missing: {missing or 'root'}): "
            "apt-get install podman runc catatonit debootstrap"
        )
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "containers.conf").write_text(CONTAINERS_CONF)
    (WORK / "pip.conf").write_text(f"[global]\ncert = {HOST_CA}\n")
    if podman("image", "exists", DEBIAN, check=False).returncode != 0:
        rootfs = WORK / "rootfs"
        if not (rootfs / "usr" / "bin" / "apt-get").exists():
            subprocess.run(
                ["debootstrap", "--variant=minbase", "bookworm", str(rootfs), "http://deb.debian.org/debian"],
                capture_output=True,
                timeout=1800,
                check=True,
            )
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        env = {**os.environ, "CONTAINERS_CONF": str(WORK / "containers.conf")}
        subprocess.run(
            ["podman", "import", "-", DEBIAN], stdin=tar.stdout, capture_output=True, env=env, check=True
        )
        tar.wait()
    build("docker/python-debian.Dockerfile", PYTHON, f"DEBIAN_IMAGE={DEBIAN}")
    build("docker/base.Dockerfile", BASE, f"PYTHON_IMAGE={PYTHON}")
    build("services/executor/Dockerfile", EXECUTOR, f"BASE_IMAGE={BASE}", "LANGUAGE=python")
    return EXECUTOR


@pytest.fixture(scope="module")
def container(executor_image: str) -> Iterator[str]:
    podman("rm", "-f", CONTAINER, check=False)
    podman(
        "run",
        "-d",
        "--name",
        CONTAINER,
        "--network",
        "none",
        "--read-only",
        "--tmpfs",
        "/tmp:rw,mode=1777,size=512m",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "--memory",
        "1g",
        "--pids-limit",
        "256",
        "-e",
        "OCTOPACK_EXECUTOR_CONCURRENCY=1",
        "-e",
        "OCTOPACK_EXECUTOR_HOST=127.0.0.1",
        executor_image,
    )
    try:
        yield CONTAINER
    finally:
        podman("rm", "-f", CONTAINER, check=False)


def execute(container: str, source: str, test: str) -> tuple[str, str]:
    proc = podman("exec", container, "python", "-c", CLIENT, source, test, timeout=180)
    status, _, output = proc.stdout.partition("\n")
    return status, output


def test_image_runs_as_non_root_without_network(container: str) -> None:
    inspect = podman(
        "inspect",
        container,
        "--format",
        "{{.Config.User}} {{.HostConfig.NetworkMode}} "
        "{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}",
    )
    assert inspect.stdout.split() == ["10001:10001", "none", "true", str(1 << 30), "256"]


def test_executor_passes_a_correct_program(container: str) -> None:
    status, output = execute(
        container, "def add(a, b):\n    return a + b\n", "assert add(2, 3) == 5\nprint('ok')\n"
    )
    assert status == "STATUS_PASSED", output
    assert output.strip() == "ok"


def test_executor_fails_a_wrong_program(container: str) -> None:
    status, _ = execute(container, "def add(a, b):\n    return a - b\n", "assert add(2, 3) == 5\n")
    assert status == "STATUS_FAILED"


def test_programs_have_no_network(container: str) -> None:
    status, output = execute(
        container, "import socket\n", "socket.create_connection(('1.1.1.1', 80), timeout=3)\n"
    )
    assert status == "STATUS_RUNTIME_ERROR"
    assert "Network is unreachable" in output or "OSError" in output
