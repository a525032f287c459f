"""Kubernetes objects of a job's stages, as plain dicts (no client needed to build or test them).

Every object carries the job id as a label, so ``-l octopack.io/job-id=<id>`` finds all of them and
clean-up deletes by that selector. Each stage process runs ``octopack stage <name>`` with the job
document's spec and inputs and writes its outputs to ``s3://<bucket>/jobs/<id>/outputs/<stage>.json``.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

import yaml

JOB_LABEL = "octopack.io/job-id"
STAGE_LABEL = "octopack.io/stage"
MANAGED = {"app.kubernetes.io/part-of": "octopack", "app.kubernetes.io/managed-by": "octopack-controller"}
#: Ray inside the Ray image (the chart's ray.version); KubeRay's rayVersion must match it.
RAY_VERSION = "2.60.0"


def labels(job_id: str, stage: str) -> dict[str, str]:
    return {**MANAGED, JOB_LABEL: job_id, STAGE_LABEL: stage}


def stage_command(job_id: str, stage: str, payload: dict[str, Any]) -> list[str]:
    """The command that runs one stage in a pod: the same code as the local backend."""
    return ["octopack", "stage", stage, "--job-id", job_id, "--payload", json.dumps(payload, sort_keys=True)]


def s3_env(endpoint: str, bucket: str, secret_name: str, secure: bool = False) -> list[dict[str, Any]]:
    """The stage pod's OCTOPACK_S3_* variables; credentials come from the Secret, never inline."""
    env: list[dict[str, Any]] = [
        {"name": "OCTOPACK_S3_ENDPOINT", "value": endpoint},
        {"name": "OCTOPACK_S3_BUCKET", "value": bucket},
        {"name": "OCTOPACK_S3_SECURE", "value": "true" if secure else "false"},
    ]
    if secret_name:
        for var, key in (("OCTOPACK_S3_ACCESS_KEY", "accessKey"), ("OCTOPACK_S3_SECRET_KEY", "secretKey")):
            env.append({"name": var, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": key}}})
    return env


def stage_settings_env(jobs_prefix: str, executor_addresses: str) -> list[dict[str, Any]]:
    """The ``OCTOPACK_CONTROLLER_*`` settings ``octopack stage`` reads in the pod: where to write outputs (the
    controller's prefix), scratch space under the writable /tmp, and the executors evaluate calls."""
    return [
        {"name": "OCTOPACK_CONTROLLER_JOBS_PREFIX", "value": jobs_prefix},
        {"name": "OCTOPACK_CONTROLLER_WORK_DIR", "value": "/tmp/work"},
        {"name": "OCTOPACK_CONTROLLER_RESULTS_DIR", "value": "/tmp/results"},
        {"name": "OCTOPACK_CONTROLLER_EXECUTOR_ADDRESSES", "value": executor_addresses},
    ]


def auth_env(secret_name: str) -> list[dict[str, Any]]:
    """The bearer token stage pods send to the services (executors), from the chart's auth Secret."""
    if not secret_name:
        return []
    ref = {"secretKeyRef": {"name": secret_name, "key": "token"}}
    return [{"name": "OCTOPACK_CONTROLLER_AUTH_TOKEN", "valueFrom": ref}]


@dataclass
class StagePod:
    """How stage pods run: the same hardening as the chart's own pods (restricted Pod Security Standard)."""

    env: list[dict[str, Any]] = field(default_factory=list)
    service_account: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    resources: dict[str, Any] = field(
        default_factory=lambda: {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "8Gi"}}
    )
    pod_security_context: dict[str, Any] = field(
        default_factory=lambda: {"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}}
    )
    security_context: dict[str, Any] = field(
        default_factory=lambda: {
            "runAsNonRoot": True, "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
            "privileged": False, "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"},
        }
    )
    tmp_size: str = "4Gi"


def batch_job(
    name: str, job_id: str, stage: str, image: str, payload: dict[str, Any], pod: StagePod | None = None,
    extra_labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A batch/v1 Job running one stage once (the controller owns retries: backoffLimit 0)."""
    pod = pod or StagePod()
    env = [*pod.env, {"name": "HOME", "value": "/tmp"}]  # read-only root file system: home in /tmp
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,  # stages never call the Kubernetes API
        "enableServiceLinks": False,
        "securityContext": copy.deepcopy(pod.pod_security_context),
        "containers": [
            {
                "name": "stage",
                "image": image,
                "command": stage_command(job_id, stage, payload),
                "env": env,
                "resources": copy.deepcopy(pod.resources),
                "securityContext": copy.deepcopy(pod.security_context),
                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
            }
        ],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": pod.tmp_size}}],
    }
    if pod.service_account:
        pod_spec["serviceAccountName"] = pod.service_account
    pod_labels = {**pod.labels, **(extra_labels or {}), **labels(job_id, stage)}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": labels(job_id, stage)},
        "spec": {
            "backoffLimit": 0,
            "ttlSecondsAfterFinished": 3600,
            "template": {"metadata": {"labels": pod_labels}, "spec": pod_spec},
        },
    }


def _ray_cluster(image: str, ray_version: str) -> dict[str, Any]:
    container = {"name": "ray-head", "image": image, "resources": {"limits": {"cpu": "2", "memory": "8Gi"}}}
    return {
        "rayVersion": ray_version,
        "headGroupSpec": {
            "rayStartParams": {"dashboard-host": "0.0.0.0"},
            "template": {"spec": {"containers": [container]}},
        },
        "workerGroupSpecs": [
            {
                "groupName": "workers",
                "replicas": 1,
                "minReplicas": 1,
                "maxReplicas": 4,
                "rayStartParams": {},
                "template": {"spec": {"containers": [{**container, "name": "ray-worker"}]}},
            }
        ],
    }


def ray_job(
    name: str, job_id: str, image: str, payload: dict[str, Any], template: dict[str, Any] | None = None,
    ray_version: str = RAY_VERSION,
) -> dict[str, Any]:
    """A KubeRay RayJob that runs the train stage on its own Ray cluster, torn down afterwards.

    With the chart's template (its ConfigMap) the cluster, images and rayVersion are the chart's."""
    body: dict[str, Any] = copy.deepcopy(template) if template else {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "spec": {"rayClusterSpec": _ray_cluster(image, ray_version)},
    }
    meta: dict[str, Any] = body.setdefault("metadata", {})
    meta["name"] = name
    meta["labels"] = {**meta.get("labels", {}), **labels(job_id, "train")}
    spec: dict[str, Any] = body.setdefault("spec", {})
    spec["entrypoint"] = " ".join(_quote(a) for a in stage_command(job_id, "train", payload))
    spec["shutdownAfterJobFinishes"] = True
    spec.setdefault("ttlSecondsAfterFinished", 600)
    spec.setdefault("submissionMode", "K8sJobMode")
    return body


#: Names of the Serve ports on the Ray head container. KubeRay (1.6 and newer) puts every head port named
#: ``serve`` or ``serve-*`` on the ``<rayservice>-serve-svc`` Service, which selects the pods whose Serve
#: proxy is healthy; a port named otherwise is not reachable through it.
SERVE_HTTP_PORT_NAME, SERVE_GRPC_PORT_NAME = "serve", "serve-grpc"


def serve_ports(grpc_port: int, http_port: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(head container ports, serveService ports) of a RayService's Serve proxies: gRPC speaks h2c."""
    container = [
        {"name": SERVE_HTTP_PORT_NAME, "containerPort": http_port, "protocol": "TCP"},
        {"name": SERVE_GRPC_PORT_NAME, "containerPort": grpc_port, "protocol": "TCP"},
    ]
    service = [
        {"name": SERVE_HTTP_PORT_NAME, "port": http_port, "targetPort": http_port, "protocol": "TCP"},
        {"name": SERVE_GRPC_PORT_NAME, "port": grpc_port, "targetPort": grpc_port, "protocol": "TCP",
         "appProtocol": "kubernetes.io/h2c"},
    ]
    return container, service


def ray_service(
    name: str, job_id: str, image: str, model_uri: str, replicas: int, max_new_tokens: int,
    ray_version: str = RAY_VERSION, cluster: dict[str, Any] | None = None, grpc_port: int = 9000,
    http_port: int = 8000,
) -> dict[str, Any]:
    """A KubeRay RayService serving the model with gRPC octopack.inference.v1.InferenceService.

    ``cluster`` (the chart's RayJob template's cluster) replaces the minimal built-in one. The head
    container carries the Serve ports under the names KubeRay's serve Service takes (see
    :func:`serve_ports`), so :func:`serve_endpoint` reaches the gRPC proxy."""
    serve_config = {
        "http_options": {"host": "0.0.0.0", "port": http_port},
        "grpc_options": {"port": grpc_port, "grpc_servicer_functions": [
            "octopack.inference.v1.inference_pb2_grpc.add_InferenceServiceServicer_to_server"]},
        "applications": [
            {
                "name": job_id,
                "route_prefix": f"/{job_id}",
                "import_path": "octopack.services.controller.serve_deploy:app_builder",
                "args": {
                    "model": model_uri, "app_name": job_id, "min_replicas": replicas, "max_replicas": replicas,
                    "default_max_new_tokens": max_new_tokens,
                },
            }
        ],
    }
    ray_cluster = copy.deepcopy(cluster) if cluster else _ray_cluster(image, ray_version)
    container_ports, service_ports = serve_ports(grpc_port, http_port)
    head = ray_cluster["headGroupSpec"]["template"]["spec"]["containers"][0]
    ports = [p for p in head.get("ports", []) if p.get("name") not in {SERVE_HTTP_PORT_NAME, SERVE_GRPC_PORT_NAME}
             and p.get("containerPort") not in {grpc_port, http_port}]
    head["ports"] = [*ports, *container_ports]
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayService",
        "metadata": {"name": name, "labels": labels(job_id, "serve")},
        "spec": {
            "serveConfigV2": yaml.safe_dump(serve_config, sort_keys=False),
            "rayClusterConfig": ray_cluster,
            "serveService": {"spec": {"ports": service_ports}},
        },
    }


def serve_endpoint(name: str, namespace: str, grpc_port: int = 9000) -> str:
    """KubeRay names the Serve Service ``<rayservice>-serve-svc``; ``grpc_port`` is Serve's gRPC proxy there."""
    return f"{name}-serve-svc.{namespace}.svc:{grpc_port}"


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)
