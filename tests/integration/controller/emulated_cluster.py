"""A stand-in for a cluster's controllers over the kmock API emulator's objects (see
test_controller_kubernetes.py): Jobs and RayJobs succeed or fail, RayServices run, executor Deployments get
ready, and each stage's outputs document is what its pod would write."""

from __future__ import annotations

import asyncio
from typing import Any

from octopack.jobs.v1 import jobs_pb2
from octopack.services.controller.backends import manifests as m

NS = "octo"
JOBS, DEPLOYMENTS = "batch/v1/jobs", "apps/v1/deployments"
RAYJOBS, RAYSERVICES = "ray.io/v1/rayjobs", "ray.io/v1/rayservices"
EXECUTOR_LABELS = {"app.kubernetes.io/component": "executor"}
VERBS = {"FETCH": "get", "LIST": "list", "WATCH": "watch", "CREATE": "create", "DELETE": "delete"}



class Cluster:
    """Plays the cluster's controllers over the emulator's objects."""

    def __init__(self, kmock: Any, outputs: dict[tuple[str, str], jobs_pb2.StageOutputs]) -> None:
        self.kmock = kmock
        self.outputs = outputs
        self.fail_first: set[str] = set()  # stages whose first Job fails
        self.seen: dict[str, dict[str, Any]] = {}  # every stage object ever created, by name
        self.max_executor_replicas = 0
        self.hold: set[str] = set()  # stages left running

    def alive(self, resource: str) -> list[tuple[str, dict[str, Any]]]:
        group_version, plural = resource.rsplit("/", 1)
        group = group_version.rsplit("/", 1)[0] if "/" in group_version else ""
        out = []
        for key in list(self.kmock.objects):
            res, ns, name = key
            obj = self.kmock.objects[key]
            if (res.group, res.plural, ns) == (group, plural, NS) and not obj.deleted:
                out.append((name, obj.raw))
        return out

    async def patch(self, resource: str, name: str, body: dict[str, Any]) -> None:
        group_version, plural = resource.rsplit("/", 1)
        prefix = "/apis/" + group_version
        await self.kmock.patch(f"{prefix}/namespaces/{NS}/{plural}/{name}", json=body)

    async def run(self) -> None:
        while True:
            for resource in (JOBS, RAYJOBS, RAYSERVICES):
                for name, obj in self.alive(resource):
                    self.seen.setdefault(name, obj)
                    if obj.get("status"):
                        continue
                    labels = obj["metadata"]["labels"]
                    job_id, stage = labels[m.JOB_LABEL], labels[m.STAGE_LABEL]
                    if stage in self.hold:
                        continue
                    if resource == RAYSERVICES:
                        await self.patch(resource, name, {"status": {"serviceStatus": "Running"}})
                        continue
                    failed = stage in self.fail_first and name.endswith("-1")
                    if not failed:
                        self.outputs[(job_id, stage)] = _outputs(job_id, stage)
                    if resource == JOBS:
                        status = {"failed": 1} if failed else {"succeeded": 1}
                    else:
                        status = {"jobStatus": "FAILED" if failed else "SUCCEEDED"}
                    await self.patch(resource, name, {"status": status})
            for name, obj in self.alive(DEPLOYMENTS):
                replicas = obj["spec"]["replicas"]
                self.max_executor_replicas = max(self.max_executor_replicas, replicas)
                if (obj.get("status") or {}).get("readyReplicas") != replicas:
                    await self.patch(DEPLOYMENTS, name, {"status": {"readyReplicas": replicas}})
            await asyncio.sleep(0.02)


def _outputs(job_id: str, stage: str) -> jobs_pb2.StageOutputs:
    if stage == "train":
        return jobs_pb2.StageOutputs(model=jobs_pb2.ModelRef(name=f"{job_id}-model", uri=f"{job_id}-model@v1"))
    if stage == "evaluate":
        ev = jobs_pb2.EvaluationResult(task="synthesize", average_pass_at_1=0.5)
        ev.scores.add(language="python", pass_at_1=0.5, problems=2, passed=1)
        return jobs_pb2.StageOutputs(evaluation=ev)
    return jobs_pb2.StageOutputs(datasets=[jobs_pb2.DatasetRef(name=f"{job_id}-{stage}", version="v1", samples=3)])


def deployment_scale(kmock: Any, name: str) -> dict[str, Any]:
    """The autoscaling/v1 Scale of a stored Deployment, as the API server derives it."""
    dep = kmock.objects[DEPLOYMENTS, NS, name].raw
    selector = ",".join(f"{k}={v}" for k, v in dep["spec"]["selector"]["matchLabels"].items())
    return {
        "apiVersion": "autoscaling/v1", "kind": "Scale",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"replicas": dep["spec"].get("replicas", 0)},
        "status": {"replicas": (dep.get("status") or {}).get("replicas", 0), "selector": selector},
    }


def backend_calls(kmock: Any) -> list[tuple[str, str, str]]:
    """(API group, resource[/subresource], verb) of every request the kubernetes client sent."""
    calls = []
    for req in list(kmock):
        if not str(req.headers.get("User-Agent", "")).startswith("OpenAPI-Generator"):
            continue  # the cluster simulation's own requests
        resource = req.resource.plural + (f"/{req.subresource}" if req.subresource else "")
        verb = VERBS.get(req.action.name) or ("patch" if req.method.name == "PATCH" else "update")
        calls.append((req.resource.group, resource, verb))
    return calls
