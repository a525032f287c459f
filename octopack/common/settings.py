"""Configuration shared by every service.

Each service subclasses :class:`ServerSettings` with its own ``env_prefix``
(``OCTOPACK_EXECUTOR_``, ``OCTOPACK_DATASETS_``...), so one machine can run all
of them side by side. Nothing else in the project reads environment variables.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class LoggingSettings(BaseSettings):
    """Logging, shared by the CLI and every service (``OCTOPACK_LOG_*``)."""

    model_config = SettingsConfigDict(env_prefix="OCTOPACK_LOG_", extra="ignore")

    level: str = Field("INFO", description="Root log level (DEBUG, INFO, WARNING, ERROR).")
    json_format: bool = Field(
        False,
        validation_alias=AliasChoices("OCTOPACK_LOG_JSON", "json_format"),
        description="One JSON object per line, for clusters (OCTOPACK_LOG_JSON=1).",
    )


class ServerSettings(BaseSettings):
    """How a gRPC service listens and protects itself."""

    model_config = SettingsConfigDict(env_prefix="OCTOPACK_", extra="ignore")

    host: str = Field("127.0.0.1", description="Address to bind; 0.0.0.0 in a pod.")
    port: int = Field(50051, ge=0, le=65535, description="gRPC port; 0 picks a free one.")
    metrics_port: int = Field(0, ge=0, le=65535, description="Prometheus /metrics HTTP port; 0 turns it off.")
    auth_token: str | None = Field(
        None, description="If set, every RPC but health needs 'authorization: Bearer <token>'."
    )
    tls_cert: Path | None = Field(None, description="PEM certificate chain; with tls_key turns TLS on.")
    tls_key: Path | None = Field(None, description="PEM private key for tls_cert.")
    max_message_mb: int = Field(64, ge=1, le=1024, description="Largest request or response message, MiB.")
    grace_seconds: float = Field(
        10.0, ge=0, description="On SIGTERM, in-flight RPCs get this long to finish."
    )
