"""Configuration of the crawler service (``OCTOPACK_CRAWLER_*``); S3 comes from ``OCTOPACK_S3_*``."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from octopack.common.catalog import SERVICES
from octopack.common.settings import ServerSettings


class CrawlerSettings(ServerSettings):
    """How the crawler listens, which Ray cluster runs the crawls, and where their records go."""

    model_config = SettingsConfigDict(env_prefix=SERVICES["crawler"].prefix, extra="ignore")

    port: int = Field(SERVICES["crawler"].port, ge=0, le=65535, description="gRPC port; 0 picks a free one.")
    ray_address: str = Field(
        "", description="Dashboard of the Ray cluster the crawls run on (http://host:8265): each crawl is a Ray job."
    )
    ray_python: str = Field(
        "", description="Python of the Ray cluster that runs the crawl driver; empty: this process's interpreter."
    )
    datasets_root: str = Field("datasets", description="Key prefix of datasets in the OCTOPACK_S3_* bucket.")
    runs_prefix: str = Field("runs/crawler/", description="Key prefix of the crawl run records in the bucket.")
    partition_bytes: int = Field(
        64 << 20, ge=1, description="Intermediate Parquet bytes per de-duplication partition (held in memory whole)."
    )
    poll_seconds: float = Field(1.0, gt=0, description="How often a running crawl's Ray job and progress are read.")
    log_level: str = Field("INFO", description="Log level of the crawl drivers.")
    work_dir: Path = Field(
        Path("/tmp/octopack-crawler"), description="Bare mirrors kept between crawls of `octopack crawl` without Ray."
    )
    workers: int = Field(2, ge=1, description="Repositories `octopack crawl` without Ray crawls at once.")
