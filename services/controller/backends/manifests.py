"""Kubernetes objects of a job's stages, as plain dicts (no client needed to build or test them).

Every object carries the job id as a label, so ``-l octopack.io/job-id=<id>`` finds all of them and
clean-up deletes by that selector. Each stage process runs ``octopack stage <name>`` with the job
document's spec and inputs and writes its outputs to ``s3://<bucket>/jobs/<id>/outputs/<stage>.json``.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import yaml

JOB_LABEL = "octopack.io/job-id"
STAGE_LABEL = "octopack.io/stage"
MANAGED = {"app.kubernetes.io/part-of": "octopack", "app.kubernetes.io/managed-by": "octopack-controller"}
SCALED_BY = "octopack.io/scaled-by"
REPLICAS_BEFORE = "octopack.io/replicas-before"


def labels(job_id: str, stage: str) -> dict[str, str]:
    return {**MANAGED, JOB_LABEL: job_id, STAGE_LABEL: stage}


def stage_command(job_id: str, stage: str, payload: dict[str, Any]) -> list[str]:
    """The command that runs one stage in a pod: the same code as the local backend."""
    return ["octopack", "stage", stage, "--job-id", job_id, "--payload", json.dumps(payload, sort_keys=True)]


def batch_job(
    name: str, job_id: str, stage: str, image: str, payload: dict[str, Any], service_account: str = ""
) -> dict[str, Any]:
    """A batch/v1 Job running one stage once (the controller owns retries: backoffLimit 0)."""
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "containers": [
            {
                "name": "stage",
                "image": image,
                "command": stage_command(job_id, stage, payload),
                "envFrom": [{"secretRef": {"name": "octopack-s3", "optional": True}}],
                "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True},
            }
        ],
    }
    if service_account:
        pod_spec["serviceAccountName"] = service_account
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": labels(job_id, stage)},
        "spec": {
            "backoffLimit": 0,
            "ttlSecondsAfterFinished": 3600,
            "template": {"metadata": {"labels": labels(job_id, stage)}, "spec": pod_spec},
        },
    }


def _ray_cluster(image: str) -> dict[str, Any]:
    container = {"name": "ray-head", "image": image, "resources": {"limits": {"cpu": "2", "memory": "8Gi"}}}
    return {
        "rayVersion": "2.40.0",
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
    name: str, job_id: str, image: str, payload: dict[str, Any], template: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A KubeRay RayJob that runs the train stage on its own Ray cluster, torn down afterwards."""
    body: dict[str, Any] = copy.deepcopy(template) if template else {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "spec": {"rayClusterSpec": _ray_cluster(image)},
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


def ray_service(name: str, job_id: str, image: str, model_uri: str, replicas: int, max_new_tokens: int) -> dict[str, Any]:
    """A KubeRay RayService serving the model with gRPC octopack.inference.v1.InferenceService."""
    serve_config = {
        "grpc_options": {"port": 9000, "grpc_servicer_functions": [
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
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayService",
        "metadata": {"name": name, "labels": labels(job_id, "serve")},
        "spec": {"serveConfigV2": yaml.safe_dump(serve_config, sort_keys=False), "rayClusterConfig": _ray_cluster(image)},
    }


def serve_endpoint(name: str, namespace: str) -> str:
    """KubeRay names the Serve Service ``<rayservice>-serve-svc``; 9000 is Serve's gRPC proxy."""
    return f"{name}-serve-svc.{namespace}.svc:9000"


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)
