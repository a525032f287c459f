"""The chart and the controller's kubernetes backend agree: the Role grants exactly the API calls the backend
makes (``REQUIRED_RBAC``), the controller's environment parses into its settings and points at what the
chart renders (S3 Secret, stage ServiceAccount, executor Deployments, Ray image and version), and the
stage Jobs the backend builds from those settings meet the chart's own pod policies."""

from __future__ import annotations

from typing import Any

import kubernetes
import pytest
import yaml

from octopack.common.objectstore import S3Settings
from octopack.services.controller.backends import manifests as m
from octopack.services.controller.backends.kubernetes import REQUIRED_RBAC, KubernetesBackend
from octopack.services.controller.settings import ControllerSettings
from tests.chart import policy
from tests.chart.conftest import CHART, CPU_VALUES, EXTERNAL_S3_VALUES, RELEASE, Docs, Render, by_kind, named

CONTROLLER = f"{RELEASE}-controller"


def granted(role: dict[str, Any]) -> set[tuple[str, str, str]]:
    """Every (API group, resource, verb) a Role's rules grant."""
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule.get("apiGroups", [])
        for resource in rule.get("resources", [])
        for verb in rule.get("verbs", [])
    }


def controller_env(docs: Docs) -> dict[str, str]:
    """The controller container's plain-valued environment (values from Secrets and fields left out)."""
    pod = named(docs, "Deployment", CONTROLLER)["spec"]["template"]["spec"]
    return {e["name"]: e["value"] for e in pod["containers"][0]["env"] if "value" in e}


def settings_of(docs: Docs, monkeypatch: pytest.MonkeyPatch) -> tuple[ControllerSettings, S3Settings]:
    for key, value in controller_env(docs).items():
        monkeypatch.setenv(key, value)
    return ControllerSettings(), S3Settings()


def matches(selector: str, labels: dict[str, str]) -> bool:
    """Kubernetes label selector strings with `k=v` and `k in (a,b)` terms (what the chart renders)."""
    terms, depth, start = [], 0, 0
    for i, ch in enumerate(selector + ","):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            terms.append(selector[start:i].strip())
            start = i + 1
    for term in terms:
        if " in " in term:
            key, values = term.split(" in ", 1)
            if labels.get(key.strip()) not in {v.strip() for v in values.strip("() ").split(",")}:
                return False
        else:
            key, value = term.split("=", 1)
            if labels.get(key) != value:
                return False
    return True


@pytest.mark.parametrize("values", [[], [CPU_VALUES]], ids=["default", "ci"])
def test_role_grants_exactly_what_the_backend_calls(render: Render, values: list[Any]) -> None:
    docs = render(values)
    role = named(docs, "Role", CONTROLLER)
    assert granted(role) == REQUIRED_RBAC, (
        f"missing: {sorted(REQUIRED_RBAC - granted(role))}; extra: {sorted(granted(role) - REQUIRED_RBAC)}"
    )
    scale_rules = [r for r in role["rules"] if "deployments/scale" in r["resources"]]
    executors = {d["metadata"]["name"] for d in policy.executor_deployments(docs)}
    assert len(scale_rules) == 1 and set(scale_rules[0]["resourceNames"]) == executors
    binding = named(docs, "RoleBinding", CONTROLLER)
    assert binding["subjects"][0]["name"] == named(docs, "Deployment", CONTROLLER)["spec"]["template"]["spec"][
        "serviceAccountName"]


def test_role_comparison_sees_a_missing_and_an_extra_right(render: Render) -> None:
    role = yaml.safe_load(yaml.safe_dump(named(render(), "Role", CONTROLLER)))  # a copy
    role["rules"][0]["verbs"] = ["create", "get", "list", "watch"]  # drops delete, adds watch
    assert REQUIRED_RBAC - granted(role) == {("batch", "jobs", "delete")}
    assert granted(role) - REQUIRED_RBAC == {("batch", "jobs", "watch")}


def test_executor_selector_finds_exactly_the_executor_deployments(render: Render, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = render()
    settings, _ = settings_of(docs, monkeypatch)
    found = {d["metadata"]["name"] for d in by_kind(docs, "Deployment")
             if matches(settings.executor_selector, d["metadata"]["labels"])}
    assert found == {d["metadata"]["name"] for d in policy.executor_deployments(docs)} and len(found) == 6
    assert settings.backend == "kubernetes"


def test_ray_version_and_images_come_from_the_chart(render: Render, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = render()
    settings, _ = settings_of(docs, monkeypatch)
    chart_values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert settings.ray_version == chart_values["ray"]["version"] == m.RAY_VERSION
    inference = by_kind(docs, "RayService")[0]["spec"]["rayClusterConfig"]
    assert inference["rayVersion"] == settings.ray_version
    assert settings.ray_image == inference["headGroupSpec"]["template"]["spec"]["containers"][0]["image"]
    configmap = named(docs, "ConfigMap", f"{RELEASE}-rayjob-template")["data"]
    assert settings.rayjob_template is not None and settings.rayjob_template.name in configmap
    assert settings.rayservice_cluster_template is not None
    serve_cluster = yaml.safe_load(configmap[settings.rayservice_cluster_template.name])
    rayjob = yaml.safe_load(configmap[settings.rayjob_template.name])
    assert serve_cluster["rayVersion"] == rayjob["spec"]["rayClusterSpec"]["rayVersion"] == "2.60.0"
    body = m.ray_service("job-1-serve", "job-1", settings.ray_image, "m@v1", 1, 64, settings.ray_version, serve_cluster)
    assert policy.check_pod_security([body]) == [] and policy.check_resources([body]) == []


@pytest.mark.parametrize("values", [[], [EXTERNAL_S3_VALUES]], ids=["minio", "external-s3"])
def test_stage_jobs_read_the_charts_s3_secret_and_meet_its_policies(
    render: Render, monkeypatch: pytest.MonkeyPatch, values: list[Any]
) -> None:
    docs = render(values)
    settings, s3 = settings_of(docs, monkeypatch)
    backend = KubernetesBackend(kubernetes.client.ApiClient(), settings, lambda job, stage: None, s3)
    job = m.batch_job("job-1-evaluate-1", "job-1", "evaluate", settings.image, {}, backend.pod,
                      {settings.executor_client_label: "true"})
    pod = job["spec"]["template"]
    container = pod["spec"]["containers"][0]
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
    controller = controller_env(docs)
    for key in ("OCTOPACK_S3_ENDPOINT", "OCTOPACK_S3_BUCKET", "OCTOPACK_S3_SECURE",
                "OCTOPACK_CONTROLLER_EXECUTOR_ADDRESSES"):
        assert env[key] == controller[key], key
    secret_refs = {env[k]["secretKeyRef"]["name"] for k in ("OCTOPACK_S3_ACCESS_KEY", "OCTOPACK_S3_SECRET_KEY")}
    assert secret_refs == {settings.s3_secret_name}
    assert {env[k]["secretKeyRef"]["key"] for k in ("OCTOPACK_S3_ACCESS_KEY", "OCTOPACK_S3_SECRET_KEY")} == {
        "accessKey", "secretKey"}
    if not values:  # the chart generates the Secret (an external one is the operator's)
        assert set(named(docs, "Secret", settings.s3_secret_name)["data"]) == {"accessKey", "secretKey"}
    account = named(docs, "ServiceAccount", pod["spec"]["serviceAccountName"])
    assert account["automountServiceAccountToken"] is False
    assert pod["spec"]["automountServiceAccountToken"] is False
    assert policy.check_pod_security([job]) == [] and policy.check_resources([job]) == []
    # The NetworkPolicies let the evaluate pod reach the store, the executors and the inference service, and
    # nothing else.
    admitting = {
        netpol["metadata"]["name"]
        for netpol in by_kind(docs, "NetworkPolicy")
        if any(policy._selects(p["podSelector"], pod["metadata"]["labels"])
               for rule in netpol["spec"].get("ingress", []) for p in rule.get("from", []) if "podSelector" in p)
    }
    present = {d["metadata"]["name"] for d in by_kind(docs, "NetworkPolicy")}
    assert admitting == present & {"octopack-minio", "octopack-executor", "octopack-inference-ray", "octopack-serve-ray"}
    assert "octopack-executor" in admitting and ("octopack-minio" in admitting) == (not values)


def test_stage_pods_run_as_the_stage_images_user(render: Render, monkeypatch: pytest.MonkeyPatch) -> None:
    ray_uid = settings_of(render(), monkeypatch)[0].stage_pod_security_context["runAsUser"]
    own = render(sets=["controller.stageImage.repository=octopack-crawler"])
    own_uid = settings_of(own, monkeypatch)[0].stage_pod_security_context["runAsUser"]
    assert (ray_uid, own_uid) == (1000, 10001)


def _rayservice(ports: list[dict[str, Any]], serve_service: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    head = {"name": "ray-head", "ports": ports}
    spec: dict[str, Any] = {"rayClusterConfig": {"headGroupSpec": {"template": {"spec": {"containers": [head]}}}}}
    if serve_service is not None:
        spec["serveService"] = {"spec": {"ports": serve_service}}
    return {"kind": "RayService", "metadata": {"name": "inf"}, "spec": spec}


def test_kuberay_puts_only_serve_ports_on_the_serve_service() -> None:
    """KubeRay's rule (common/service.go): head ports named serve or serve-* go on <name>-serve-svc."""
    from tests.chart.exposed import kuberay_services

    gcs, serve = {"name": "gcs-server", "containerPort": 6379}, {"name": "serve", "containerPort": 8000}
    assert kuberay_services(_rayservice([gcs, serve, {"name": "grpc", "containerPort": 9000}]))["inf-serve-svc"] == {8000}
    assert kuberay_services(_rayservice([gcs, serve, {"name": "serve-grpc", "containerPort": 9000}])) == {
        "inf-serve-svc": {8000, 9000}, "inf-head-svc": {6379, 8000, 9000, 8080}}
    # A serveService port of another name is dropped; one of the same name replaces the detected one.
    declared = [{"name": "grpc", "port": 9000}, {"name": "serve", "port": 8001}]
    assert kuberay_services(_rayservice([gcs, serve], declared))["inf-serve-svc"] == {8001}
    assert "inf-serve-svc" not in kuberay_services(_rayservice([gcs]))


def test_the_exposure_check_reports_the_inference_port_missing_from_the_serve_service(render: Render) -> None:
    """With the gRPC head port named 'grpc' (not serve-*), the controller's inference address is unreachable."""
    from tests.chart import exposed

    docs = yaml.safe_load_all(yaml.safe_dump_all(render()))  # a copy
    docs = [d for d in docs if d]
    svc = named(docs, "RayService", "octopack-inference")
    for port in svc["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"][0]["ports"]:
        if port["name"] == "serve-grpc":
            port["name"] = "grpc"
    found = exposed.Exposed().add_docs(docs, "octopack")
    controller = named(docs, "Deployment", CONTROLLER)
    assert exposed.missing({"controller": controller}, found) == [
        "controller: refers to octopack-inference-serve-svc.octopack.svc:9000, but that Service has ports [8000]"]
    assert exposed.missing({"controller": controller}, exposed.Exposed().add_docs(render(), "octopack")) == []
