"""Policy checks over rendered manifests. Each returns the list of violations (empty: the policy holds).

The pods checked include those embedded in custom resources: the head and worker groups of the RayService and
the data RayCluster, and the RayJob template the controller creates finetuning jobs from (a ConfigMap holding a RayJob).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

Doc = dict[str, Any]

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}
RAYJOB_TEMPLATE_KEY = "rayjob.yaml"


def _name(doc: Doc) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


def _ray_cluster_pods(where: str, cluster: Doc) -> Iterator[tuple[str, Doc]]:
    yield f"{where} head", cluster["headGroupSpec"]["template"]
    for group in cluster.get("workerGroupSpecs", []):
        yield f"{where} worker group {group.get('groupName')}", group["template"]


def embedded_rayjobs(docs: list[Doc]) -> Iterator[tuple[str, Doc]]:
    """RayJobs that ConfigMaps carry as templates (key rayjob.yaml)."""
    for doc in docs:
        if doc["kind"] == "ConfigMap" and RAYJOB_TEMPLATE_KEY in doc.get("data", {}):
            yield f"{_name(doc)}[{RAYJOB_TEMPLATE_KEY}]", yaml.safe_load(doc["data"][RAYJOB_TEMPLATE_KEY])


def pod_templates(docs: list[Doc]) -> Iterator[tuple[str, Doc]]:
    """(where, pod template {metadata, spec}) for every pod the release creates or lets the controller create."""
    for doc in docs:
        kind = doc["kind"]
        if kind in WORKLOAD_KINDS:
            yield _name(doc), doc["spec"]["template"]
        elif kind == "CronJob":
            yield _name(doc), doc["spec"]["jobTemplate"]["spec"]["template"]
        elif kind == "Pod":
            yield _name(doc), doc
        elif kind == "RayService":
            yield from _ray_cluster_pods(_name(doc), doc["spec"]["rayClusterConfig"])
        elif kind == "RayCluster":
            yield from _ray_cluster_pods(_name(doc), doc["spec"])
    for where, job in [*((_name(d), d) for d in docs if d["kind"] == "RayJob"), *embedded_rayjobs(docs)]:
        yield from _ray_cluster_pods(where, job["spec"]["rayClusterSpec"])
        if "submitterPodTemplate" in job["spec"]:
            yield f"{where} submitter", job["spec"]["submitterPodTemplate"]


def containers(pod: Doc) -> Iterator[Doc]:
    spec = pod["spec"]
    yield from spec.get("initContainers", [])
    yield from spec.get("containers", [])


def autoscaler_sidecars(docs: list[Doc]) -> Iterator[tuple[str, Doc]]:
    """KubeRay injects the autoscaler container from autoscalerOptions: it must be hardened and bounded too."""
    clusters = [(_name(d), d["spec"]["rayClusterConfig"]) for d in docs if d["kind"] == "RayService"]
    clusters += [(_name(d), d["spec"]) for d in docs if d["kind"] == "RayCluster"]
    clusters += [(w, j["spec"]["rayClusterSpec"]) for w, j in embedded_rayjobs(docs)]
    for where, cluster in clusters:
        if cluster.get("enableInTreeAutoscaling"):
            yield f"{where} autoscaler", cluster.get("autoscalerOptions", {})


def check_pod_security(docs: list[Doc]) -> list[str]:
    """Non-root, read-only root file system, all capabilities dropped, no escalation, seccomp RuntimeDefault."""
    bad: list[str] = []
    for where, pod in pod_templates(docs):
        psc = pod["spec"].get("securityContext", {})
        if psc.get("runAsNonRoot") is not True:
            bad.append(f"{where}: pod securityContext.runAsNonRoot is not true")
        if psc.get("runAsUser", 1) == 0:
            bad.append(f"{where}: pod runs as uid 0")
        pod_seccomp = psc.get("seccompProfile", {}).get("type")
        for c in containers(pod):
            bad += _container_violations(
                f"{where} container {c['name']}", c.get("securityContext", {}), pod_seccomp
            )
    for where, options in autoscaler_sidecars(docs):
        bad += _container_violations(where, options.get("securityContext", {}), None)
    return bad


def _container_violations(where: str, sc: Doc, pod_seccomp: str | None) -> list[str]:
    bad = []
    if sc.get("runAsNonRoot") is False or sc.get("runAsUser") == 0:
        bad.append(f"{where}: runs as root")
    if sc.get("readOnlyRootFilesystem") is not True:
        bad.append(f"{where}: root file system is writable")
    if sc.get("allowPrivilegeEscalation") is not False:
        bad.append(f"{where}: allowPrivilegeEscalation is not false")
    if sc.get("privileged"):
        bad.append(f"{where}: privileged")
    caps = sc.get("capabilities", {})
    if "ALL" not in caps.get("drop", []):
        bad.append(f"{where}: capabilities are not all dropped")
    if caps.get("add"):
        bad.append(f"{where}: adds capabilities {caps['add']}")
    if sc.get("seccompProfile", {}).get("type", pod_seccomp) != "RuntimeDefault":
        bad.append(f"{where}: seccomp profile is not RuntimeDefault")
    return bad


def check_resources(docs: list[Doc]) -> list[str]:
    """Every container, the KubeRay autoscaler's included, has cpu and memory requests and limits."""
    bad: list[str] = []
    found = [
        (f"{w} container {c['name']}", c.get("resources", {}))
        for w, p in pod_templates(docs)
        for c in containers(p)
    ]
    found += [(w, o.get("resources", {})) for w, o in autoscaler_sidecars(docs)]
    for where, res in found:
        for kind in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in (res.get(kind) or {}):
                    bad.append(f"{where}: no {resource} {kind[:-1]}")
    return bad


def _selects(selector: Doc, labels: dict[str, str]) -> bool:
    """Label selector semantics (matchLabels and matchExpressions)."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expr in selector.get("matchExpressions", []):
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def executor_deployments(docs: list[Doc]) -> list[Doc]:
    return [
        d
        for d in docs
        if d["kind"] == "Deployment"
        and d["spec"]["template"]["metadata"].get("labels", {}).get("octopack.io/role") == "executor"
    ]


def check_executor_isolation(
    docs: list[Doc], controller_labels: dict[str, str], client_label: str
) -> list[str]:
    """Each executor pod is selected by a NetworkPolicy denying all egress, and every policy that selects it
    admits ingress only from the controller or from evaluation-client pods of the namespace."""
    bad: list[str] = []
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    for dep in executor_deployments(docs):
        labels = dep["spec"]["template"]["metadata"].get("labels", {})
        selecting = [p for p in policies if _selects(p["spec"].get("podSelector", {}), labels)]
        deny_egress = [
            p
            for p in selecting
            if "Egress" in p["spec"].get("policyTypes", []) and not p["spec"].get("egress")
        ]
        if not deny_egress:
            bad.append(f"{_name(dep)}: no NetworkPolicy selecting it denies all egress")
        if any(p["spec"].get("egress") for p in selecting):
            bad.append(f"{_name(dep)}: a NetworkPolicy allows egress")
        if not any("Ingress" in p["spec"].get("policyTypes", []) for p in selecting):
            bad.append(f"{_name(dep)}: ingress is not restricted")
        for p in selecting:
            for rule in p["spec"].get("ingress", []):
                bad += _ingress_violations(_name(dep), rule, controller_labels, client_label)
    return bad


def _ingress_violations(
    where: str, rule: Doc, controller_labels: dict[str, str], client_label: str
) -> list[str]:
    peers = rule.get("from")
    if not peers:
        return [f"{where}: an ingress rule admits every source"]
    ports = {str(p.get("port")) for p in rule.get("ports", [])}
    bad = []
    for peer in peers:
        if "ipBlock" in peer:
            bad.append(f"{where}: ingress from an ipBlock")
            continue
        if "namespaceSelector" in peer:
            # Only the metrics port may be opened to another namespace (Prometheus).
            if ports != {"metrics"}:
                bad.append(f"{where}: ingress from other namespaces on ports {sorted(ports) or 'all'}")
            continue
        match = peer.get("podSelector", {}).get("matchLabels", {})
        is_controller = match == controller_labels
        is_client = match == {client_label: "true"}
        if not (is_controller or is_client):
            bad.append(
                f"{where}: ingress from pods {match or 'all'} (only the controller and clients may call)"
            )
    return bad


#: (apiGroup, resource) -> verbs the controller may have.
ALLOWED_RULES: dict[tuple[str, str], set[str]] = {
    ("batch", "jobs"): {"get", "list", "watch", "create", "update", "patch", "delete"},
    ("ray.io", "rayjobs"): {"get", "list", "watch", "create", "update", "patch", "delete"},
    ("ray.io", "rayservices"): {"get", "list", "watch", "create", "update", "patch", "delete"},
    ("ray.io", "rayjobs/status"): {"get"},
    ("ray.io", "rayservices/status"): {"get"},
    ("apps", "deployments"): {"get", "list", "watch"},
    ("apps", "deployments/scale"): {"get", "update", "patch"},
}


def check_rbac(docs: list[Doc], namespace: str) -> list[str]:
    """Namespaced only; the controller's Role grants nothing beyond ALLOWED_RULES, and scale only on
    this release's executor Deployments (by name)."""
    bad: list[str] = []
    executors = {d["metadata"]["name"] for d in executor_deployments(docs)}
    for doc in docs:
        if doc["kind"] in ("ClusterRole", "ClusterRoleBinding"):
            bad.append(f"{_name(doc)}: cluster-scoped RBAC")
        if doc["kind"] == "RoleBinding":
            if doc["roleRef"]["kind"] != "Role":
                bad.append(f"{_name(doc)}: binds a {doc['roleRef']['kind']}")
            for subject in doc.get("subjects", []):
                if subject["kind"] != "ServiceAccount" or subject.get("namespace", namespace) != namespace:
                    bad.append(
                        f"{_name(doc)}: binds {subject['kind']} {subject['name']} outside the namespace"
                    )
        if doc["kind"] != "Role":
            continue
        for rule in doc.get("rules", []):
            verbs = set(rule.get("verbs", []))
            for group in rule.get("apiGroups", []):
                for resource in rule.get("resources", []):
                    allowed = ALLOWED_RULES.get((group, resource))
                    if allowed is None:
                        bad.append(f"{_name(doc)}: grants {group or 'core'}/{resource}")
                        continue
                    if not verbs <= allowed:
                        bad.append(f"{_name(doc)}: grants {sorted(verbs - allowed)} on {group}/{resource}")
                    if resource == "deployments/scale":
                        names = set(rule.get("resourceNames", []))
                        if not names or not names <= executors:
                            bad.append(
                                f"{_name(doc)}: scales Deployments {sorted(names) or 'all'}, not only executors"
                            )
            if rule.get("nonResourceURLs"):
                bad.append(f"{_name(doc)}: grants non-resource URLs")
    return bad


# ---- authentication --------------------------------------------------------------------------------------

GRPC_MODULES = ("controller", "datasets", "crawler", "filter", "executor")


def service_containers(docs: list[Doc]) -> Iterator[tuple[str, Doc]]:
    """(where, container) of every OctoPack gRPC service (the Deployments of the shared workload partial)."""
    for doc in docs:
        if doc["kind"] != "Deployment":
            continue
        for c in doc["spec"]["template"]["spec"]["containers"]:
            if c["name"] in GRPC_MODULES:
                yield f"{_name(doc)} container {c['name']}", c


def check_auth(docs: list[Doc], secret: str) -> list[str]:
    """Every gRPC service reads its token from ``secret`` (key token), which the release renders unless it is
    an existing one, and the controller hands the same Secret to its stage pods."""
    bad: list[str] = []
    rendered = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Secret"}
    if secret in rendered and "token" not in rendered[secret].get("data", {}):
        bad.append(f"Secret/{secret}: no key token")
    found = list(service_containers(docs))
    if not found:
        bad.append("no gRPC service rendered")
    for where, container in found:
        env = {e["name"]: e for e in container.get("env", [])}
        prefix = f"OCTOPACK_{container['name'].upper()}_"
        ref = env.get(prefix + "AUTH_TOKEN", {}).get("valueFrom", {}).get("secretKeyRef", {})
        if ref != {"name": secret, "key": "token"}:
            bad.append(f"{where}: {prefix}AUTH_TOKEN does not come from Secret {secret} key token")
        if container["name"] == "controller" and env.get(prefix + "AUTH_SECRET_NAME", {}).get("value") != secret:
            bad.append(f"{where}: stage pods are not given Secret {secret}")
    return bad
