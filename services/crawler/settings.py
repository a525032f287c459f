"""Configuration of the crawler service (``OCTOPACK_CRAWLER_*``); S3 comes from ``OCTOPACK_S3_*``."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from octopack.common.catalog import SERVICES
from octopack.common.settings import ServerSettings


class CrawlerSettings(ServerSettings):
    """How the crawler listens, where it keeps clones and checkpoints, and how parallel it runs."""

    model_config = SettingsConfigDict(env_prefix=SERVICES["crawler"].prefix, extra="ignore")

    port: int = Field(SERVICES["crawler"].port, ge=0, le=65535, description="gRPC port; 0 picks a free one.")
    work_dir: Path = Field(
        Path("/tmp/octopack-crawler"),
        description="Bare clones (cache/) and per-repository checkpoints (crawls/); a volume in a pod.",
    )
    workers: int = Field(2, ge=1, description="Repositories crawled at once in local processes.")
    datasets_root: str = Field("datasets", description="Key prefix of datasets in the OCTOPACK_S3_* bucket.")
    ray_address: str = Field("", description="Default Ray address for crawls that name none; empty: local.")
