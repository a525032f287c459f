"""Configuration of the job controller (``OCTOPACK_CONTROLLER_*``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from octopack.common.catalog import SERVICES
from octopack.common.settings import ServerSettings


class ControllerSettings(ServerSettings):
    """How the controller listens, where it keeps job documents and which backend runs stages."""

    model_config = SettingsConfigDict(env_prefix=SERVICES["controller"].prefix, extra="ignore")

    port: int = Field(SERVICES["controller"].port, ge=0, le=65535, description="gRPC port; 0 picks a free one.")
    backend: Literal["local", "kubernetes"] = Field(
        "local", description="local: stages run through the local services and Ray; kubernetes: as cluster objects."
    )
    store: Literal["s3", "memory"] = Field(
        "s3", description="Where job documents live: s3 (durable) or memory (tests; lost on exit)."
    )
    jobs_prefix: str = Field(
        "jobs/", description="Key prefix of job documents in the OCTOPACK_S3_* bucket."
    )
    max_running_jobs: int = Field(4, ge=1, description="Jobs whose stages run at the same time; others wait.")
    work_dir: Path = Field(
        Path(".octopack/work"), description="Scratch space of the local backend (checkouts, model files)."
    )
    crawler_address: str = Field("", description="CrawlerService host:port: crawl stages run there (on Ray).")
    filter_address: str = Field("", description="FilterService host:port: filter stages run there (on Ray).")
    datasets_address: str = Field("", description="Dataset service host:port (informational for stages).")
    executor_addresses: str = Field(
        "",
        description="Executors: a JSON object {language: host:port}, 'lang=host:port,...', or one host:port "
        "for every language; the evaluate stage needs it.",
    )
    inference_address: str = Field("", description="A standing inference endpoint (informational).")
    rayjob_template: Path | None = Field(
        None, description="YAML of a RayJob whose name, labels and entrypoint the train stage fills in."
    )
    rayservice_cluster_template: Path | None = Field(
        None, description="YAML of the RayCluster spec (the chart's) of the RayServices the serve stage creates."
    )
    ray_address: str = Field("", description="Ray cluster address for train and serve (e.g. 127.0.0.1:6379).")
    ray_dashboard_address: str = Field(
        "", description="Ray dashboard (http://host:8265) the local backend submits train, serve and evaluate to, "
        "each attempt a Ray job named by its run id."
    )
    ray_python: str = Field("", description="Python on the Ray cluster for those jobs; empty: this interpreter.")
    ray_poll_seconds: float = Field(2.0, gt=0, description="How often the local backend reads a Ray job's state.")
    serve_grpc_port: int = Field(9000, description="Ray Serve gRPC port the serve stage publishes.")
    serve_http_port: int = Field(8000, description="Ray Serve HTTP port (POST /<job id>/generate).")
    results_dir: Path = Field(Path("results/jobs"), description="Where the evaluate stage writes results.json.")
    namespace: str = Field("default", description="Kubernetes namespace of the objects the backend creates.")
    image: str = Field("octopack:latest", description="Container image of stage Jobs, RayJob and RayService.")
    kube_poll_seconds: float = Field(2.0, gt=0, description="How often the kubernetes backend polls object status.")
    executor_selector: str = Field(
        "app.kubernetes.io/component in "
        "(executor-python,executor-js,executor-java,executor-go,executor-cpp,executor-rust)",
        description="Label selector of the executor Deployments (the chart's component labels); empty: none.",
    )
    executor_replicas: int = Field(1, ge=1, description="Replicas per executor Deployment while evaluating.")
    s3_secret_name: str = Field(
        "", description="Secret with keys accessKey/secretKey that stage pods read their S3 credentials from."
    )
    auth_secret_name: str = Field(
        "", description="Secret with key token: the bearer token stage pods send to the executors; empty: none."
    )
    stage_service_account: str = Field(
        "", description="ServiceAccount of the stage pods (no API token is mounted); empty: the namespace default."
    )
    stage_pod_labels: dict[str, str] = Field(
        default_factory=dict,
        description="Extra labels of every stage pod, e.g. the release label the store's NetworkPolicy admits.",
    )
    executor_client_label: str = Field(
        "octopack.io/executor-client",
        description="Label (value 'true') of the evaluate pod, which the executors' NetworkPolicy admits.",
    )
    stage_resources: dict[str, Any] = Field(
        default_factory=lambda: {
            "requests": {"cpu": "500m", "memory": "1Gi"},
            "limits": {"cpu": "2", "memory": "8Gi"},
        },
        description="Requests and limits of the stage containers (JSON).",
    )
    stage_pod_security_context: dict[str, Any] = Field(
        default_factory=lambda: {
            "runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 100, "fsGroup": 100,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        description="Pod securityContext of the stage pods (JSON); the default fits the Ray image (uid 1000).",
    )
    stage_security_context: dict[str, Any] = Field(
        default_factory=lambda: {
            "runAsNonRoot": True, "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
            "privileged": False, "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"},
        },
        description="Container securityContext of the stage containers (JSON).",
    )
    stage_tmp_size: str = Field("4Gi", description="Size limit of the stage pods' /tmp emptyDir.")
    ray_image: str = Field("", description="Image of the RayService clusters the serve stage creates; empty: image.")
    ray_version: str = Field("2.60.0", description="Ray version inside the Ray image (KubeRay's rayVersion).")
