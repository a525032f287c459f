"""The python executor image, built with podman from a debootstrap Debian base, run exactly as the rendered
chart runs the executor pod (tests/chart/executor_image.py): it serves, judges programs, picks the
strongest isolation the seccomp profile allows, reports it, and refuses to start without one it was told
to require. The hostile suite against the same pod is tests/integration/executor/test_executor_hostile.py.

Heavy (minutes: debootstrap, pip and apt inside the builds): marker `full` (OCTOPACK_FULL_TESTS=1).
Needs root with podman, runc, catatonit and debootstrap installed (apt); skips with the reason otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from octopack.executor.v1 import executor_pb2 as pb
from octopack.executor.v1 import executor_pb2_grpc as rpc
from tests.chart import executor_image as pod
from tests.integration.executor.executor_server import bearer_channel

pytestmark = [pytest.mark.full, pytest.mark.timeout(3600)]
#: The chart turns authentication on by default: the pod's token comes from its Secret.
TOKEN = "OCTOPACK_EXECUTOR_AUTH_TOKEN"


@pytest.fixture(scope="module")
def image() -> str:
    return pod.executor_image("python")


@pytest.fixture(scope="module")
def containerd_profile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pod.containerd_profile(tmp_path_factory.mktemp("seccomp") / "containerd.json")


def start(image: str, name: str, seccomp: Path | None, *values: str) -> pod.Pod:
    return pod.Pod(name, image, pod.rendered_executor("python", *values), seccomp, [])


def stub(container: pod.Pod) -> rpc.ExecutorServiceStub:
    return rpc.ExecutorServiceStub(bearer_channel(container.address, container.from_secrets.get(TOKEN, "")))


def capabilities(container: pod.Pod) -> pb.GetCapabilitiesResponse:
    return stub(container).GetCapabilities(pb.GetCapabilitiesRequest(), timeout=120, wait_for_ready=True)


@pytest.fixture(scope="module")
def crio(image: str) -> Iterator[pod.Pod]:
    container = start(image, "octopack-executor-image-crio", None)
    try:
        yield container
    finally:
        container.remove()


def test_the_container_runs_as_the_deployment_says(crio: pod.Pod) -> None:
    inspect = pod.podman(
        "inspect", crio.name, "--format",
        "{{.Config.User}} {{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapAdd}} {{.HostConfig.SecurityOpt}}",
    ).stdout
    user, readonly, added, options = inspect.split(maxsplit=3)
    assert (user, readonly, added) == ("10001:10001", "true", "[]")
    assert "no-new-privileges" in options


def test_programs_are_judged(crio: pod.Pod) -> None:
    caps = capabilities(crio)
    assert list(caps.languages) == [pb.LANGUAGE_PYTHON]
    good = pb.Program(language=pb.LANGUAGE_PYTHON, source="def add(a, b):\n    return a + b\n", test="assert add(2, 3) == 5\n")
    bad = pb.Program(language=pb.LANGUAGE_PYTHON, source="def add(a, b):\n    return a - b\n", test="assert add(2, 3) == 5\n")
    reply = stub(crio).ExecuteBatch(pb.ExecuteBatchRequest(programs=[good, bad]), timeout=120)
    assert [r.status for r in reply.results] == [pb.STATUS_PASSED, pb.STATUS_FAILED]


def test_crio_profile_gets_namespaces_with_the_pods_proc(crio: pod.Pod) -> None:
    caps = capabilities(crio)
    assert caps.isolation == "namespaces"
    held = {p.name: (p.enforced, p.how) for p in caps.protections}
    assert held["network"][0] and held["private_tmp"][0] and held["disk_limit"][0]
    assert "/proc listed read-only" in held["processes"][1]


def test_containerd_profile_gets_landlock(image: str, containerd_profile: Path) -> None:
    container = start(image, "octopack-executor-image-containerd", containerd_profile)
    try:
        caps = capabilities(container)
        assert caps.isolation == "landlock"
        held = {p.name: (p.enforced, p.how) for p in caps.protections}
        # The chart's memory volume per slot is the disk limit; TCP is Landlock's, UDP the NetworkPolicy's.
        assert held["disk_limit"][0] and not held["network"][0]
    finally:
        container.remove()


def test_an_isolation_the_node_lacks_refuses_to_start(image: str, containerd_profile: Path) -> None:
    container = start(image, "octopack-executor-image-refuses", containerd_profile, "executor.sandbox.isolation=namespaces")
    try:
        deadline = time.monotonic() + 120
        while pod.podman("inspect", "--format", "{{.State.Running}}", container.name).stdout.strip() == "true":
            assert time.monotonic() < deadline, "the executor started without the isolation it was told to require"
            time.sleep(0.5)
        logs = container.logs() + pod.podman("logs", container.name, check=False).stdout
        assert "OCTOPACK_EXECUTOR_ISOLATION=namespaces: no sandbox can be built here" in logs
        assert "user namespaces" in logs
    finally:
        container.remove()
