"""Fixtures of the cluster tests (marker `e2e`, opt-in with OCTOPACK_E2E=1; scripts/kind_e2e.sh runs them
against a kind cluster deployed by `skaffold run -p kind`). Without a reachable cluster they skip."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import tool

PortForward = Callable[[str, int], AbstractContextManager[int]]


@dataclass(frozen=True)
class Cluster:
    kubectl: str
    namespace: str
    release: str

    def run(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [self.kubectl, "-n", self.namespace, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{proc.stderr}")
        return proc

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-o", "json").stdout)

    def name(self, component: str) -> str:
        return f"{self.release}-{component}"


@pytest.fixture(scope="session")
def cluster() -> Cluster:
    kubectl = tool("kubectl")
    namespace = os.environ.get("OCTOPACK_E2E_NAMESPACE", "octopack")
    release = os.environ.get("OCTOPACK_E2E_RELEASE", "octopack")
    probe = subprocess.run(
        [kubectl, "--request-timeout=10s", "get", "namespace", namespace],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if probe.returncode != 0:
        why = (probe.stderr.strip().splitlines() or ["no answer"])[-1][-160:]
        pytest.skip(
            f"no reachable cluster with namespace {namespace!r} ({why}): "
            "run scripts/kind_e2e.sh, or deploy the chart and set OCTOPACK_E2E_NAMESPACE"
        )
    return Cluster(kubectl, namespace, release)


@pytest.fixture(scope="session")
def port_forward(cluster: Cluster) -> PortForward:
    """port_forward("svc/NAME", remote_port) -> a context manager yielding the local port."""

    @contextmanager
    def _forward(target: str, remote: int) -> Iterator[int]:
        proc = subprocess.Popen(
            [
                cluster.kubectl,
                "-n",
                cluster.namespace,
                "port-forward",
                target,
                f":{remote}",
                "--address",
                "127.0.0.1",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            match = re.search(r"127\.0\.0\.1:(\d+)", line)
            if match is None:
                raise AssertionError(
                    f"port-forward {target} failed: {line}{proc.stderr.read() if proc.stderr else ''}"
                )
            yield int(match.group(1))
        finally:
            proc.terminate()
            proc.wait(timeout=10)

    return _forward
