"""What `helm template` produces: one Deployment + Service (+ HPA or KEDA, PDB, ServiceAccount) per service
and per executor language, probes, environment, MinIO or an external S3, values schema, NOTES."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.chart.conftest import (
    CHART,
    CPU_VALUES,
    EXTERNAL_S3_VALUES,
    GPU_VALUES,
    NAMESPACE,
    RELEASE,
    VALUE_SETS,
    Render,
    by_kind,
    env_of,
    named,
    run_helm,
    template_args,
)

LANGUAGES = ["python", "js", "java", "go", "cpp", "rust"]
SERVICES = {"controller": 50051, "datasets": 50053, "crawler": 50054, "filter": 50055}
EXECUTORS = {f"executor-{lang}": 50052 for lang in LANGUAGES}


def test_every_service_and_language_gets_deployment_service_pdb_and_autoscaler(render: Render) -> None:
    docs = render()
    for component, port in {**SERVICES, **EXECUTORS}.items():
        name = f"{RELEASE}-{component}"
        dep = named(docs, "Deployment", name)
        svc = named(docs, "Service", name)
        assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]
        assert {p["name"]: p["port"] for p in svc["spec"]["ports"]} == {"grpc": port, "metrics": 9090}
        assert named(docs, "PodDisruptionBudget", name)["spec"]["selector"] == dep["spec"]["selector"]
        assert dep["spec"]["template"]["spec"]["serviceAccountName"] == name
        named(docs, "ServiceAccount", name)
        if component != "controller":  # the controller is a singleton by default
            hpa = named(docs, "HorizontalPodAutoscaler", name)
            assert hpa["spec"]["scaleTargetRef"] == {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": name,
            }
            assert "replicas" not in dep["spec"], "the HPA owns the replica count"


def test_each_language_runs_its_own_image_and_can_be_switched_off(render: Render) -> None:
    docs = render()
    for lang in LANGUAGES:
        dep = named(docs, "Deployment", f"{RELEASE}-executor-{lang}")
        container = dep["spec"]["template"]["spec"]["containers"][0]
        assert container["image"] == f"ghcr.io/octopack/octopack-executor-{lang}:0.1.0"
        assert dep["spec"]["template"]["metadata"]["labels"]["octopack.io/language"] == lang
    docs = render([CPU_VALUES])  # rust: enabled: false
    names = {d["metadata"]["name"] for d in by_kind(docs, "Deployment")}
    assert f"{RELEASE}-executor-rust" not in names
    assert f"{RELEASE}-executor-go" in names
    role = named(docs, "Role", f"{RELEASE}-controller")
    scale = next(r for r in role["rules"] if r["resources"] == ["deployments/scale"])
    assert f"{RELEASE}-executor-rust" not in scale["resourceNames"]


def test_language_override_replaces_the_shared_setting(render: Render) -> None:
    docs = render()
    java = named(docs, "Deployment", f"{RELEASE}-executor-java")["spec"]["template"]["spec"]["containers"][0]
    python = named(docs, "Deployment", f"{RELEASE}-executor-python")["spec"]["template"]["spec"][
        "containers"
    ][0]
    assert java["resources"]["limits"]["memory"] == "6Gi"
    assert python["resources"]["limits"]["memory"] == "4Gi"


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_grpc_probes_on_the_standard_health_service(render: Render, name: str) -> None:
    docs = render(VALUE_SETS[name])
    tls = name == "ci/external-s3-values.yaml"
    for dep in by_kind(docs, "Deployment"):
        container = dep["spec"]["template"]["spec"]["containers"][0]
        port = next(p["containerPort"] for p in container["ports"] if p["name"] == "grpc")
        for probe in ("readinessProbe", "livenessProbe"):
            if tls:  # kubelet's gRPC probe cannot speak TLS
                assert container[probe]["tcpSocket"] == {"port": "grpc"}
            else:
                assert container[probe]["grpc"] == {"port": port}, dep["metadata"]["name"]


def test_service_environment(render: Render) -> None:
    docs = render([CPU_VALUES])
    env = env_of(
        named(docs, "Deployment", f"{RELEASE}-datasets")["spec"]["template"]["spec"]["containers"][0]
    )
    assert env["OCTOPACK_DATASETS_HOST"] == "0.0.0.0"
    assert env["OCTOPACK_DATASETS_PORT"] == "50053"
    assert env["OCTOPACK_DATASETS_METRICS_PORT"] == "9090"
    assert env["OCTOPACK_DATASETS_AUTH_TOKEN"] == {
        "secretKeyRef": {"name": f"{RELEASE}-auth", "key": "token"}
    }
    assert env["OCTOPACK_LOG_JSON"] == "1"
    assert env["OCTOPACK_S3_ENDPOINT"] == f"{RELEASE}-minio.{NAMESPACE}.svc:9000"
    assert env["OCTOPACK_S3_SECURE"] == "false"
    assert env["OCTOPACK_S3_ACCESS_KEY"] == {"secretKeyRef": {"name": f"{RELEASE}-s3", "key": "accessKey"}}
    secret = named(docs, "Secret", f"{RELEASE}-s3")
    assert set(secret["data"]) == {"accessKey", "secretKey"}
    assert set(named(docs, "Secret", f"{RELEASE}-auth")["data"]) == {"token"}
    executor = named(docs, "Deployment", f"{RELEASE}-executor-python")["spec"]["template"]["spec"][
        "containers"
    ][0]
    assert not any(k.startswith("OCTOPACK_S3_") for k in env_of(executor)), (
        "executors get no store credentials"
    )


def test_controller_knows_every_service_and_its_rayjob_template(render: Render) -> None:
    docs = render()
    dep = named(docs, "Deployment", f"{RELEASE}-controller")
    pod = dep["spec"]["template"]["spec"]
    env = env_of(pod["containers"][0])
    services = {d["metadata"]["name"] for d in by_kind(docs, "Service")}
    for key, component in [("DATASETS", "datasets"), ("CRAWLER", "crawler"), ("FILTER", "filter")]:
        host, port = env[f"OCTOPACK_CONTROLLER_{key}_ADDRESS"].split(":")
        assert host == f"{RELEASE}-{component}.{NAMESPACE}.svc" and port == str(SERVICES[component])
        assert f"{RELEASE}-{component}" in services
    executors = dict(item.split("=") for item in env["OCTOPACK_CONTROLLER_EXECUTOR_ADDRESSES"].split(","))
    assert sorted(executors) == sorted(LANGUAGES)
    assert all(addr.split(".")[0] in services for addr in executors.values())
    assert env["OCTOPACK_CONTROLLER_BACKEND"] == "kubernetes"
    assert env["OCTOPACK_CONTROLLER_IMAGE"] == "ghcr.io/octopack/octopack-ray:0.1.0"
    assert env["OCTOPACK_CONTROLLER_RAYJOB_TEMPLATE"] == "/etc/octopack/rayjob/rayjob.yaml"
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "rayjob-template")
    volume = next(v for v in pod["volumes"] if v["name"] == "rayjob-template")
    assert mount["mountPath"] == "/etc/octopack/rayjob"
    named(docs, "ConfigMap", volume["configMap"]["name"])


def test_minio_statefulset_keeps_data_on_a_claim(render: Render) -> None:
    docs = render()
    sts = named(docs, "StatefulSet", f"{RELEASE}-minio")
    claim = sts["spec"]["volumeClaimTemplates"][0]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["resources"]["requests"]["storage"] == "100Gi"
    mounts = {
        m["name"]: m["mountPath"] for m in sts["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    }
    assert mounts["data"] == "/data"
    job = named(docs, "Job", f"{RELEASE}-bucket")
    assert "post-install" in job["metadata"]["annotations"]["helm.sh/hook"]


def test_external_s3_replaces_minio(render: Render) -> None:
    docs = render([EXTERNAL_S3_VALUES])
    assert not by_kind(docs, "StatefulSet")
    assert not [s for s in by_kind(docs, "Secret") if s["metadata"]["name"].endswith("-s3")]
    env = env_of(named(docs, "Deployment", f"{RELEASE}-crawler")["spec"]["template"]["spec"]["containers"][0])
    assert env["OCTOPACK_S3_ENDPOINT"] == "s3.eu-west-1.amazonaws.com"
    assert env["OCTOPACK_S3_SECURE"] == "true"
    assert env["OCTOPACK_S3_SECRET_KEY"]["secretKeyRef"]["name"] == "octopack-s3-credentials"
    assert env["OCTOPACK_CRAWLER_TLS_CERT"] == "/etc/octopack/tls/tls.crt"


def test_external_s3_without_credentials_is_refused(helm: str) -> None:
    proc = run_helm(helm, *template_args(sets=["minio.enabled=false", "s3.endpoint=s3.example.com"]))
    assert proc.returncode != 0
    assert "s3.existingSecret is required when minio.enabled=false" in proc.stderr


def test_keda_scales_executors_on_queue_depth_instead_of_cpu(render: Render) -> None:
    docs = render([GPU_VALUES])
    scaled = {d["metadata"]["name"]: d for d in by_kind(docs, "ScaledObject")}
    assert sorted(scaled) == sorted(f"{RELEASE}-executor-{lang}" for lang in LANGUAGES)
    hpas = {d["metadata"]["name"] for d in by_kind(docs, "HorizontalPodAutoscaler")}
    assert not hpas & set(scaled), "KEDA makes its own HPA"
    trigger = scaled[f"{RELEASE}-executor-go"]["spec"]["triggers"][0]
    assert trigger["type"] == "prometheus"
    assert "octopack_executor_queue_depth" in trigger["metadata"]["query"]
    assert f'pod=~"{RELEASE}-executor-go-.*"' in trigger["metadata"]["query"]
    assert len(by_kind(docs, "ServiceMonitor")) == len(SERVICES) + len(LANGUAGES)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("executor.languages.python.replicas=many", "executor.languages.python.replicas"),
        ("executor.languages.cobol.enabled=true", "Additional property cobol is not allowed"),
        ("securityContext.allowPrivilegeEscalation=true", "securityContext.allowPrivilegeEscalation"),
        ("controller.resources.limits=null", "limits is required"),
        ("log.level=LOUD", "log.level"),
    ],
)
def test_values_schema_refuses_bad_values(helm: str, override: str, message: str) -> None:
    proc = run_helm(helm, *template_args(sets=[override]))
    assert proc.returncode != 0
    assert message in proc.stderr


def test_notes_show_grpcurl_commands(helm: str, tmp_path: Path) -> None:
    """NOTES.txt renders only on install; render it as a plain template from a copy of the chart."""
    chart = tmp_path / "octopack"
    shutil.copytree(CHART, chart)
    body = (chart / "templates" / "NOTES.txt").read_text()
    (chart / "templates" / "NOTES.txt").unlink()
    (chart / "templates" / "_notes.tpl").write_text('{{- define "notes" -}}\n' + body + "\n{{- end }}\n")
    (chart / "templates" / "notes.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n"
        '  notes: {{ include "notes" . | toJson }}\n'
    )
    proc = run_helm(
        helm, *template_args(sets=["auth.enabled=true"], chart=chart), "--show-only", "templates/notes.yaml"
    )
    assert proc.returncode == 0, proc.stderr
    notes = yaml.safe_load(proc.stdout)["data"]["notes"]
    assert f"kubectl -n {NAMESPACE} port-forward svc/{RELEASE}-controller 50051:50051" in notes
    assert "grpcurl -plaintext localhost:50051 list" in notes
    assert '-H "authorization: Bearer $TOKEN"' in notes
    assert "octopack.jobs.v1.JobService/SubmitJob" in notes
    for lang in LANGUAGES:
        assert f"{RELEASE}-executor-{lang}.{NAMESPACE}.svc:50052" in notes


def test_limit_range_bounds_containers_the_controller_creates(render: Render) -> None:
    limits = named(render(), "LimitRange", f"{RELEASE}-defaults")["spec"]["limits"][0]
    assert limits["type"] == "Container"
    assert set(limits["default"]) == set(limits["defaultRequest"]) == {"cpu", "memory"}
    assert not by_kind(render(sets=["limitRange.enabled=false"]), "LimitRange")


def test_stage_image_can_differ_from_the_ray_image(render: Render) -> None:
    docs = render(sets=["controller.stageImage.repository=octopack-crawler", "controller.stageImage.tag=dev"])
    env = env_of(
        named(docs, "Deployment", f"{RELEASE}-controller")["spec"]["template"]["spec"]["containers"][0]
    )
    assert env["OCTOPACK_CONTROLLER_IMAGE"] == "ghcr.io/octopack/octopack-crawler:dev"
