"""The kubernetes backend against the kmock API emulator, through the official ``kubernetes`` client.

Crawl and filter go through real CrawlerService and FilterService servers (what the chart deploys),
which run them as Ray jobs on the session's real Ray head against the real S3 server. kmock has no
controllers, so a small "cluster" coroutine plays them for the rest: it marks Jobs and RayJobs
succeeded (or failed), RayServices running and executor Deployments ready, and writes the outputs
documents that stage pods would write.

kmock stores objects but knows no subresources: it applies a PATCH of ``deployments/<name>/scale`` to
the Deployment itself (which is what the API server does with ``spec.replicas``) and would answer a GET
of ``.../scale`` with the whole Deployment. The fixture registers ``scale`` as a subresource of
deployments (API discovery lists ``deployments/scale``) and answers both verbs with an
``autoscaling/v1`` Scale built from the stored Deployment, as the API server does. Every request the
backend sends is checked against :data:`REQUIRED_RBAC`, which the chart's Role must grant exactly.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest
import yaml
from controller_procs import make_repo
from emulated_cluster import (
    DEPLOYMENTS,
    EXECUTOR_LABELS,
    JOBS,
    NS,
    RAYJOBS,
    RAYSERVICES,
    Cluster,
    backend_calls,
    deployment_scale,
)

from octopack.common.objectstore import S3Settings
from octopack.common.server import start_server
from octopack.datasets.store import DatasetStore
from octopack.jobs.v1 import jobs_pb2
from octopack.services.controller.backends import manifests as m
from octopack.services.controller.backends.executors import REPLICAS_BEFORE
from octopack.services.controller.backends.kubernetes import REQUIRED_RBAC, KubernetesBackend
from octopack.services.controller.engine import Controller
from octopack.services.controller.settings import ControllerSettings
from octopack.services.controller.store import MemoryStore
from octopack.services.crawler.server import crawler_service
from octopack.services.crawler.settings import CrawlerSettings
from octopack.services.filter.server import filter_service
from octopack.services.filter.settings import FilterSettings

pytestmark = [pytest.mark.integration, pytest.mark.ray]
S = jobs_pb2.State


@pytest.fixture
async def cluster(kmock: Any):  # type: ignore[no-untyped-def]
    for resource, kind in [(JOBS, "Job"), (RAYJOBS, "RayJob"), (RAYSERVICES, "RayService")]:
        kmock.resources[resource] = kmock.ResourceInfo(kind=kind, namespaced=True)
    kmock.resources[DEPLOYMENTS] = kmock.ResourceInfo(kind="Deployment", namespaced=True, subresources={"scale"})
    deployments, scale = kmock.resource("apps", "v1", "deployments"), kmock.subresource("scale")
    kmock["get", deployments, scale] << (lambda req: deployment_scale(kmock, req.name))
    # The emulator has already merged the body ({"spec": {"replicas": n}}) into the Deployment.
    kmock["patch", deployments, scale] << (lambda req: deployment_scale(kmock, req.name))
    for lang, replicas in (("python", 0), ("rust", 3)):
        kmock.objects[DEPLOYMENTS, NS, f"octopack-executor-{lang}"] = {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": f"octopack-executor-{lang}", "namespace": NS, "labels": EXECUTOR_LABELS},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"octopack.io/language": lang}},
                "template": {
                    "metadata": {"labels": {"octopack.io/language": lang}},
                    "spec": {"containers": [{"name": "executor", "image": f"octopack-executor-{lang}:test"}]},
                },
            },
        }
    outputs: dict[tuple[str, str], jobs_pb2.StageOutputs] = {}
    sim = Cluster(kmock, outputs)
    task = asyncio.create_task(sim.run())
    yield sim
    task.cancel()
    calls = backend_calls(kmock)
    assert calls, "the backend sent no request"
    assert set(calls) <= REQUIRED_RBAC, f"calls outside REQUIRED_RBAC: {set(calls) - REQUIRED_RBAC}"


@pytest.fixture
async def services(s3_settings, ray_head, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """The crawler and filter services the chart deploys, on the test's bucket and the session's Ray head."""
    crawler = CrawlerSettings(host="127.0.0.1", port=0, ray_address=ray_head.dashboard, poll_seconds=0.3)
    filt = FilterSettings(host="127.0.0.1", port=0, ray_address=ray_head.dashboard, poll_seconds=0.3)
    running = [await start_server(crawler, [crawler_service(crawler, s3_settings)]),
               await start_server(filt, [filter_service(filt, s3_settings)])]
    yield {"crawler": running[0].address, "filter": running[1].address, "s3": s3_settings,
           "repo": make_repo(tmp_path, 6)}
    for server in running:
        await server.stop(0)


def _backend(
    kmock: Any, outputs: dict[tuple[str, str], jobs_pb2.StageOutputs], services: dict[str, Any] | None = None
) -> KubernetesBackend:
    config = kubernetes.client.Configuration()
    config.host = str(kmock.url).rstrip("/")
    services = services or {"crawler": "", "filter": "", "s3": None}
    settings = ControllerSettings(
        backend="kubernetes", namespace=NS, image="octopack:test", kube_poll_seconds=0.02,
        executor_selector="app.kubernetes.io/component=executor", executor_replicas=2,
        s3_secret_name="octopack-s3", stage_service_account="octopack-stage",
        crawler_address=services["crawler"], filter_address=services["filter"],
    )
    s3 = S3Settings(endpoint="minio.octo.svc:9000", bucket="octopack")
    return KubernetesBackend(
        kubernetes.client.ApiClient(config), settings, lambda j, s: outputs.get((j, s)), s3,
        store_factory=lambda: DatasetStore.from_settings(services["s3"]),
    )


def _full_spec(repo: Path) -> jobs_pb2.JobSpec:
    return jobs_pb2.JobSpec(
        crawl=jobs_pb2.CrawlConfig(repositories=[str(repo)]),
        filter=jobs_pb2.FilterConfig(config_yaml="token_length: {enabled: false}"),
        train=jobs_pb2.TrainConfig(max_steps=2), serve=jobs_pb2.ServeConfig(),
        evaluate=jobs_pb2.EvaluateConfig(languages=["python"], limit=2),
        retry=jobs_pb2.RetryPolicy(initial_backoff_seconds=0.01),
    )


async def _final(ctl: Controller, job_id: str) -> jobs_pb2.Job:
    job = None
    async for event in ctl.watch(job_id):
        job = event.job
    assert job is not None
    return job


async def test_full_pipeline_creates_labelled_objects_and_cleans_up(
    kmock: Any, cluster: Cluster, services: dict[str, Any]
) -> None:
    ctl = Controller(MemoryStore(), _backend(kmock, cluster.outputs, services))
    await ctl.start()
    job, _ = await ctl.submit(_full_spec(services["repo"]))
    final = await asyncio.wait_for(_final(ctl, job.id), 300)
    assert final.state == S.STATE_SUCCEEDED, [st.message for st in final.stages]
    j = job.id
    # Crawl and filter ran in their services (on Ray), not as cluster objects.
    assert set(cluster.seen) == {f"{j}-train-1", f"{j}-serve", f"{j}-evaluate-1"}
    stages = {st.kind: st for st in final.stages}
    crawl, filtered = stages[jobs_pb2.STAGE_KIND_CRAWL], stages[jobs_pb2.STAGE_KIND_FILTER]
    assert crawl.outputs.details["crawl_id"] == f"{j}-crawl-1" and filtered.outputs.details["run_id"] == f"{j}-filter-1"
    store = DatasetStore.from_settings(services["s3"])
    crawled = store.read_table(f"{j}-crawl", crawl.outputs.datasets[0].version)
    assert crawled.num_rows == crawl.outputs.datasets[0].samples == 6
    assert store.get_manifest(f"{j}-filter", filtered.outputs.datasets[0].version).lineage.parents == [
        f"{j}-crawl@{crawl.outputs.datasets[0].version}"]
    for name, obj in cluster.seen.items():
        assert obj["metadata"]["labels"][m.JOB_LABEL] == j, name
    eval_pod = cluster.seen[f"{j}-evaluate-1"]["spec"]["template"]["spec"]["containers"][0]
    assert eval_pod["image"] == "octopack:test" and eval_pod["command"][:3] == ["octopack", "stage", "evaluate"]
    env = {e["name"]: e for e in eval_pod["env"]}
    assert env["OCTOPACK_S3_ENDPOINT"]["value"] == "minio.octo.svc:9000"
    assert env["OCTOPACK_S3_ACCESS_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "octopack-s3", "key": "accessKey"}
    assert env["OCTOPACK_CONTROLLER_JOBS_PREFIX"]["value"] == "jobs/"  # where the backend reads the outputs
    assert env["OCTOPACK_CONTROLLER_WORK_DIR"]["value"].startswith("/tmp/")
    assert eval_pod["securityContext"]["readOnlyRootFilesystem"] is True
    assert cluster.seen[f"{j}-evaluate-1"]["spec"]["template"]["spec"]["serviceAccountName"] == "octopack-stage"
    assert "--payload" in cluster.seen[f"{j}-train-1"]["spec"]["entrypoint"]
    assert stages[jobs_pb2.STAGE_KIND_SERVE].outputs.endpoint == f"{j}-serve-serve-svc.{NS}.svc:9000"
    assert stages[jobs_pb2.STAGE_KIND_EVALUATE].outputs.evaluation.scores[0].pass_at_1 == 0.5
    # The sizes before scaling are kept in the job document, not on the Deployments.
    details = stages[jobs_pb2.STAGE_KIND_EVALUATE].outputs.details
    assert details[REPLICAS_BEFORE + "octopack-executor-python"] == "0"
    assert details[REPLICAS_BEFORE + "octopack-executor-rust"] == "3"
    # Clean-up: every Job, RayJob and RayService of the job is gone; executors are back to their sizes.
    assert cluster.alive(JOBS) == [] and cluster.alive(RAYJOBS) == [] and cluster.alive(RAYSERVICES) == []
    assert cluster.max_executor_replicas == 3
    assert _replicas(cluster) == {"octopack-executor-python": 0, "octopack-executor-rust": 3}
    # Only the scale subresource was changed, never a Deployment itself.
    calls = backend_calls(kmock)
    assert ("apps", "deployments/scale", "patch") in calls and ("apps", "deployments/scale", "get") in calls
    assert not [c for c in calls if c[1] == "deployments" and c[2] not in {"list", "get"}]
    patched = [r.data for r in list(kmock) if r.subresource == "scale" and r.method.name == "PATCH"]
    assert patched == [{"spec": {"replicas": 2}}, {"spec": {"replicas": 3}}, {"spec": {"replicas": 0}}]
    for _, obj in cluster.alive(DEPLOYMENTS):
        assert not (obj["metadata"].get("annotations") or {})
    await ctl.stop()


def _replicas(cluster: Cluster) -> dict[str, int]:
    return {name: obj["spec"]["replicas"] for name, obj in cluster.alive(DEPLOYMENTS)}


async def test_restarted_controller_restores_executors_from_the_job_document(kmock: Any, cluster: Cluster) -> None:
    cluster.hold = {"evaluate"}
    store = MemoryStore()
    first = Controller(store, _backend(kmock, cluster.outputs))
    await first.start()
    spec = jobs_pb2.JobSpec(
        evaluate=jobs_pb2.EvaluateConfig(languages=["python"], limit=2, endpoint="inference:9000"),
        retry=jobs_pb2.RetryPolicy(initial_backoff_seconds=0.01),
    )
    job, _ = await first.submit(spec)
    while not any(name.startswith(f"{job.id}-evaluate") for name in cluster.seen):
        await asyncio.sleep(0.02)
    assert _replicas(cluster)["octopack-executor-python"] == 2
    await first.stop()  # gone while evaluating: only the job document remembers the sizes

    second = Controller(store, _backend(kmock, cluster.outputs))
    await second.start()
    await asyncio.sleep(0.3)
    assert _replicas(cluster)["octopack-executor-python"] == 2  # the resumed attempt keeps the first record
    cancelled = await second.cancel(job.id)
    assert cancelled.state == S.STATE_CANCELLED
    assert cancelled.stages[0].outputs.details[REPLICAS_BEFORE + "octopack-executor-python"] == "0"
    assert _replicas(cluster) == {"octopack-executor-python": 0, "octopack-executor-rust": 3}
    await second.stop()


async def test_failed_job_is_retried_with_a_new_attempt_object(kmock: Any, cluster: Cluster) -> None:
    cluster.fail_first = {"train"}
    ctl = Controller(MemoryStore(), _backend(kmock, cluster.outputs))
    await ctl.start()
    spec = jobs_pb2.JobSpec(train=jobs_pb2.TrainConfig(max_steps=2, dataset="d@v1"),
                            retry=jobs_pb2.RetryPolicy(initial_backoff_seconds=0.01))
    job, _ = await ctl.submit(spec)
    final = await asyncio.wait_for(_final(ctl, job.id), 60)
    assert final.state == S.STATE_SUCCEEDED
    assert [st.attempts for st in final.stages] == [2]
    assert {f"{job.id}-train-1", f"{job.id}-train-2"} <= set(cluster.seen)
    await ctl.stop()


async def test_restart_adopts_the_running_object_and_cancel_deletes_it(kmock: Any, cluster: Cluster) -> None:
    cluster.hold = {"train"}
    store = MemoryStore()
    first = Controller(store, _backend(kmock, cluster.outputs))
    await first.start()
    spec = jobs_pb2.JobSpec(train=jobs_pb2.TrainConfig(max_steps=2, dataset="d@v1"),
                            retry=jobs_pb2.RetryPolicy(initial_backoff_seconds=0.01))
    job, _ = await first.submit(spec)
    while f"{job.id}-train-1" not in cluster.seen:
        await asyncio.sleep(0.02)
    await first.stop()  # the controller goes away while the RayJob runs

    second = Controller(store, _backend(kmock, cluster.outputs))
    await second.start()
    await asyncio.sleep(0.3)
    assert [name for name, _ in cluster.alive(RAYJOBS)] == [f"{job.id}-train-1"]  # adopted, not created again
    cancelled = await second.cancel(job.id)
    assert cancelled.state == S.STATE_CANCELLED
    assert [st.state for st in cancelled.stages] == [S.STATE_CANCELLED]
    assert cancelled.stages[0].attempts == 1  # the running RayJob was adopted: the same attempt
    assert cluster.alive(RAYJOBS) == [] and cluster.alive(JOBS) == []
    await second.stop()


# ---- the chart's contract, end to end ---------------------------------------------------------------------


def _chart(namespace: str) -> list[dict[str, Any]]:
    from tests.chart.conftest import CHART, RELEASE, run_helm
    from tests.conftest import tool

    proc = run_helm(tool("helm"), "template", RELEASE, str(CHART), "--namespace", namespace)
    assert proc.returncode == 0, proc.stderr
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


def _chart_backend(
    kmock: Any, docs: list[dict[str, Any]], outputs: dict[tuple[str, str], jobs_pb2.StageOutputs],
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, services: dict[str, Any],
) -> KubernetesBackend:
    """The backend as the chart configures it: the controller container's environment, its mounted templates;
    crawl and filter go to real crawler and filter services (the chart's addresses name their Services)."""
    controller = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "octopack-controller")
    container = controller["spec"]["template"]["spec"]["containers"][0]
    configmap = next(d for d in docs if d["kind"] == "ConfigMap" and "rayjob.yaml" in d.get("data", {}))
    mount = next(m for m in container["volumeMounts"] if m["name"] == "rayjob-template")["mountPath"]
    for key, text in configmap["data"].items():
        (tmp_path / key).write_text(text)
    for env in container["env"]:
        if "value" in env:
            value = env["value"].replace(mount, str(tmp_path)) if env["value"].startswith(mount) else env["value"]
            monkeypatch.setenv(env["name"], value)
    monkeypatch.setenv("OCTOPACK_CONTROLLER_NAMESPACE", NS)  # the pod's namespace (a fieldRef)
    monkeypatch.setenv("OCTOPACK_CONTROLLER_KUBE_POLL_SECONDS", "0.02")
    monkeypatch.setenv("OCTOPACK_CONTROLLER_CRAWLER_ADDRESS", services["crawler"])
    monkeypatch.setenv("OCTOPACK_CONTROLLER_FILTER_ADDRESS", services["filter"])
    config = kubernetes.client.Configuration()
    config.host = str(kmock.url).rstrip("/")
    return KubernetesBackend(
        kubernetes.client.ApiClient(config), ControllerSettings(), lambda j, s: outputs.get((j, s)), S3Settings(),
        store_factory=lambda: DatasetStore.from_settings(services["s3"]),
    )


async def test_a_whole_job_refers_only_to_what_the_chart_and_kuberay_expose(
    kmock: Any, cluster: Cluster, services: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Every address, port and Secret the controller and the objects it creates refer to exists in the chart
    or among the Services KubeRay makes for its RayServices (the inference port on the serve Service)."""
    from tests.chart import exposed, netpolicy, policy

    docs = _chart(NS)
    for dep in policy.executor_deployments(docs):  # the emulator has no label selectors: only the executors
        stored = {**dep, "metadata": {**dep["metadata"], "namespace": NS}}
        stored["spec"] = {"replicas": 1, **dep["spec"]}  # the API server's default where an HPA scales it
        kmock.objects[DEPLOYMENTS, NS, dep["metadata"]["name"]] = stored
    ctl = Controller(MemoryStore(), _chart_backend(kmock, docs, cluster.outputs, monkeypatch, tmp_path, services))
    await ctl.start()
    job, _ = await ctl.submit(_full_spec(services["repo"]))
    try:
        final = await asyncio.wait_for(_final(ctl, job.id), 300)
    except TimeoutError:
        raise AssertionError([(st.kind, st.state, st.message) for st in (await ctl.get(job.id)).stages]) from None
    assert final.state == S.STATE_SUCCEEDED, [st.message for st in final.stages]
    await ctl.stop()

    created = {f"{o['kind']}/{name}": o for name, o in cluster.seen.items()}
    assert {o["kind"] for o in created.values()} == {"Job", "RayJob", "RayService"}
    refs: dict[str, Any] = {f"{d['kind']}/{d['metadata']['name']}": d for d in docs if d["kind"] != "Service"}
    refs.update(created)
    refs["job outputs"] = [st.outputs.endpoint for st in final.stages]
    found = exposed.Exposed().add_docs(docs, NS).add_docs(list(created.values()), NS)
    assert exposed.missing(refs, found) == []
    # What was checked: the controller's view of the inference service, the serve stage's endpoint, the
    # executors the evaluate pod calls, the store and its credentials, the token.
    seen = exposed.addresses(refs)
    assert ("octopack-inference-serve-svc." + NS, 9000) in seen
    assert (f"{job.id}-serve-serve-svc.{NS}", 9000) in seen
    assert (f"octopack-executor-python.{NS}", 50052) in seen and (f"octopack-minio.{NS}", 9000) in seen
    assert {("octopack-s3", "accessKey"), ("octopack-auth", "token")} <= exposed.secret_keys(created)
    # Every pod the controller made is covered by the chart's NetworkPolicies.
    pods = list(policy.pod_templates(list(created.values())))
    assert len(pods) >= 4 and netpolicy.check_ingress(docs, pods) == []
