"""The manifest model: totals, schema round trip, lineage and JSON-only free-form parts."""

from __future__ import annotations

import hashlib
import math

import pyarrow as pa
import pytest
from pydantic import ValidationError

from octopack.common.errors import InvalidArgument
from octopack.datasets.manifest import Lineage, Manifest, ShardInfo

SCHEMA = pa.schema([("commit", pa.string()), ("old_contents", pa.large_string()), ("n", pa.int32())])


def _shard(i: int, rows: int) -> ShardInfo:
    return ShardInfo(
        key=f"datasets/cp/v1/part-{i:05d}-abcd.parquet",
        rows=rows,
        bytes=100 + i,
        sha256=hashlib.sha256(str(i).encode()).hexdigest(),
    )


def _manifest(**kwargs) -> Manifest:
    args = dict(
        name="cp", version="v1", schema=SCHEMA, shards=[_shard(0, 10), _shard(1, 5)], lineage=Lineage()
    )
    args.update(kwargs)
    return Manifest.build(**args)


def test_build_totals_and_json_round_trip() -> None:
    lineage = Lineage(
        parents=["raw@v2"], job_id="job-1", filter_config={"min_tokens": 50}, stats={"rule_2": 7}
    )
    manifest = _manifest(lineage=lineage, extra={"note": "x"}, description="filtered")
    assert manifest.num_rows == 15
    assert manifest.num_bytes == 201
    assert manifest.ref == "cp@v1"
    assert [f.name for f in manifest.fields] == ["commit", "old_contents", "n"]
    assert manifest.fields[1].type == "large_string"
    again = Manifest.from_json(manifest.to_json())
    assert again == manifest
    assert again.table_schema().equals(SCHEMA)
    assert again.lineage.stats == {"rule_2": 7}
    assert again.shard_uris("bkt") == [f"s3://bkt/{s.key}" for s in manifest.shards]


def test_totals_must_match_shards() -> None:
    good = _manifest().model_dump()
    good["num_rows"] = 99
    with pytest.raises(ValidationError, match="num_rows"):
        Manifest.model_validate(good)


def test_bad_sha_and_names_are_rejected() -> None:
    with pytest.raises(ValidationError):
        ShardInfo(key="k", rows=1, bytes=1, sha256="xyz")
    with pytest.raises(InvalidArgument):
        _manifest(name="Bad Name")
    with pytest.raises(ValidationError, match="must name a version"):
        Lineage(parents=["raw"])


def test_free_form_parts_must_be_json() -> None:
    with pytest.raises(InvalidArgument, match="stats must be plain JSON"):
        _manifest(lineage=Lineage(stats={"x": math.nan}))
    with pytest.raises(InvalidArgument, match="extra must be plain JSON"):
        _manifest(extra={"x": object()})
