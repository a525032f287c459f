"""The chart on a real cluster: services healthy over gRPC, an executor runs a program, the executors are
cut off from the network, the controller's rights are what the Role says, a job can be submitted."""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest

from tests.e2e.conftest import Cluster, PortForward

pytestmark = pytest.mark.e2e

SERVICES = {
    "controller": (50051, "octopack.jobs.v1.JobService"),
    "datasets": (50053, "octopack.datasets.v1.DatasetService"),
    "crawler": (50054, "octopack.crawler.v1.CrawlerService"),
    "filter": (50055, "octopack.filter.v1.FilterService"),
    "executor-python": (50052, "octopack.executor.v1.ExecutorService"),
}


def release_token(cluster: Cluster) -> str:
    """The bearer token of the release (its auth Secret, on by default); '' when auth is off."""
    import base64

    proc = cluster.run("get", "secret", cluster.name("auth"), "-o", "jsonpath={.data.token}", check=False)
    return base64.b64decode(proc.stdout).decode() if proc.returncode == 0 and proc.stdout else ""


def grpcurl_call(
    grpcurl: str, port: int, method: str, body: dict[str, object] | None = None, token: str = ""
) -> dict[str, object]:
    args = [grpcurl, "-plaintext", "-max-time", "60"]
    if token:
        args += ["-H", f"authorization: Bearer {token}"]
    if body is not None:
        args += ["-d", json.dumps(body)]
    proc = subprocess.run(
        [*args, f"127.0.0.1:{port}", method], capture_output=True, text=True, timeout=90, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout) if proc.stdout.strip() else {}


def test_every_deployment_becomes_available(cluster: Cluster) -> None:
    cluster.run(
        "wait",
        "--for=condition=Available",
        "deployment",
        "-l",
        f"app.kubernetes.io/instance={cluster.release}",
        "--timeout=300s",
        timeout=320,
    )
    deployments = cluster.json("get", "deployment", "-l", f"app.kubernetes.io/instance={cluster.release}")[
        "items"
    ]
    names = {d["metadata"]["name"] for d in deployments}
    assert {cluster.name(c) for c in SERVICES} <= names


@pytest.mark.parametrize("component", sorted(SERVICES))
def test_service_is_serving_with_reflection(
    cluster: Cluster, port_forward: PortForward, grpcurl: str, component: str
) -> None:
    port, service = SERVICES[component]
    with port_forward(f"svc/{cluster.name(component)}", port) as local:
        health = grpcurl_call(grpcurl, local, "grpc.health.v1.Health/Check", {"service": service})
        assert health["status"] == "SERVING"
        listed = subprocess.run(
            [grpcurl, "-plaintext", f"127.0.0.1:{local}", "list"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert service in listed.stdout.split()


def test_python_executor_runs_a_program(cluster: Cluster, port_forward: PortForward, grpcurl: str) -> None:
    program = {
        "language": "LANGUAGE_PYTHON",
        "source": "def add(a, b):\n    return a + b\n",
        "test": "assert add(2, 3) == 5\nprint('ok')\n",
        "id": "e2e/0",
    }
    with port_forward(f"svc/{cluster.name('executor-python')}", 50052) as local:
        result = grpcurl_call(
            grpcurl, local, "octopack.executor.v1.ExecutorService/Execute", {"program": program},
            release_token(cluster),
        )
    assert result["result"]["status"] == "STATUS_PASSED", result
    assert result["result"]["id"] == "e2e/0"


def connect_from(cluster: Cluster, deployment: str, host: str, port: int) -> subprocess.CompletedProcess[str]:
    code = f"import socket; socket.create_connection(({host!r}, {port}), timeout=5); print('connected')"
    return cluster.run("exec", f"deploy/{deployment}", "--", "python", "-c", code, check=False, timeout=60)


def test_executor_has_no_egress(cluster: Cluster) -> None:
    minio = f"{cluster.name('minio')}.{cluster.namespace}.svc"
    control = connect_from(cluster, cluster.name("datasets"), minio, 9000)
    assert control.returncode == 0, f"the datasets pod should reach MinIO: {control.stderr}"
    blocked = connect_from(cluster, cluster.name("executor-python"), minio, 9000)
    assert blocked.returncode != 0 and "connected" not in blocked.stdout
    by_ip = cluster.json("get", "service", cluster.name("minio"))["spec"]["clusterIP"]
    assert connect_from(cluster, cluster.name("executor-python"), by_ip, 9000).returncode != 0


def run_client_pod(cluster: Cluster, labels: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A short-lived pod (the datasets image, which has grpcio) calling the python executor's health."""
    image = cluster.json("get", "deployment", cluster.name("datasets"))["spec"]["template"]["spec"][
        "containers"
    ][0]["image"]
    target = f"{cluster.name('executor-python')}.{cluster.namespace}.svc:50052"
    code = (
        "import grpc; from grpc_health.v1 import health_pb2, health_pb2_grpc; "
        f"ch = grpc.insecure_channel({target!r}); "
        "print(health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=10).status)"
    )
    name = f"e2e-client-{uuid.uuid4().hex[:6]}"
    security = {
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    overrides = {
        "spec": {
            "containers": [
                {
                    "name": name,
                    "image": image,
                    "command": ["python", "-c", code],
                    "securityContext": security,
                    "resources": {"limits": {"cpu": "200m", "memory": "256Mi"}},
                }
            ]
        }
    }
    label_arg = ",".join(f"{k}={v}" for k, v in labels.items()) or "app=e2e-client"
    return cluster.run(
        "run",
        name,
        "--rm",
        "-i",
        "--restart=Never",
        f"--image={image}",
        f"--labels={label_arg}",
        f"--overrides={json.dumps(overrides)}",
        "--pod-running-timeout=120s",
        check=False,
        timeout=240,
    )


def test_executor_ingress_only_from_labelled_clients(cluster: Cluster) -> None:
    allowed = run_client_pod(cluster, {"octopack.io/executor-client": "true"})
    assert allowed.returncode == 0 and "1" in allowed.stdout.split(), allowed.stdout + allowed.stderr
    refused = run_client_pod(cluster, {})
    assert refused.returncode != 0


@pytest.mark.parametrize(
    ("verb", "resource", "expected"),
    [
        ("create", "rayjobs.ray.io", "yes"),
        ("delete", "rayservices.ray.io", "yes"),
        ("create", "jobs.batch", "yes"),
        ("get", "secrets", "no"),
        ("create", "pods", "no"),
        ("delete", "deployments.apps", "no"),
        ("list", "deployments.apps", "yes"),
        ("create", "rayjobs.ray.io --all-namespaces", "no"),
    ],
)
def test_controller_rights(cluster: Cluster, verb: str, resource: str, expected: str) -> None:
    account = f"system:serviceaccount:{cluster.namespace}:{cluster.name('controller')}"
    proc = cluster.run("auth", "can-i", verb, *resource.split(), f"--as={account}", check=False)
    assert proc.stdout.strip() == expected


def test_controller_may_scale_only_executors(cluster: Cluster) -> None:
    account = f"system:serviceaccount:{cluster.namespace}:{cluster.name('controller')}"
    executor = cluster.name("executor-python")
    spec_patch = cluster.run(
        "auth", "can-i", "patch", f"deployments.apps/{executor}", f"--as={account}", check=False
    )
    assert spec_patch.stdout.strip() == "no", "only the scale subresource may change"
    for name, expected in [(executor, "yes"), (cluster.name("datasets"), "no")]:
        proc = cluster.run(
            "auth",
            "can-i",
            "patch",
            f"deployments.apps/{name}",
            "--subresource=scale",
            f"--as={account}",
            check=False,
        )
        assert proc.stdout.strip() == expected, name


def test_submit_and_cancel_a_job(cluster: Cluster, port_forward: PortForward, grpcurl: str) -> None:
    spec = {
        "name": "e2e",
        "crawl": {"repositories": ["https://github.com/octocat/Hello-World"], "max_commits": 5},
    }
    key = uuid.uuid4().hex
    token = release_token(cluster)
    with port_forward(f"svc/{cluster.name('controller')}", 50051) as local:
        submitted = grpcurl_call(
            grpcurl, local, "octopack.jobs.v1.JobService/SubmitJob", {"spec": spec, "idempotency_key": key}, token
        )
        job = submitted["job"]
        assert submitted["created"] is True
        again = grpcurl_call(
            grpcurl, local, "octopack.jobs.v1.JobService/SubmitJob", {"spec": spec, "idempotency_key": key}, token
        )
        assert again["job"]["id"] == job["id"] and not again.get("created")
        fetched = grpcurl_call(
            grpcurl, local, "octopack.jobs.v1.JobService/GetJob", {"job_id": job["id"]}, token
        )
        assert fetched["job"]["backend"] == "kubernetes"
        cancelled = grpcurl_call(
            grpcurl, local, "octopack.jobs.v1.JobService/CancelJob", {"job_id": job["id"]}, token
        )
        assert cancelled["job"]["id"] == job["id"]
