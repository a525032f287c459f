"""The manifest of a dataset version: the one object whose presence makes a version visible.

It lists every shard with its row count, size and sha256, the Arrow schema, and the lineage
(parent versions, the producing job, the filter configuration and per-rule statistics).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any, Literal

import pyarrow as pa
from pydantic import BaseModel, Field, field_validator, model_validator

from octopack.common.errors import InvalidArgument
from octopack.datasets.names import check_name, check_version, format_ref, parse_ref

FORMAT = "octopack.dataset.v1"


class FieldInfo(BaseModel):
    """One column: its name, Arrow type (as text) and whether it may be null."""

    name: str
    type: str
    nullable: bool = True


class ShardInfo(BaseModel):
    """One Parquet file of a version."""

    key: str = Field(description="Object key in the bucket, e.g. datasets/x/v1/part-00000-ab12cd34.parquet.")
    rows: int = Field(ge=0)
    bytes: int = Field(ge=0, description="Size of the stored (compressed) file.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    uncompressed_bytes: int = Field(0, ge=0, description="Arrow in-memory size of its rows.")


class Lineage(BaseModel):
    """Where a version came from."""

    parents: list[str] = Field(default_factory=list, description="Parent versions as name@version.")
    job_id: str = ""
    filter_config: dict[str, Any] | None = None
    stats: dict[str, Any] | None = Field(None, description="Free-form, e.g. rows dropped per filter rule.")

    @field_validator("parents")
    @classmethod
    def _refs(cls, parents: list[str]) -> list[str]:
        for ref in parents:
            _name, version = parse_ref(ref)
            if version is None:
                raise ValueError(f"parent {ref!r} must name a version (name@version)")
        return parents


class Manifest(BaseModel):
    """A committed dataset version."""

    format: Literal["octopack.dataset.v1"] = "octopack.dataset.v1"
    name: str
    version: str
    created_at: datetime
    description: str = ""
    num_rows: int = Field(ge=0)
    num_bytes: int = Field(ge=0, description="Total stored size of the shards.")
    fields: list[FieldInfo]
    arrow_schema: str = Field(description="The Arrow schema, IPC-serialized, base64.")
    shards: list[ShardInfo]
    lineage: Lineage = Field(default_factory=Lineage)
    extra: dict[str, Any] = Field(default_factory=dict)
    writer_id: str = Field("", description="The writer attempt that committed it.")
    profile: str = Field(
        "", description="Data profile of the crawl or filter that made it (paper or improved); empty otherwise."
    )

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        return check_name(name)

    @field_validator("version")
    @classmethod
    def _version(cls, version: str) -> str:
        return check_version(version)

    @model_validator(mode="after")
    def _totals(self) -> Manifest:
        rows = sum(s.rows for s in self.shards)
        if rows != self.num_rows:
            raise ValueError(f"num_rows {self.num_rows} != sum of shard rows {rows}")
        size = sum(s.bytes for s in self.shards)
        if size != self.num_bytes:
            raise ValueError(f"num_bytes {self.num_bytes} != sum of shard sizes {size}")
        return self

    @property
    def ref(self) -> str:
        return format_ref(self.name, self.version)

    def table_schema(self) -> pa.Schema:
        """The Arrow schema every shard is read as."""
        return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(self.arrow_schema)))

    def shard_uris(self, bucket: str) -> list[str]:
        """``s3://bucket/key`` of every shard, in order (for pandas, pyarrow, Ray Data, HF datasets)."""
        return [f"s3://{bucket}/{s.key}" for s in self.shards]

    def to_json(self) -> bytes:
        return self.model_dump_json(indent=1).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> Manifest:
        return cls.model_validate_json(data)

    @classmethod
    def build(
        cls,
        *,
        name: str,
        version: str,
        schema: pa.Schema,
        shards: list[ShardInfo],
        lineage: Lineage,
        description: str = "",
        extra: dict[str, Any] | None = None,
        writer_id: str = "",
        profile: str = "",
    ) -> Manifest:
        """A manifest for ``shards`` created now; free-form parts must be JSON."""
        for label, doc in (
            ("filter_config", lineage.filter_config),
            ("stats", lineage.stats),
            ("extra", extra),
        ):
            try:
                json.dumps(doc, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise InvalidArgument(
                    f"{label} must be plain JSON (dicts, lists, str, numbers): {exc}"
                ) from exc
        return cls(
            name=name,
            version=version,
            created_at=datetime.now(UTC),
            description=description,
            num_rows=sum(s.rows for s in shards),
            num_bytes=sum(s.bytes for s in shards),
            fields=fields_of(schema),
            arrow_schema=encode_schema(schema),
            shards=shards,
            lineage=lineage,
            extra=extra or {},
            writer_id=writer_id,
            profile=profile,
        )


def fields_of(schema: pa.Schema) -> list[FieldInfo]:
    return [FieldInfo(name=f.name, type=str(f.type), nullable=f.nullable) for f in schema]


def encode_schema(schema: pa.Schema) -> str:
    return base64.b64encode(schema.serialize().to_pybytes()).decode()
