"""Where the local stack keeps its state and which ports it uses (``OCTOPACK_STACK_*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from octopack.common.catalog import INFERENCE, SERVICES


class StackSettings(BaseSettings):
    """The local stack: a state folder (pids, ports, logs, S3 data) and one port per service."""

    model_config = SettingsConfigDict(env_prefix="OCTOPACK_STACK_", extra="ignore")

    dir: Path = Field(Path(".octopack"), description="State folder: stack.json, logs/, s3/, work/.")
    host: str = Field("127.0.0.1", description="Every service binds this loopback address.")
    controller_port: int = Field(SERVICES["controller"].port, ge=0, le=65535, description="JobService; 0 picks a free port.")
    executor_port: int = Field(SERVICES["executor"].port, ge=0, le=65535, description="ExecutorService (all six languages).")
    datasets_port: int = Field(SERVICES["datasets"].port, ge=0, le=65535, description="Dataset service.")
    crawler_port: int = Field(SERVICES["crawler"].port, ge=0, le=65535, description="CrawlerService.")
    filter_port: int = Field(SERVICES["filter"].port, ge=0, le=65535, description="FilterService.")
    ray_port: int = Field(6379, ge=0, le=65535, description="Ray head GCS port.")
    ray_dashboard_port: int = Field(8265, ge=0, le=65535, description="Ray dashboard / job API port.")
    ray_cpus: int = Field(2, ge=1, description="CPUs the local Ray head offers.")
    serve_grpc_port: int = Field(INFERENCE.port, ge=0, le=65535, description="Ray Serve gRPC proxy port.")
    serve_http_port: int = Field(8000, ge=0, le=65535, description="Ray Serve HTTP proxy port.")
    startup_timeout: float = Field(120.0, gt=0, description="Seconds each component gets to become healthy.")
    s3_bucket: str = Field("octopack", description="Bucket of datasets, models and job documents.")
