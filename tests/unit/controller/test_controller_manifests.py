"""Kubernetes objects of the stages and how their status is read (no cluster)."""

from __future__ import annotations

import json

import yaml

from octopack.services.controller.backends import manifests as m
from octopack.services.controller.backends.kubernetes import batch_outcome, rayjob_outcome, rayservice_ready


def test_every_object_carries_the_job_label_and_runs_the_stage_command() -> None:
    payload = {"spec": {"crawl": {"repositories": ["x"]}}, "inputs": {}}
    job = m.batch_job("job-1-crawl-1", "job-1", "crawl", "img:1", payload)
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

    service = m.ray_service("job-1-serve", "job-1", "img:1", "job-1-model@v1", 2, 64)
    app = yaml.safe_load(service["spec"]["serveConfigV2"])["applications"][0]
    assert app["args"]["model"] == "job-1-model@v1" and app["args"]["max_replicas"] == 2
    assert m.serve_endpoint("job-1-serve", "ns") == "job-1-serve-serve-svc.ns.svc:9000"


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
