"""Security policies over every rendered values set, and proof that each check catches a broken policy."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from tests.chart import netpolicy, policy
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


# ---- authentication and a NetworkPolicy per component --------------------------------------------------

AUTH_SECRET = "octopack-auth"


def test_the_default_install_requires_a_token_from_a_kept_generated_secret(render: Render) -> None:
    docs = render()
    secret = named(docs, "Secret", AUTH_SECRET)
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert len(secret["data"]["token"]) >= 48
    assert policy.check_auth(docs, AUTH_SECRET) == []
    # An existing Secret replaces the generated one everywhere.
    docs = render(sets=["auth.existingSecret=ops-token"])
    assert not [d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == AUTH_SECRET]
    assert policy.check_auth(docs, "ops-token") == []


def test_auth_check_reports_services_without_a_token(render: Render) -> None:
    violations = policy.check_auth(render(sets=["auth.enabled=false"]), AUTH_SECRET)
    assert "Deployment/octopack-crawler container crawler: OCTOPACK_CRAWLER_AUTH_TOKEN does not come from " \
           f"Secret {AUTH_SECRET} key token" in violations
    assert any("stage pods are not given Secret" in v for v in violations)


def test_every_pod_of_the_release_has_an_ingress_policy_that_names_its_sources(docs: Docs) -> None:
    pods = list(policy.pod_templates(docs))
    assert len(pods) > 10
    assert netpolicy.check_ingress(docs, pods) == []


def test_every_component_has_its_own_network_policy(render: Render) -> None:
    names = {d["metadata"]["name"] for d in by_kind(render(), "NetworkPolicy")}
    assert names == {f"octopack-{c}" for c in (
        "controller", "datasets", "crawler", "filter", "executor", "minio", "inference-ray", "serve-ray",
        "finetune-ray", "data-ray", "stage", "stage-crawl", "bucket")}


def test_minio_admits_only_this_releases_pods(docs: Docs) -> None:
    assert netpolicy.check_store_ingress(docs, RELEASE) == []


def test_the_crawler_reaches_only_dns_the_store_and_public_https(docs: Docs) -> None:
    crawler = named(docs, "Deployment", "octopack-crawler")["spec"]["template"]
    env = {e["name"]: e.get("value") for e in crawler["spec"]["containers"][0]["env"]}
    external = frozenset() if "minio" in env["OCTOPACK_S3_ENDPOINT"] else frozenset({443})
    assert netpolicy.check_fetch_egress(docs, crawler, "crawler", {443}, external) == []


def test_the_data_cluster_that_runs_git_reaches_only_itself_dns_the_store_and_public_https(render: Render) -> None:
    """The crawls' Ray tasks run git on the data RayCluster: the crawler's egress, besides their own cluster."""
    docs = render()
    pods = [(where, pod) for where, pod in policy.pod_templates(docs) if where.startswith("RayCluster/octopack-data")]
    assert {where for where, _ in pods} >= {"RayCluster/octopack-data head"}
    docs = copy.deepcopy(docs)
    egress = named(docs, "NetworkPolicy", "octopack-data-ray")["spec"]["egress"]
    own = egress.pop(0)  # every port among the cluster's own pods
    assert own == {"to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/instance": RELEASE,
                                                            "app.kubernetes.io/component": "data"}}}]}
    crawler = named(docs, "Deployment", "octopack-crawler")["spec"]["template"]
    env = {e["name"]: e.get("value") for e in crawler["spec"]["containers"][0]["env"]}
    external = frozenset() if "minio" in env["OCTOPACK_S3_ENDPOINT"] else frozenset({443})
    for where, pod in pods:
        assert netpolicy.check_fetch_egress(docs, pod, where, {443}, external) == []


def test_the_crawlers_egress_follows_its_git_schemes(render: Render) -> None:
    docs = render(sets=["crawler.git.schemes={https,ssh}"])
    crawler = named(docs, "Deployment", "octopack-crawler")["spec"]["template"]
    assert netpolicy.check_fetch_egress(docs, crawler, "crawler", {443, 22}) == []
    assert netpolicy.check_fetch_egress(docs, crawler, "crawler", {443}) == [
        "crawler: NetworkPolicy/octopack-crawler opens ports [22] to the internet"]
    env = {e["name"]: e.get("value") for e in crawler["spec"]["containers"][0]["env"]}
    assert env["OCTOPACK_CRAWLER_GIT_SCHEMES"] == "https,ssh"
    assert env["OCTOPACK_CRAWLER_GIT_ALLOW_PRIVATE"] == "false"


def test_ingress_check_reports_a_missing_policy_and_open_rules(render: Render) -> None:
    docs = copy.deepcopy(render())
    docs = [d for d in docs if not (d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "octopack-filter")]
    pol = named(docs, "NetworkPolicy", "octopack-datasets")
    pol["spec"]["ingress"].append({"from": [{"podSelector": {}}]})
    pol["spec"]["ingress"].append({"ports": [{"port": "grpc"}]})
    named(docs, "NetworkPolicy", "octopack-inference-ray")["spec"]["ingress"].append(
        {"from": [{"namespaceSelector": {}}]})
    violations = netpolicy.check_ingress(docs, list(policy.pod_templates(docs)))
    assert "Deployment/octopack-filter: no NetworkPolicy restricts its ingress" in violations
    assert "Deployment/octopack-datasets: NetworkPolicy/octopack-datasets admits every pod of the namespace" in violations
    assert "Deployment/octopack-datasets: NetworkPolicy/octopack-datasets admits every source" in violations
    assert "RayService/octopack-inference head: NetworkPolicy/octopack-inference-ray admits every namespace" in violations


def test_store_and_egress_checks_report_what_they_guard(render: Render) -> None:
    docs = copy.deepcopy(render())
    named(docs, "NetworkPolicy", "octopack-minio")["spec"]["ingress"][0]["from"].append(
        {"podSelector": {"matchLabels": {"app": "anything"}}})
    assert netpolicy.check_store_ingress(docs, RELEASE) == [
        "StatefulSet/octopack-minio: NetworkPolicy/octopack-minio admits {'podSelector': {'matchLabels': {'app': 'anything'}}}"]
    crawler = named(docs, "Deployment", "octopack-crawler")["spec"]["template"]
    egress = named(docs, "NetworkPolicy", "octopack-crawler")["spec"]["egress"]
    egress[-1]["to"][0]["ipBlock"]["except"].remove("10.0.0.0/8")
    egress.append({"to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/component": "controller"}}}],
                   "ports": [{"port": 50051}]})
    assert netpolicy.check_fetch_egress(docs, crawler, "crawler", {443}) == [
        "crawler: NetworkPolicy/octopack-crawler reaches 10.0.0.0/8",
        "crawler: NetworkPolicy/octopack-crawler allows egress to "
        "{'podSelector': {'matchLabels': {'app.kubernetes.io/component': 'controller'}}} on [50051]",
    ]
