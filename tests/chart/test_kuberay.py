"""KubeRay resources: the inference RayService and the finetuning RayJob template (kubernetes-validate
does not know these kinds, so their fields are checked here)."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path
from typing import Any

import yaml

from tests.chart.conftest import CPU_VALUES, GPU_VALUES, RELEASE, ROOT, Docs, Render, env_of, named

GPU = "nvidia.com/gpu"


def rayservice(docs: Docs) -> dict[str, Any]:
    return named(docs, "RayService", f"{RELEASE}-inference")


def rayjob(docs: Docs) -> dict[str, Any]:
    cm = named(docs, "ConfigMap", f"{RELEASE}-rayjob-template")
    return yaml.safe_load(cm["data"]["rayjob.yaml"])


def check_cluster(cluster: dict[str, Any]) -> None:
    head = cluster["headGroupSpec"]
    assert isinstance(head["rayStartParams"], dict)
    assert head["rayStartParams"]["dashboard-host"] == "0.0.0.0"
    assert head["template"]["spec"]["containers"][0]["name"] == "ray-head"
    workers = cluster["workerGroupSpecs"]
    assert workers, "no worker group"
    for group in workers:
        assert re.fullmatch(r"[a-z0-9-]+", group["groupName"])
        assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
        assert isinstance(group["rayStartParams"], dict)
        assert group["template"]["spec"]["containers"][0]["name"] == "ray-worker"


def gpus(container: dict[str, Any]) -> tuple[Any, Any]:
    res = container["resources"]
    return res["requests"].get(GPU), res["limits"].get(GPU)


def test_rayservice_runs_the_serve_app_with_grpc_and_autoscaling(render: Render) -> None:
    svc = rayservice(render())
    assert svc["apiVersion"] == "ray.io/v1"
    serve = yaml.safe_load(svc["spec"]["serveConfigV2"])
    app = serve["applications"][0]
    assert app["import_path"] == "octopack.services.controller.serve_deploy:app_builder"
    assert app["args"] == {"model": "default"}
    assert app["deployments"][0]["name"] == "InferenceService"
    assert serve["grpc_options"]["port"] == 9000
    assert serve["grpc_options"]["grpc_servicer_functions"] == [
        "octopack.inference.v1.inference_pb2_grpc.add_InferenceServiceServicer_to_server"
    ]
    assert serve["http_options"] == {"host": "0.0.0.0", "port": 8000}
    deployment = app["deployments"][0]
    scaling = deployment["autoscaling_config"]
    assert 1 <= scaling["min_replicas"] <= scaling["max_replicas"]
    assert scaling["target_ongoing_requests"] > 0
    cluster = svc["spec"]["rayClusterConfig"]
    check_cluster(cluster)
    assert cluster["enableInTreeAutoscaling"] is True
    head_ports = {
        p["name"]: p["containerPort"]
        for p in cluster["headGroupSpec"]["template"]["spec"]["containers"][0]["ports"]
    }
    # KubeRay puts the head ports named serve and serve-* on the RayService's serve Service.
    assert head_ports["serve-grpc"] == 9000 and head_ports["serve"] == 8000
    assert {p["name"]: p["port"] for p in svc["spec"]["serveService"]["spec"]["ports"]} == {"serve": 8000, "serve-grpc": 9000}


def test_serve_config_names_what_the_serve_app_defines(render: Render) -> None:
    """The import path's builder exists, and the deployment name is the one ray_jobs/serve/app.py gives its
    deployment (the files are read, not imported: importing needs Ray)."""
    app = yaml.safe_load(rayservice(render())["spec"]["serveConfigV2"])["applications"][0]
    module, attribute = app["import_path"].split(":")
    spec = importlib.util.find_spec(module)  # locates the file; imports only the parent packages
    assert spec is not None and spec.origin, module
    tree = ast.parse(Path(spec.origin).read_text())
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    defined |= {
        t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)
    }
    assert attribute in defined, f"{spec.origin} defines no {attribute}(args) application builder"
    serve_app = (ROOT / "ray_jobs" / "serve" / "app.py").read_text()
    assert f'name="{app["deployments"][0]["name"]}"' in serve_app


def test_ray_version_matches_the_ray_image(render: Render) -> None:
    dockerfile = (ROOT / "docker" / "ray.Dockerfile").read_text()
    image_version = re.search(r"^ARG RAY_VERSION=(\S+)$", dockerfile, re.M)
    assert image_version is not None
    assert rayservice(render())["spec"]["rayClusterConfig"]["rayVersion"] == image_version.group(1)
    assert rayjob(render())["spec"]["rayClusterSpec"]["rayVersion"] == image_version.group(1)


def test_default_values_request_one_gpu_per_serve_replica_and_worker(render: Render) -> None:
    svc = rayservice(render())
    serve = yaml.safe_load(svc["spec"]["serveConfigV2"])
    assert serve["applications"][0]["deployments"][0]["ray_actor_options"]["num_gpus"] == 1
    worker = svc["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["template"]["spec"]
    assert gpus(worker["containers"][0]) == (1, 1)
    assert {"key": GPU, "operator": "Exists", "effect": "NoSchedule"} in worker["tolerations"]
    head = svc["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]
    assert gpus(head["containers"][0]) == (None, None)


def test_gpu_values_put_gpus_on_serve_and_finetune_workers(render: Render) -> None:
    docs = render([GPU_VALUES])
    worker = rayservice(docs)["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]
    assert worker["maxReplicas"] == 8
    assert gpus(worker["template"]["spec"]["containers"][0]) == (1, 1)
    assert worker["template"]["spec"]["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    serve = yaml.safe_load(rayservice(docs)["spec"]["serveConfigV2"])
    assert serve["applications"][0]["args"] == {"model": "octocoder", "max_batch_size": 64}
    assert serve["applications"][0]["deployments"][0]["autoscaling_config"]["max_replicas"] == 8
    job_worker = rayjob(docs)["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]
    assert job_worker["replicas"] == 2
    assert gpus(job_worker["template"]["spec"]["containers"][0]) == (4, 4)
    shm = next(v for v in job_worker["template"]["spec"]["volumes"] if v["name"] == "shm")
    assert shm["emptyDir"] == {"medium": "Memory", "sizeLimit": "32Gi"}


def test_cpu_values_request_no_gpu_anywhere(render: Render) -> None:
    docs = render([CPU_VALUES])
    assert GPU not in yaml.safe_dump(docs).replace(f"key: {GPU}", "")
    serve = yaml.safe_load(rayservice(docs)["spec"]["serveConfigV2"])
    assert serve["applications"][0]["deployments"][0]["ray_actor_options"]["num_gpus"] == 0


def test_rayjob_template_runs_the_finetune_entrypoint(render: Render) -> None:
    docs = render()
    job = rayjob(docs)
    assert job["apiVersion"] == "ray.io/v1" and job["kind"] == "RayJob"
    spec = job["spec"]
    assert spec["entrypoint"] == "python -m octopack.ray_jobs.finetune"
    assert (ROOT / "ray_jobs" / "finetune" / "__main__.py").is_file()
    assert spec["shutdownAfterJobFinishes"] is True
    assert spec["ttlSecondsAfterFinished"] > 0
    assert spec["submissionMode"] == "K8sJobMode"
    submitter = spec["submitterPodTemplate"]["spec"]
    assert submitter["restartPolicy"] == "Never"
    assert submitter["containers"][0]["resources"]["limits"]
    check_cluster(spec["rayClusterSpec"])
    head = spec["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    env = env_of(head)
    assert env["OCTOPACK_S3_ENDPOINT"].endswith(".svc:9000")
    assert head["image"] == "ghcr.io/octopack/octopack-ray:0.1.0"


def test_ray_pods_write_only_to_tmp_and_shared_memory(render: Render) -> None:
    cluster = rayservice(render())["spec"]["rayClusterConfig"]
    for template in [cluster["headGroupSpec"]["template"], cluster["workerGroupSpecs"][0]["template"]]:
        container = template["spec"]["containers"][0]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert mounts == {"/tmp", "/dev/shm"}
        assert template["spec"]["automountServiceAccountToken"] is False


def test_inference_and_finetune_can_be_left_out(render: Render) -> None:
    docs = render(sets=["inference.enabled=false", "finetune.enabled=false"])
    kinds = {d["kind"] for d in docs}
    assert "RayService" not in kinds
    assert not [d for d in docs if d["kind"] == "ConfigMap" and "rayjob" in d["metadata"]["name"]]
    controller = named(docs, "Deployment", f"{RELEASE}-controller")["spec"]["template"]["spec"]
    assert "OCTOPACK_CONTROLLER_RAYJOB_TEMPLATE" not in env_of(controller["containers"][0])
    assert all(v["name"] != "rayjob-template" for v in controller["volumes"])


def raycluster(docs: Docs) -> dict[str, Any]:
    return named(docs, "RayCluster", f"{RELEASE}-data")


def test_data_raycluster_is_where_the_crawler_and_filter_submit_their_ray_jobs(render: Render) -> None:
    docs = render()
    cluster = raycluster(docs)
    assert cluster["apiVersion"] == "ray.io/v1"
    spec = cluster["spec"]
    check_cluster(spec)
    assert spec["enableInTreeAutoscaling"] is True and spec["autoscalerOptions"]["idleTimeoutSeconds"] == 120
    worker = spec["workerGroupSpecs"][0]
    assert (worker["minReplicas"], worker["maxReplicas"]) == (0, 16)  # KubeRay scales between them
    head = spec["headGroupSpec"]["template"]["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in head["ports"]}
    # Each crawl and filter run is a Ray job submitted to this head's dashboard (KubeRay's <name>-head-svc).
    for component, prefix in (("crawler", "OCTOPACK_CRAWLER_"), ("filter", "OCTOPACK_FILTER_")):
        container = named(docs, "Deployment", f"{RELEASE}-{component}")["spec"]["template"]["spec"]["containers"][0]
        env = env_of(container)
        assert env[f"{prefix}RAY_ADDRESS"] == f"http://{RELEASE}-data-head-svc.octopack.svc:{ports['dashboard']}"
        assert env[f"{prefix}RAY_PYTHON"] == "python"
    # The workers are where clones and shards go: S3 settings, a /tmp for the clones, no GPU.
    pod = worker["template"]["spec"]
    container = pod["containers"][0]
    assert env_of(container)["OCTOPACK_S3_ENDPOINT"].endswith(".svc:9000")
    assert gpus(container) == (None, None)
    tmp = next(v for v in pod["volumes"] if v["name"] == "tmp")
    assert tmp["emptyDir"]["sizeLimit"] == "50Gi"
    assert head["image"] == "ghcr.io/octopack/octopack-ray:0.1.0"


def test_data_cluster_values_reach_the_worker_group(render: Render) -> None:
    worker = raycluster(render(sets=["data.worker.maxReplicas=64", "data.worker.minReplicas=2",
                                     "data.worker.replicas=2"]))["spec"]["workerGroupSpecs"][0]
    assert (worker["replicas"], worker["minReplicas"], worker["maxReplicas"]) == (2, 2, 64)


def test_without_the_data_cluster_the_services_get_no_ray_address(render: Render) -> None:
    docs = render(sets=["data.enabled=false"])
    assert not [d for d in docs if d["kind"] == "RayCluster"]
    container = named(docs, "Deployment", f"{RELEASE}-crawler")["spec"]["template"]["spec"]["containers"][0]
    assert "OCTOPACK_CRAWLER_RAY_ADDRESS" not in env_of(container)
