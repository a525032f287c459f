"""Kubernetes objects of the stages and how their status is read (no cluster)."""

from __future__ import annotations

import json

import yaml

from octopack.services.controller.backends import manifests as m
from octopack.services.controller.backends.kubernetes import batch_outcome, rayjob_outcome, rayservice_ready


def test_every_object_carries_the_job_label_and_runs_the_stage_command() -> None:
    payload = {"spec": {"crawl": {"repositories": ["x"]}}, "inputs": {}}
    pod = m.StagePod(env=m.s3_env("minio:9000", "octopack", "octopack-s3"))
    job = m.batch_job("job-1-crawl-1", "job-1", "crawl", "img:1", payload, pod)
    assert job["metadata"]["labels"][m.JOB_LABEL] == "job-1"
    assert job["spec"]["template"]["metadata"]["labels"][m.STAGE_LABEL] == "crawl"
    assert job["spec"]["backoffLimit"] == 0  # the controller owns retries
    command = job["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[:3] == ["octopack", "stage", "crawl"]
    assert json.loads(command[command.index("--payload") + 1]) == payload

    rayjob = m.ray_job("job-1-train-1", "job-1", "img:1", payload)
    assert rayjob["kind"] == "RayJob" and rayjob["metadata"]["labels"][m.STAGE_LABEL] == "train"
    assert rayjob["spec"]["entrypoint"].startswith("octopack stage train --job-id job-1")
    assert rayjob["spec"]["shutdownAfterJobFinishes"] is True

    assert rayjob["spec"]["rayClusterSpec"]["rayVersion"] == m.RAY_VERSION == "2.60.0"

    service = m.ray_service("job-1-serve", "job-1", "img:1", "job-1-model@v1", 2, 64)
    assert service["spec"]["rayClusterConfig"]["rayVersion"] == "2.60.0"
    app = yaml.safe_load(service["spec"]["serveConfigV2"])["applications"][0]
    assert app["args"]["model"] == "job-1-model@v1" and app["args"]["max_replicas"] == 2
    assert m.serve_endpoint("job-1-serve", "ns") == "job-1-serve-serve-svc.ns.svc:9000"


def test_stage_pod_reads_s3_credentials_from_the_secret_and_is_hardened() -> None:
    pod = m.StagePod(
        env=m.s3_env("minio:9000", "octopack", "octopack-s3", secure=False), service_account="octopack-stage",
        labels={"app.kubernetes.io/instance": "octopack"},
    )
    job = m.batch_job("job-1-evaluate-1", "job-1", "evaluate", "img:1", {}, pod, {"octopack.io/executor-client": "true"})
    spec = job["spec"]["template"]["spec"]
    container = spec["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["OCTOPACK_S3_ENDPOINT"]["value"] == "minio:9000"
    assert env["OCTOPACK_S3_BUCKET"]["value"] == "octopack" and env["OCTOPACK_S3_SECURE"]["value"] == "false"
    for var, key in [("OCTOPACK_S3_ACCESS_KEY", "accessKey"), ("OCTOPACK_S3_SECRET_KEY", "secretKey")]:
        assert env[var] == {"name": var, "valueFrom": {"secretKeyRef": {"name": "octopack-s3", "key": key}}}
    assert env["HOME"]["value"] == "/tmp"
    assert spec["serviceAccountName"] == "octopack-stage" and spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] > 0
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]} and sc["runAsNonRoot"] is True
    assert set(container["resources"]) == {"requests", "limits"}
    assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert spec["volumes"][0]["name"] == "tmp" and "emptyDir" in spec["volumes"][0]
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/instance"] == "octopack" and labels["octopack.io/executor-client"] == "true"
    assert labels[m.JOB_LABEL] == "job-1"
    no_secret = {e["name"] for e in m.s3_env("s3:443", "b", "", secure=True)}
    assert not no_secret & {"OCTOPACK_S3_ACCESS_KEY", "OCTOPACK_S3_SECRET_KEY"}


def test_serve_cluster_from_the_chart_replaces_the_built_in_one() -> None:
    head = {"name": "ray-head", "ports": [{"name": "gcs-server", "containerPort": 6379}]}
    cluster = {"rayVersion": "2.60.0", "headGroupSpec": {"chart": True, "template": {"spec": {"containers": [head]}}}}
    service = m.ray_service("job-1-serve", "job-1", "img:1", "m@v1", 1, 64, cluster=cluster, grpc_port=9100)
    got = service["spec"]["rayClusterConfig"]
    assert got["headGroupSpec"]["chart"] is True and got["rayVersion"] == "2.60.0"
    assert cluster["headGroupSpec"]["template"]["spec"]["containers"][0]["ports"] == [
        {"name": "gcs-server", "containerPort": 6379}]  # a copy: the loaded template stays as it is
    # The Serve ports carry the names KubeRay puts on <name>-serve-svc, where serve_endpoint points.
    ports = {p["name"]: p["containerPort"] for p in got["headGroupSpec"]["template"]["spec"]["containers"][0]["ports"]}
    assert ports == {"gcs-server": 6379, "serve": 8000, "serve-grpc": 9100}
    assert {p["name"]: p["port"] for p in service["spec"]["serveService"]["spec"]["ports"]} == {
        "serve": 8000, "serve-grpc": 9100}
    assert yaml.safe_load(service["spec"]["serveConfigV2"])["grpc_options"]["port"] == 9100
    assert m.serve_endpoint("job-1-serve", "ns", 9100) == "job-1-serve-serve-svc.ns.svc:9100"


def test_rayjob_template_keeps_its_cluster_and_gets_name_labels_entrypoint() -> None:
    template = {"apiVersion": "ray.io/v1", "kind": "RayJob", "metadata": {"labels": {"team": "ml"}},
                "spec": {"rayClusterSpec": {"headGroupSpec": {"custom": True}}}}
    body = m.ray_job("n", "job-2", "img", {}, template)
    assert body["spec"]["rayClusterSpec"] == {"headGroupSpec": {"custom": True}}
    assert body["metadata"]["labels"]["team"] == "ml" and body["metadata"]["labels"][m.JOB_LABEL] == "job-2"
    assert "metadata" not in template or "name" not in template["metadata"]  # the template is not modified


def test_status_readers() -> None:
    assert batch_outcome({}) is None
    assert batch_outcome({"active": 1}) is None
    assert batch_outcome({"succeeded": 1}) is True
    assert batch_outcome({"failed": 1}) is False
    assert batch_outcome({"conditions": [{"type": "Failed", "status": "True"}]}) is False
    assert rayjob_outcome({"jobStatus": "RUNNING"}) is None
    assert rayjob_outcome({"jobStatus": "SUCCEEDED"}) is True
    assert rayjob_outcome({"jobDeploymentStatus": "Failed"}) is False
    assert not rayservice_ready({"serviceStatus": "WaitForServeDeploymentReady"})
    assert rayservice_ready({"conditions": [{"type": "Ready", "status": "True"}]})
