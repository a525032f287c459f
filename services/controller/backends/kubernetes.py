"""The ``kubernetes`` backend: crawl and filter in the CrawlerService and FilterService (which run them
on the chart's KubeRay cluster), a KubeRay RayJob for training, a RayService for serving, a batch Job per
evaluate attempt; executor Deployments scaled up while evaluating.

Every object is labelled ``octopack.io/job-id=<id>`` and ``octopack.io/stage=<stage>``. A runner
first adopts what an earlier attempt (or an earlier controller) left: finished outputs in the object
store are returned as they are, a still-running object is watched instead of created again, so a
restarted controller never runs a finished stage twice. The controller polls object status; it
needs no watch permission.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from octopack.common.errors import FailedPrecondition
from octopack.common.objectstore import S3Settings
from octopack.jobs.v1 import jobs_pb2
from octopack.services.controller.backends import manifests as m
from octopack.services.controller.backends.base import Backend, StageContext
from octopack.services.controller.backends.data_stages import CrawlStage, FilterStage
from octopack.services.controller.backends.executors import ExecutorScaler
from octopack.services.controller.backends.outputs import OutputsReader, s3_outputs_reader
from octopack.services.controller.settings import ControllerSettings

log = logging.getLogger(__name__)
K = jobs_pb2.StageKind
RAY_GROUP, RAY_VERSION = "ray.io", "v1"

#: Every (API group, resource, verb) this backend (with its ExecutorScaler) calls, and nothing more: the chart's Role must grant
#: exactly these (tests/chart/test_controller_contract.py compares them; the kmock tests check each request against them).
REQUIRED_RBAC: frozenset[tuple[str, str, str]] = frozenset(
    {
        *(("batch", "jobs", verb) for verb in ("create", "get", "list", "delete")),
        *(("ray.io", "rayjobs", verb) for verb in ("create", "get", "list", "delete")),
        *(("ray.io", "rayservices", verb) for verb in ("create", "get", "list", "delete")),
        ("apps", "deployments", "list"),  # finds the executors by label, reads their readiness
        ("apps", "deployments/scale", "get"),  # only the executor Deployments (resourceNames)
        ("apps", "deployments/scale", "patch"),
    }
)


class StageObjectFailed(RuntimeError):
    """The stage's Kubernetes object reported failure (retried by the controller)."""


def payload(ctx: StageContext) -> dict[str, Any]:
    """What ``octopack stage`` needs: the spec and the resolved inputs."""
    return {"spec": json_format.MessageToDict(ctx.spec), "inputs": ctx.inputs, "attempt": ctx.attempt}


def _status(obj: Any) -> dict[str, Any]:
    if isinstance(obj, dict):
        return obj.get("status") or {}
    return (obj.to_dict() if obj is not None else {}).get("status") or {}


def batch_outcome(status: dict[str, Any]) -> bool | None:
    """True succeeded, False failed, None still running."""
    if (status.get("succeeded") or 0) >= 1:
        return True
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    if (status.get("failed") or 0) >= 1 or conditions.get("Failed") == "True":
        return False
    return None


def rayjob_outcome(status: dict[str, Any]) -> bool | None:
    job_status = status.get("jobStatus", "")
    if job_status == "SUCCEEDED":
        return True
    if job_status in {"FAILED", "STOPPED"} or status.get("jobDeploymentStatus") == "Failed":
        return False
    return None


def rayservice_ready(status: dict[str, Any]) -> bool:
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    return status.get("serviceStatus") == "Running" or conditions.get("Ready") == "True"


class KubernetesBackend(Backend):
    """Runs stages as cluster objects through the official ``kubernetes`` client."""

    name = "kubernetes"

    def __init__(
        self, api_client: Any, settings: ControllerSettings, outputs: OutputsReader, s3: S3Settings | None = None,
        store_factory: Callable[[], Any] | None = None,
    ) -> None:
        from kubernetes import client

        self.settings = settings
        self.ns = settings.namespace
        self.batch = client.BatchV1Api(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)
        self.outputs = outputs
        self.poll = settings.kube_poll_seconds
        self.template = _load_yaml(settings.rayjob_template)
        self.serve_cluster = _load_yaml(settings.rayservice_cluster_template)
        s3 = s3 or S3Settings()
        self.pod = m.StagePod(
            env=[
                *m.s3_env(s3.host, s3.bucket, settings.s3_secret_name, s3.use_tls),
                *m.stage_settings_env(settings.jobs_prefix, settings.executor_addresses),
                *m.auth_env(settings.auth_secret_name),
            ],
            service_account=settings.stage_service_account,
            labels=dict(settings.stage_pod_labels),
            resources=settings.stage_resources,
            pod_security_context=settings.stage_pod_security_context,
            security_context=settings.stage_security_context,
            tmp_size=settings.stage_tmp_size,
        )
        self.executors = ExecutorScaler(self.apps, self.ns, settings, self.poll)
        self.crawl = CrawlStage(settings.crawler_address, store_factory or _dataset_store, settings.auth_token)
        self.filter = FilterStage(settings.filter_address, settings.auth_token)
        super().__init__(
            {
                K.STAGE_KIND_CRAWL: self.crawl,
                K.STAGE_KIND_FILTER: self.filter,
                K.STAGE_KIND_TRAIN: _Runner(self._train),
                K.STAGE_KIND_SERVE: _Runner(self._serve),
                K.STAGE_KIND_EVALUATE: _Runner(self._evaluate),
            }
        )

    @classmethod
    def from_settings(cls, settings: ControllerSettings) -> KubernetesBackend:
        from kubernetes import client, config

        try:
            config.load_incluster_config()
        except config.ConfigException:
            config.load_kube_config()
        from octopack.common.objectstore import ObjectStore

        s3 = S3Settings()
        store = ObjectStore(s3)
        return cls(client.ApiClient(), settings, s3_outputs_reader(store, settings.jobs_prefix), s3)

    # -- helpers ---------------------------------------------------------------------------------
    async def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)

    def _selector(self, job_id: str, stage: str | None = None) -> str:
        sel = f"{m.JOB_LABEL}={job_id}"
        return f"{sel},{m.STAGE_LABEL}={stage}" if stage else sel

    async def _existing_batch(self, ctx: StageContext) -> list[Any]:
        found = await self._call(
            self.batch.list_namespaced_job, self.ns, label_selector=self._selector(ctx.job_id, ctx.stage)
        )
        return [o for o in found.items if _owned(o, ctx.job_id, ctx.stage)]

    def _finished(self, ctx: StageContext) -> jobs_pb2.StageOutputs:
        outputs = self.outputs(ctx.job_id, ctx.stage)
        if outputs is None:
            raise StageObjectFailed(f"the {ctx.stage} pod succeeded but wrote no outputs document")
        return outputs

    # -- the evaluation pod ---------------------------------------------------------------------
    async def _batch_stage(self, ctx: StageContext) -> jobs_pb2.StageOutputs:
        done = self.outputs(ctx.job_id, ctx.stage)
        if done is not None:
            return done  # an earlier attempt finished; its outputs are final
        name = None
        for obj in await self._existing_batch(ctx):
            if batch_outcome(_status(obj)) is not False:
                name = obj.metadata.name  # adopt a running (or just succeeded) attempt
        if name is None:
            name = f"{ctx.output_name()}-{ctx.attempt}"
            extra = {self.settings.executor_client_label: "true"} if ctx.kind == K.STAGE_KIND_EVALUATE else {}
            body = m.batch_job(name, ctx.job_id, ctx.stage, self.settings.image, payload(ctx), self.pod, extra)
            await self._call(self.batch.create_namespaced_job, self.ns, body)
            ctx.report(0.05, f"created Job {name}")
        while True:
            obj = await self._call(self.batch.read_namespaced_job, name, self.ns)
            outcome = batch_outcome(_status(obj))
            if outcome is True:
                return self._finished(ctx)
            if outcome is False:
                raise StageObjectFailed(f"Job {name} failed; see kubectl logs job/{name}")
            await asyncio.sleep(self.poll)

    # -- train -----------------------------------------------------------------------------------
    async def _train(self, ctx: StageContext) -> jobs_pb2.StageOutputs:
        done = self.outputs(ctx.job_id, ctx.stage)
        if done is not None:
            return done
        found = await self._call(
            self.custom.list_namespaced_custom_object, RAY_GROUP, RAY_VERSION, self.ns, "rayjobs",
            label_selector=self._selector(ctx.job_id, "train"),
        )
        name = None
        for obj in found.get("items", []):
            if _owned(obj, ctx.job_id, "train") and rayjob_outcome(_status(obj)) is not False:
                name = obj["metadata"]["name"]
        if name is None:
            name = f"{ctx.output_name()}-{ctx.attempt}"
            body = m.ray_job(
                name, ctx.job_id, self.ray_image, payload(ctx), self.template, self.settings.ray_version
            )
            await self._call(self.custom.create_namespaced_custom_object, RAY_GROUP, RAY_VERSION, self.ns, "rayjobs", body)
            ctx.report(0.05, f"created RayJob {name}")
        while True:
            obj = await self._call(
                self.custom.get_namespaced_custom_object, RAY_GROUP, RAY_VERSION, self.ns, "rayjobs", name
            )
            outcome = rayjob_outcome(_status(obj))
            if outcome is True:
                return self._finished(ctx)
            if outcome is False:
                raise StageObjectFailed(f"RayJob {name} failed: {_status(obj).get('message', '')}")
            await asyncio.sleep(self.poll)

    # -- serve -----------------------------------------------------------------------------------
    async def _serve(self, ctx: StageContext) -> jobs_pb2.StageOutputs:
        from kubernetes.client.exceptions import ApiException

        name = ctx.output_name()
        model = ctx.inputs.get("model", "")
        if not model:
            raise FailedPrecondition("serve: no model to serve (spec.serve.model or a train stage)")
        serve = ctx.spec.serve
        body = m.ray_service(
            name, ctx.job_id, self.ray_image, model, serve.replicas or 1, serve.max_new_tokens or 256,
            self.settings.ray_version, self.serve_cluster, self.settings.serve_grpc_port, self.settings.serve_http_port,
        )
        try:
            await self._call(self.custom.create_namespaced_custom_object, RAY_GROUP, RAY_VERSION, self.ns, "rayservices", body)
            ctx.report(0.05, f"created RayService {name}")
        except ApiException as exc:
            if exc.status != 409:  # 409: an earlier attempt created it; watch that one
                raise
        while True:
            obj = await self._call(
                self.custom.get_namespaced_custom_object, RAY_GROUP, RAY_VERSION, self.ns, "rayservices", name
            )
            if rayservice_ready(_status(obj)):
                endpoint = m.serve_endpoint(name, self.ns, self.settings.serve_grpc_port)
                return jobs_pb2.StageOutputs(endpoint=endpoint, details={"rayservice": name})
            await asyncio.sleep(self.poll)

    # -- evaluate --------------------------------------------------------------------------------
    @property
    def ray_image(self) -> str:
        return self.settings.ray_image or self.settings.image

    async def _evaluate(self, ctx: StageContext) -> jobs_pb2.StageOutputs:
        await self.executors.scale_up(ctx)
        await self.executors.wait_ready()
        ctx.report(0.1, "executors ready")
        return await self._batch_stage(ctx)

    async def cleanup(self, job: jobs_pb2.Job) -> None:
        """Cancel crawls and filter runs the job does not keep; delete the job's Jobs and RayJobs, its
        RayService (unless kept); restore executor sizes."""
        await self.crawl.forget(job)
        await self.filter.forget(job)
        from kubernetes.client import V1DeleteOptions

        selector = self._selector(job.id)
        background = V1DeleteOptions(propagation_policy="Background")
        for obj in (await self._call(self.batch.list_namespaced_job, self.ns, label_selector=selector)).items:
            if not _owned(obj, job.id):
                continue
            await self._ignore_missing(self.batch.delete_namespaced_job, obj.metadata.name, self.ns, body=background)
        kinds = ["rayjobs"]
        keep = job.spec.serve.keep and not job.cancel_requested and job.state != jobs_pb2.STATE_FAILED
        if not keep:
            kinds.append("rayservices")
        for plural in kinds:
            found = await self._call(
                self.custom.list_namespaced_custom_object, RAY_GROUP, RAY_VERSION, self.ns, plural, label_selector=selector
            )
            for obj in found.get("items", []):
                if not _owned(obj, job.id):
                    continue
                await self._ignore_missing(
                    self.custom.delete_namespaced_custom_object, RAY_GROUP, RAY_VERSION, self.ns, plural,
                    obj["metadata"]["name"],
                )
        await self.executors.restore(job)

    async def _ignore_missing(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        from kubernetes.client.exceptions import ApiException

        try:
            return await self._call(fn, *args, **kwargs)
        except ApiException as exc:
            if exc.status != 404:
                raise
            return None


class _Runner:
    def __init__(self, fn: Callable[[StageContext], Any]) -> None:
        self.fn = fn

    async def run(self, ctx: StageContext) -> jobs_pb2.StageOutputs:
        result: jobs_pb2.StageOutputs = await self.fn(ctx)
        return result


def _dataset_store() -> Any:
    from octopack.datasets.store import DatasetStore

    return DatasetStore.from_settings()


def _owned(obj: Any, job_id: str, stage: str | None = None) -> bool:
    """The object carries the job's (and stage's) labels; checked here too, not only by the selector."""
    doc = obj if isinstance(obj, dict) else obj.to_dict()
    meta = doc.get("metadata") or {}
    labels = meta.get("labels") or {}
    return labels.get(m.JOB_LABEL) == job_id and (stage is None or labels.get(m.STAGE_LABEL) == stage)


def _load_yaml(path: Path | None) -> dict[str, Any] | None:
    """A YAML document the chart mounts from its ConfigMap (the RayJob template, the serve cluster)."""
    if path is None or not path.exists():
        return None
    import yaml

    loaded = yaml.safe_load(path.read_text())
    return loaded if isinstance(loaded, dict) else None
