"""Configuration of the dataset service (``OCTOPACK_DATASETS_*``); S3 comes from ``OCTOPACK_S3_*``."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from octopack.common.catalog import SERVICES
from octopack.common.settings import ServerSettings
from octopack.datasets.shards import MiB, ShardPolicy


class DatasetsSettings(ServerSettings):
    """How the dataset service listens and how it writes shards."""

    model_config = SettingsConfigDict(env_prefix=SERVICES["datasets"].prefix, extra="ignore")

    port: int = Field(SERVICES["datasets"].port, ge=0, le=65535, description="gRPC port; 0 picks a free one.")
    root: str = Field("datasets", description="Key prefix of every dataset in the OCTOPACK_S3_* bucket.")
    shard_rows: int = Field(100_000, ge=1, description="A shard is closed at this many rows...")
    shard_mb: int = Field(128, ge=1, description="...or at this many MiB of in-memory (Arrow) data.")
    writer_idle_seconds: float = Field(
        3600.0, gt=0, description="An open writer with no RPC for this long is aborted (its shards removed)."
    )
    read_batch_rows: int = Field(8192, ge=1, description="Rows decoded at a time when reading a shard.")

    def policy(self) -> ShardPolicy:
        return ShardPolicy(max_rows=self.shard_rows, max_bytes=self.shard_mb * MiB)
