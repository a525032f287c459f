"""Configuration of the crawler service (``OCTOPACK_CRAWLER_*``); S3 comes from ``OCTOPACK_S3_*``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from octopack.common.catalog import SERVICES
from octopack.common.settings import ServerSettings
from octopack.services.crawler.policy import NetworkPolicy

#: A list setting given as JSON (``["a", "b"]``) or as comma-separated words (``a,b``).
Words = Annotated[list[str], NoDecode]


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

    git_schemes: Annotated[list[Literal["https", "http", "ssh", "git"]], NoDecode] = Field(
        ["https"], description="URL schemes repositories may use (comma-separated): https, http, ssh, git."
    )
    git_hosts: Words = Field(
        [], description="Allowed repository hosts, e.g. 'github.com,*.example.org'; empty: any public host."
    )
    git_allow_private: bool = Field(
        False, description="Allow hosts that resolve to loopback, private or link-local addresses."
    )
    git_allow_local_paths: bool = Field(True, description="Allow local paths and file:// URLs as repositories.")
    git_follow_redirects: bool = Field(False, description="Follow HTTP redirects of a repository URL.")
    git_timeout_seconds: float = Field(3600.0, gt=0, description="Longest run of one git command (a clone).")
    git_stall_seconds: float = Field(
        60.0, gt=0, description="A clone or fetch silent for this long is killed (also bounds a connect)."
    )
    git_low_speed_bytes: int = Field(1000, ge=1, description="http.lowSpeedLimit, bytes per second...")
    git_low_speed_seconds: int = Field(60, ge=1, description="...sustained for this long (http.lowSpeedTime).")

    @field_validator("git_schemes", "git_hosts", mode="before")
    @classmethod
    def _words(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                return json.loads(text)
            return [word.strip() for word in text.split(",") if word.strip()]
        return value

    def policy(self) -> NetworkPolicy:
        """The network policy every crawl of this server follows."""
        return NetworkPolicy(
            schemes=tuple(self.git_schemes), hosts=tuple(self.git_hosts), allow_private=self.git_allow_private,
            allow_local_paths=self.git_allow_local_paths, follow_redirects=self.git_follow_redirects,
            timeout_seconds=self.git_timeout_seconds, stall_seconds=self.git_stall_seconds,
            low_speed_bytes=self.git_low_speed_bytes, low_speed_seconds=self.git_low_speed_seconds,
        )
