"""Serving configuration (``OCTOPACK_SERVE_*``): model, ports, batching, limits and autoscaling."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from octopack.common.catalog import INFERENCE
from octopack.common.settings import ServerSettings


class ServeSettings(ServerSettings):
    """One inference application; ``port`` is the plain gRPC server's (without Ray)."""

    model_config = {"env_prefix": INFERENCE.prefix, "extra": "ignore"}

    port: int = Field(INFERENCE.port, ge=0, le=65535, description="gRPC port (Ray Serve's gRPC proxy or the plain server).")
    http_port: int = Field(8000, ge=0, le=65535, description="HTTP port: the OpenAI API (/v1/...), POST /generate, GET /stats.")
    model: str = Field("default", description="Model to serve: 'default', a local HF folder or 'name[@vN]'.")
    served_name: str = Field(
        "", description="Model id of the OpenAI API (GET /v1/models, the 'model' field); empty = the resolved name."
    )
    app_name: str = Field("octopack-inference", description="Ray Serve application name.")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto: cuda when available.")
    torch_threads: int = Field(0, ge=0, description="torch intra-op threads per replica (0 = torch default).")

    max_batch_size: int = Field(32, ge=1, description="Most sequences decoded in one forward pass.")
    batch_wait_ms: float = Field(5.0, ge=0, description="An idle engine waits this long for more requests.")
    default_max_new_tokens: int = Field(256, ge=1, description="max_new_tokens when a request sends 0.")
    max_new_tokens: int = Field(2048, ge=1, description="Largest max_new_tokens a request may ask for.")
    max_prompts: int = Field(256, ge=1, description="Most prompts in one request.")
    max_n: int = Field(64, ge=1, description="Most samples per prompt.")
    max_prompt_tokens: int = Field(4096, ge=1, description="Longest prompt in tokens.")

    min_replicas: int = Field(1, ge=0, description="Autoscaling: fewest replicas.")
    max_replicas: int = Field(1, ge=1, description="Autoscaling: most replicas.")
    target_ongoing_requests: float = Field(
        16.0, gt=0, description="Autoscaling target of in-flight requests per replica (batching wants many)."
    )
    max_ongoing_requests: int = Field(64, ge=1, description="Requests a replica accepts at once.")
    replica_cpus: float = Field(1.0, gt=0, description="CPUs reserved per replica.")
    replica_gpus: float = Field(0.0, ge=0, description="GPUs per replica (1 on a GPU node).")

    def autoscaling_config(self) -> dict[str, float | int]:
        return {
            "min_replicas": self.min_replicas,
            "initial_replicas": max(1, self.min_replicas),
            "max_replicas": max(self.max_replicas, self.min_replicas),
            "target_ongoing_requests": self.target_ongoing_requests,
        }
