"""Fixtures: executor servers in their own processes (see executor_server.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.executor.executor_server import (
    SECRET,
    TEST_USER,
    ExecutorServer,
    start_executor,
    stop_executor,
)


@pytest.fixture(scope="session")
def executor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExecutorServer]:
    """The shared server: two slots (this machine's cores), a roomy queue."""
    server = start_executor(tmp_path_factory.mktemp("executor"), concurrency="2", max_queue="64")
    yield server
    stop_executor(server)


@pytest.fixture(scope="session")
def user_executor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExecutorServer]:
    """The same server run as an unprivileged user (no root anywhere)."""
    server = start_executor(tmp_path_factory.mktemp("executor-user"), user=TEST_USER, concurrency="2", max_queue="64")
    yield server
    stop_executor(server)


@pytest.fixture
def small_executor(tmp_path: Path) -> Iterator[ExecutorServer]:
    """One slot and a one-program queue, to fill it on purpose."""
    server = start_executor(tmp_path, concurrency="1", max_queue="1", max_batch="8")
    yield server
    stop_executor(server)


def _podman_executor(kind: str, tmp: Path) -> Iterator[ExecutorServer]:
    """The executor image with every toolchain, run as the chart runs the executor pod (see executor_image.py)."""
    from tests.chart import executor_image as pod

    image = pod.executor_image(pod.ALL_LANGUAGES)
    seccomp = pod.containerd_profile(tmp / "containerd.json") if kind == "containerd" else None
    deployment = pod.rendered_executor("rust")  # the roomiest resources of the six
    secrets = [f"-e=AWS_SECRET_ACCESS_KEY={SECRET}", f"-e=OCTOPACK_TEST_SECRET={SECRET}"]
    container = pod.Pod(f"octopack-hostile-{kind}", image, deployment, seccomp, [*secrets, "-e=OCTOPACK_EXECUTOR_LANGUAGE="])
    files = ["/tmp/octopack-stack/state.json", "/work/octopack-stack/s3/data/jobs/job.json"]
    server = ExecutorServer(
        container.address, 0, container.pid, files, "/work", label=f"podman-{kind}", exists=container.exists,
        internal_port=50052, token=container.from_secrets.get("OCTOPACK_EXECUTOR_AUTH_TOKEN", ""),
    )
    try:
        container.wait_serving(server.serving)
        plant = " && ".join(
            f"mkdir -p {Path(f).parent} && echo '{{\"aws_secret_access_key\": \"{SECRET}\"}}' > {f} && chmod 644 {f}"
            for f in files
        )
        assert container.exec("sh", "-c", plant).returncode == 0
        yield server
    finally:
        container.remove()


@pytest.fixture(scope="session")
def podman_crio_executor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExecutorServer]:
    """Chart settings under podman's default seccomp profile (CRI-O's: user namespaces allowed)."""
    yield from _podman_executor("crio", tmp_path_factory.mktemp("podman-crio"))


@pytest.fixture(scope="session")
def podman_containerd_executor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExecutorServer]:
    """Chart settings under a containerd-equivalent default profile (no namespaces without CAP_SYS_ADMIN)."""
    yield from _podman_executor("containerd", tmp_path_factory.mktemp("podman-containerd"))
