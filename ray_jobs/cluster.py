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
    kwargs: dict[str, Any] = {"address": settings.address, "log_to_driver": True}
    if settings.address == "local":
        kwargs.update(num_cpus=settings.num_cpus, _node_ip_address=settings.node_ip)
        kwargs["include_dashboard"] = False
    ray.init(**kwargs)
    log.info("ray initialised at %s", settings.address)
    return ray
