"""Connecting to Ray: a local single-machine instance by default, a cluster address in a RayJob."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)


class RaySettings(BaseSettings):
    """How to reach Ray (``OCTOPACK_RAY_*``)."""

    model_config = SettingsConfigDict(env_prefix="OCTOPACK_RAY_", extra="ignore")

    address: str = Field(
        "local",
        description="'local' starts a private instance (ignores a stale /tmp/ray cluster file); "
        "'auto' or ray://host:10001 joins a cluster (inside a RayJob).",
    )
    num_cpus: int | None = Field(None, ge=1, description="CPUs of a local instance (default: all).")
    node_ip: str = Field("127.0.0.1", description="Node address of a local instance (loopback).")


def ensure_ray(settings: RaySettings | None = None) -> Any:
    """``ray`` initialised once per process with these settings."""
    import ray

    settings = settings or RaySettings()
    if ray.is_initialized():
        return ray
    from octopack.ray_jobs.loopback import HOOK

    # Every worker of this job keeps Serve's listeners on a loopback node's address (see loopback.py).
    kwargs: dict[str, Any] = {
        "address": settings.address, "log_to_driver": True, "runtime_env": {"worker_process_setup_hook": HOOK},
    }
    if settings.address == "local":
        kwargs.update(num_cpus=settings.num_cpus, _node_ip_address=settings.node_ip)
        kwargs["include_dashboard"] = False
    ray.init(**kwargs)
    log.info("ray initialised at %s", settings.address)
    return ray


def join_cluster(address: str) -> Any:
    """``ray`` connected to the cluster at ``address``; FailedPrecondition when this process already
    joined another one (Ray allows one cluster per process: the new address would be ignored)."""
    import ray

    from octopack.common.errors import FailedPrecondition

    if not ray.is_initialized():
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
        return ray
    current = str(ray.get_runtime_context().gcs_address)
    wanted = address.removeprefix("ray://")
    # "auto" and "local" mean whatever cluster this process runs with.
    if address not in ("auto", "local") and _endpoint(wanted) != _endpoint(current):
        raise FailedPrecondition(
            f"this server is connected to the Ray cluster at {current}; it cannot also run on {address}"
        )
    return ray


def _endpoint(address: str) -> str:
    host, _, port = address.rpartition(":")
    return f"{'127.0.0.1' if host in ('localhost', '::1', '[::1]') else host}:{port}"
