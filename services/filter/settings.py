"""Configuration of the filter service (``OCTOPACK_FILTER_*``); S3 comes from ``OCTOPACK_S3_*``."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from octopack.common.catalog import SERVICES
from octopack.common.settings import ServerSettings


class FilterSettings(ServerSettings):
    """How the filter service listens, which Ray cluster runs the rules, and where run records go."""

    model_config = SettingsConfigDict(env_prefix=SERVICES["filter"].prefix, extra="ignore")

    port: int = Field(SERVICES["filter"].port, ge=0, le=65535, description="gRPC port; 0 picks a free one.")
    datasets_root: str = Field("datasets", description="Key prefix of datasets in the OCTOPACK_S3_* bucket.")
    tokenizer: str = Field("", description="Default tokenizer for rule 8; empty: the default model's.")
    ray_address: str = Field(
        "", description="Dashboard of the Ray cluster the runs go to (http://host:8265): each run is a Ray job."
    )
    ray_python: str = Field(
        "", description="Python of the Ray cluster that runs the filter driver; empty: this process's interpreter."
    )
    runs_prefix: str = Field("runs/filter/", description="Key prefix of the filter run records in the bucket.")
    poll_seconds: float = Field(1.0, gt=0, description="How often a running run's Ray job and progress are read.")
    log_level: str = Field("INFO", description="Log level of the filter drivers.")
