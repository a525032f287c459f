"""Configuration of the filter service (``OCTOPACK_FILTER_*``); S3 comes from ``OCTOPACK_S3_*``."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from octopack.common.catalog import SERVICES
from octopack.common.settings import ServerSettings


class FilterSettings(ServerSettings):
    """How the filter service listens and where it runs the rules."""

    model_config = SettingsConfigDict(env_prefix=SERVICES["filter"].prefix, extra="ignore")

    port: int = Field(SERVICES["filter"].port, ge=0, le=65535, description="gRPC port; 0 picks a free one.")
    datasets_root: str = Field("datasets", description="Key prefix of datasets in the OCTOPACK_S3_* bucket.")
    tokenizer: str = Field("", description="Default tokenizer for rule 8; empty: the default model's.")
    ray_address: str = Field("", description="Default Ray address for runs that name none; empty: in process.")
