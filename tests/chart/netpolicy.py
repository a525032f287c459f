"""NetworkPolicy checks over rendered manifests: who may reach a pod, and where a pod that fetches from the
internet may go. Each returns the list of violations (empty: the policy holds)."""

from __future__ import annotations

from tests.chart.policy import Doc, _name, _selects


def _labels(pod: Doc) -> dict[str, str]:
    return dict(pod.get("metadata", {}).get("labels", {}))


def policies_selecting(docs: list[Doc], pod: Doc, kind: str) -> list[Doc]:
    """The NetworkPolicies of ``docs`` that select ``pod`` and restrict its ``kind`` (Ingress or Egress)."""
    return [
        p for p in docs
        if p["kind"] == "NetworkPolicy" and kind in p["spec"].get("policyTypes", [])
        and _selects(p["spec"].get("podSelector", {}), _labels(pod))
    ]


def _open_peer(peer: Doc) -> str:
    """Why a peer admits more than named pods and namespaces ('' when it does not)."""
    if "ipBlock" in peer:
        return f"ipBlock {peer['ipBlock'].get('cidr')}"
    pods, namespaces = peer.get("podSelector"), peer.get("namespaceSelector")
    if namespaces is not None and not (namespaces.get("matchLabels") or namespaces.get("matchExpressions")):
        return "every namespace"
    if namespaces is None and pods is not None and not (pods.get("matchLabels") or pods.get("matchExpressions")):
        return "every pod of the namespace"
    return ""


def check_ingress(docs: list[Doc], pods: list[tuple[str, Doc]]) -> list[str]:
    """Each pod is selected by an ingress policy, and every ingress rule that selects it names its sources."""
    bad: list[str] = []
    for where, pod in pods:
        selecting = policies_selecting(docs, pod, "Ingress")
        if not selecting:
            bad.append(f"{where}: no NetworkPolicy restricts its ingress")
        for p in selecting:
            for rule in p["spec"].get("ingress", []):
                peers = rule.get("from")
                if not peers:
                    bad.append(f"{where}: {_name(p)} admits every source")
                for peer in peers or []:
                    why = _open_peer(peer)
                    if why:
                        bad.append(f"{where}: {_name(p)} admits {why}")
    return bad


def check_store_ingress(docs: list[Doc], release: str) -> list[str]:
    """MinIO admits only this release's OctoPack pods."""
    bad: list[str] = []
    minio = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet") and "minio" in d["metadata"]["name"]]
    for dep in minio:
        pod = dep["spec"]["template"]
        selecting = policies_selecting(docs, pod, "Ingress")
        if not selecting:
            bad.append(f"{_name(dep)}: no NetworkPolicy restricts its ingress")
        for p in selecting:
            for rule in p["spec"].get("ingress", []):
                for peer in rule.get("from") or [{}]:
                    match = peer.get("podSelector", {}).get("matchLabels", {})
                    if "namespaceSelector" in peer or "ipBlock" in peer or match.get(
                            "app.kubernetes.io/instance") != release or match.get("app.kubernetes.io/part-of") != "octopack":
                        bad.append(f"{_name(dep)}: {_name(p)} admits {peer or 'everything'}")
    return bad


#: Ranges that must never be reachable as repository hosts.
INTERNAL_RANGES = ("10.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16")


def check_fetch_egress(
    docs: list[Doc], pod: Doc, where: str, ports: set[int], store_ports: frozenset[int] = frozenset(),
) -> list[str]:
    """A pod that fetches repositories may reach DNS (port 53), the store (the chart's MinIO, or any address
    on ``store_ports`` for an external one), the data RayCluster's dashboard (8265), and public addresses on
    ``ports``."""
    import ipaddress

    bad: list[str] = []
    selecting = policies_selecting(docs, pod, "Egress")
    if not selecting:
        return [f"{where}: no NetworkPolicy restricts its egress"]
    for p in selecting:
        for rule in p["spec"].get("egress", []):
            rule_ports = {int(x["port"]) for x in rule.get("ports", []) if str(x.get("port", "")).isdigit()}
            peers = rule.get("to")
            if not rule.get("ports"):
                bad.append(f"{where}: {_name(p)} allows egress on every port")
                continue
            if rule_ports == {53}:
                continue  # DNS
            if not peers and rule_ports <= store_ports:
                continue  # an external S3 server, wherever it is
            for peer in peers or [{}]:
                if "ipBlock" not in peer:
                    match = peer.get("podSelector", {}).get("matchLabels", {})
                    component = match.get("app.kubernetes.io/component")
                    # The store, and the data RayCluster's job API (where the crawler submits its crawls).
                    if component != "minio" and not (component == "data" and rule_ports <= {8265}):
                        bad.append(f"{where}: {_name(p)} allows egress to {peer or 'anywhere'} on {sorted(rule_ports)}")
                    continue
                if not rule_ports <= ports:
                    bad.append(f"{where}: {_name(p)} opens ports {sorted(rule_ports - ports)} to the internet")
                block = peer["ipBlock"]
                cidr = ipaddress.ip_network(block["cidr"])
                excepted = [ipaddress.ip_network(e) for e in block.get("except", [])]
                for internal in map(ipaddress.ip_network, INTERNAL_RANGES):
                    if internal.version == cidr.version and internal.overlaps(cidr) and not any(
                            internal.subnet_of(e) for e in excepted if e.version == internal.version):
                        bad.append(f"{where}: {_name(p)} reaches {internal}")
    return list(dict.fromkeys(bad))
