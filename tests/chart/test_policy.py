"""Security policies over every rendered values set, and proof that each check catches a broken policy."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from tests.chart import policy
from tests.chart.conftest import NAMESPACE, RELEASE, VALUE_SETS, Docs, Render, by_kind, named

CONTROLLER = {"app.kubernetes.io/instance": RELEASE, "app.kubernetes.io/component": "controller"}
CLIENT_LABEL = "octopack.io/executor-client"


def isolation(docs: Docs) -> list[str]:
    return policy.check_executor_isolation(docs, CONTROLLER, CLIENT_LABEL)


@pytest.fixture(params=sorted(VALUE_SETS), scope="module")
def docs(request: pytest.FixtureRequest, render: Render) -> Docs:
    values: list[Path] = VALUE_SETS[request.param]
    return render(values)


def test_every_pod_is_non_root_read_only_and_without_capabilities(docs: Docs) -> None:
    assert list(policy.pod_templates(docs)), "no pods rendered"
    assert policy.check_pod_security(docs) == []


def test_every_container_has_requests_and_limits(docs: Docs) -> None:
    assert policy.check_resources(docs) == []


def test_every_executor_has_no_egress_and_ingress_only_from_controller_and_clients(docs: Docs) -> None:
    assert policy.executor_deployments(docs), "no executor Deployment rendered"
    assert isolation(docs) == []


def test_rbac_is_namespaced_and_minimal(docs: Docs) -> None:
    assert by_kind(docs, "Role"), "the controller's Role is missing"
    assert policy.check_rbac(docs, NAMESPACE) == []


def test_only_the_controller_mounts_an_api_token(docs: Docs) -> None:
    mounting = [
        where
        for where, pod in policy.pod_templates(docs)
        if pod["spec"].get("automountServiceAccountToken") is not False
    ]
    assert mounting == ["Deployment/octopack-controller"]


# ---- each check fails when its policy is broken on purpose ---------------------------------------------


def test_pod_security_check_reports_a_writable_root_fs_set_through_values(render: Render) -> None:
    docs = render(sets=["securityContext.readOnlyRootFilesystem=false"])
    violations = policy.check_pod_security(docs)
    assert any("executor-python container executor: root file system is writable" in v for v in violations)
    assert any("RayService/octopack-inference worker group gpu" in v for v in violations)


def test_pod_security_check_reports_root_and_added_capabilities(render: Render) -> None:
    docs = copy.deepcopy(render())
    dep = named(docs, "Deployment", "octopack-crawler")
    dep["spec"]["template"]["spec"]["securityContext"]["runAsUser"] = 0
    sc = dep["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    sc["capabilities"] = {"add": ["NET_ADMIN"]}
    sc["allowPrivilegeEscalation"] = True
    violations = policy.check_pod_security(docs)
    assert "Deployment/octopack-crawler: pod runs as uid 0" in violations
    assert any("crawler container crawler: capabilities are not all dropped" in v for v in violations)
    assert any("crawler: adds capabilities ['NET_ADMIN']" in v for v in violations)
    assert any("crawler container crawler: allowPrivilegeEscalation is not false" in v for v in violations)


def test_pod_security_check_reaches_the_rayjob_template_in_its_configmap(render: Render) -> None:
    docs = copy.deepcopy(render())
    cm = named(docs, "ConfigMap", "octopack-rayjob-template")
    job = yaml.safe_load(cm["data"]["rayjob.yaml"])
    job["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0][
        "securityContext"
    ] = {}
    cm["data"]["rayjob.yaml"] = yaml.safe_dump(job)
    violations = policy.check_pod_security(docs)
    assert violations
    assert all("rayjob.yaml] worker group gpu container ray-worker" in v for v in violations)


def test_schema_refuses_a_root_pod_before_rendering(helm: str) -> None:
    from tests.chart.conftest import run_helm, template_args

    proc = run_helm(helm, *template_args(sets=["podSecurityContext.runAsNonRoot=false"]))
    assert proc.returncode != 0
    assert "podSecurityContext.runAsNonRoot" in proc.stderr


def test_resources_check_reports_a_container_without_limits(render: Render) -> None:
    docs = copy.deepcopy(render())
    dep = named(docs, "Deployment", "octopack-executor-go")
    del dep["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    svc = named(docs, "RayService", "octopack-inference")
    del svc["spec"]["rayClusterConfig"]["autoscalerOptions"]["resources"]["requests"]["memory"]
    violations = policy.check_resources(docs)
    assert sorted(violations) == [
        "Deployment/octopack-executor-go container executor: no cpu limit",
        "Deployment/octopack-executor-go container executor: no memory limit",
        "RayService/octopack-inference autoscaler: no memory request",
    ]


def test_isolation_check_reports_every_executor_without_network_policies(render: Render) -> None:
    violations = isolation(render(sets=["networkPolicy.enabled=false"]))
    for lang in ("python", "js", "java", "go", "cpp", "rust"):
        assert (
            f"Deployment/octopack-executor-{lang}: no NetworkPolicy selecting it denies all egress"
            in violations
        )


def test_isolation_check_reports_an_egress_rule_and_an_open_ingress(render: Render) -> None:
    docs = copy.deepcopy(render())
    pol = named(docs, "NetworkPolicy", "octopack-executor")
    pol["spec"]["egress"] = [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]
    pol["spec"]["ingress"].append({"from": [{"podSelector": {}}], "ports": [{"port": "grpc"}]})
    violations = isolation(docs)
    assert "Deployment/octopack-executor-rust: a NetworkPolicy allows egress" in violations
    assert "Deployment/octopack-executor-rust: no NetworkPolicy selecting it denies all egress" in violations
    assert any("ingress from pods all" in v for v in violations)


def test_isolation_check_reports_a_policy_that_selects_no_executor(render: Render) -> None:
    docs = copy.deepcopy(render())
    pol = named(docs, "NetworkPolicy", "octopack-executor")
    pol["spec"]["podSelector"]["matchLabels"]["octopack.io/role"] = "executors"
    assert len(isolation(docs)) == 2 * 6  # no egress denial and no ingress restriction, for each language


def test_rbac_check_reports_a_cluster_role_and_extra_rights(render: Render) -> None:
    docs = copy.deepcopy(render())
    role = named(docs, "Role", "octopack-controller")
    role["rules"].append({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]})
    role["rules"][0]["verbs"].append("*")
    docs.append({"kind": "ClusterRole", "metadata": {"name": "octopack-admin"}, "rules": []})
    violations = policy.check_rbac(docs, NAMESPACE)
    assert "ClusterRole/octopack-admin: cluster-scoped RBAC" in violations
    assert "Role/octopack-controller: grants core/secrets" in violations
    assert "Role/octopack-controller: grants ['*'] on batch/jobs" in violations


def test_rbac_check_reports_scale_on_any_deployment(render: Render) -> None:
    docs = copy.deepcopy(render())
    role = named(docs, "Role", "octopack-controller")
    scale = next(r for r in role["rules"] if r["resources"] == ["deployments/scale"])
    del scale["resourceNames"]
    assert policy.check_rbac(docs, NAMESPACE) == [
        "Role/octopack-controller: scales Deployments all, not only executors"
    ]
