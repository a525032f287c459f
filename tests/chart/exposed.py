"""What a release exposes (Services and their ports, Secrets and their keys, the Services KubeRay makes for
RayServices and RayClusters) and what objects refer to (``<service>.<namespace>.svc:<port>`` addresses, Secret keys), so a
test can check every reference against what exists.

KubeRay's Services follow its operator code (ray-operator/controllers/ray/common/service.go, 1.6 and newer):
``<rayservice>-head-svc`` carries every port of the head's Ray container; ``<rayservice>-serve-svc`` carries
the head ports named ``serve`` or ``serve-*`` (a port of spec.serveService with the same name replaces the
detected one, every other port of spec.serveService is dropped). A head port named anything else (``grpc``)
is not on the serve Service.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

Doc = dict[str, Any]
ADDRESS = re.compile(r"\b([a-z0-9]([a-z0-9-]*[a-z0-9])?)\.([a-z0-9-]+)\.svc(?:\.cluster\.local)?:(\d+)\b")
#: The port KubeRay adds to every head Service when the head container declares no metrics port.
KUBERAY_METRICS_PORT = 8080


@dataclass
class Exposed:
    """Services (``name.namespace`` -> ports) and Secrets (name -> keys) a release and KubeRay provide."""

    services: dict[str, set[int]] = field(default_factory=dict)
    secrets: dict[str, set[str]] = field(default_factory=dict)

    def add_docs(self, docs: list[Doc], namespace: str) -> Exposed:
        for doc in docs:
            kind, name = doc.get("kind"), doc.get("metadata", {}).get("name", "")
            if kind == "Service":
                self.services[f"{name}.{namespace}"] = {int(p["port"]) for p in doc["spec"].get("ports", [])}
            elif kind == "Secret":
                self.secrets[name] = set(doc.get("data", {})) | set(doc.get("stringData", {}))
            elif kind == "RayService":
                self.services.update({f"{k}.{namespace}": v for k, v in kuberay_services(doc).items()})
            elif kind == "RayCluster":
                self.services[f"{name}-head-svc.{namespace}"] = _head_service(doc["spec"])
        return self


def _head_ports(cluster: Doc) -> dict[str, int]:
    head = cluster["headGroupSpec"]["template"]["spec"]["containers"][0]
    return {p.get("name") or f"{p['containerPort']}-port": int(p["containerPort"]) for p in head.get("ports", [])}


def _head_service(cluster: Doc) -> set[int]:
    """The ports of ``<cluster>-head-svc``, which KubeRay creates for a RayCluster and a RayService alike."""
    ports = _head_ports(cluster)
    return set(ports.values()) | ({KUBERAY_METRICS_PORT} if "metrics" not in ports else set())


def kuberay_services(rayservice: Doc) -> dict[str, set[int]]:
    """The Services KubeRay creates for a RayService: name -> ports."""
    name = rayservice["metadata"]["name"]
    ports = _head_ports(rayservice["spec"]["rayClusterConfig"])
    head = _head_service(rayservice["spec"]["rayClusterConfig"])
    serving = {n: p for n, p in ports.items() if n == "serve" or n.startswith("serve-")}
    user = {p.get("name"): int(p["port"])
            for p in (rayservice["spec"].get("serveService") or {}).get("spec", {}).get("ports", [])}
    if not serving:  # KubeRay falls back to a user port named exactly "serve"
        serve = {user["serve"]} if "serve" in user else set()
    else:
        serve = {user.get(n, p) for n, p in serving.items()}
    services = {f"{name}-head-svc": head}
    if serve:
        services[f"{name}-serve-svc"] = serve
    return services


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def addresses(value: Any) -> set[tuple[str, int]]:
    """Every ``<service>.<namespace>.svc:<port>`` in ``value`` (env values, commands, JSON payloads)."""
    return {(f"{m.group(1)}.{m.group(3)}", int(m.group(4))) for s in _strings(value) for m in ADDRESS.finditer(s)}


def secret_keys(value: Any) -> set[tuple[str, str]]:
    """Every (Secret, key) a ``secretKeyRef`` or a secret volume of ``value`` reads (key '*' for a whole Secret)."""
    found: set[tuple[str, str]] = set()
    if isinstance(value, dict):
        ref = value.get("secretKeyRef")
        if isinstance(ref, dict):
            found.add((ref["name"], ref["key"]))
        volume = value.get("secret")
        if isinstance(volume, dict) and "secretName" in volume:
            found.add((volume["secretName"], "*"))
        for item in value.values():
            found |= secret_keys(item)
    elif isinstance(value, list):
        for item in value:
            found |= secret_keys(item)
    return found


def missing(refs_from: dict[str, Any], exposed: Exposed) -> list[str]:
    """What ``refs_from`` (where -> object) refers to that ``exposed`` lacks, in words."""
    bad: list[str] = []
    for where, obj in refs_from.items():
        for service, port in sorted(addresses(obj)):
            ports = exposed.services.get(service)
            if ports is None:
                bad.append(f"{where}: refers to {service}.svc:{port}, but there is no Service {service}")
            elif port not in ports:
                bad.append(f"{where}: refers to {service}.svc:{port}, but that Service has ports {sorted(ports)}")
        for secret, key in sorted(secret_keys(obj)):
            keys = exposed.secrets.get(secret)
            if keys is None:
                bad.append(f"{where}: reads Secret {secret}, which the release does not provide")
            elif key != "*" and key not in keys:
                bad.append(f"{where}: reads key {key} of Secret {secret}, which has {sorted(keys)}")
    return bad
