"""De-duplication across repositories (forks), one partition of commit shas at a time.

Every intermediate row goes to the partition ``int(sha[:8], 16) % parts``, so all copies of one commit
meet in one partition, and each partition is de-duplicated on its own: memory holds one partition,
never the dataset. In a partition the rows are ordered by the repository's place in the request, then
by their place in its history walk; a sha seen in several repositories keeps the first repository's
row, with every repository (in request order) in ``repos``. The order is the same however the rows
arrived, so a crawl on any number of workers writes the same rows as one process.
"""

from __future__ import annotations

import math
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from octopack.datasets.manifest import ShardInfo
from octopack.datasets.staging import StagingArea
from octopack.services.crawler.samples import ORDER, ROW, SAMPLE_SCHEMA

PART = "_part"
#: Per-partition counters returned with its shards.
DUPLICATES = "duplicate_across_repos"


def partitions_for(total_bytes: int, partition_bytes: int) -> int:
    """How many partitions keep each one near ``partition_bytes`` of intermediate Parquet."""
    return max(1, math.ceil(total_bytes / max(1, partition_bytes)))


def partition_of(table: pa.Table | pa.RecordBatch, parts: int) -> pa.Array:
    """The partition of each row's commit sha."""
    if parts == 1:
        return pa.array([0] * table.num_rows, pa.int32())
    shas = table.column("commit").to_pylist()
    return pa.array([int(sha[:8], 16) % parts for sha in shas], pa.int32())


def with_partition(batch: pa.Table, parts: int) -> pa.Table:
    """``batch`` with its ``_part`` column (the Ray Data step before grouping)."""
    return batch.append_column(PART, partition_of(batch, parts))


def dedupe(table: pa.Table) -> tuple[pa.Table, int]:
    """The rows of one partition in order, each sha once; and how many copies were dropped."""
    table = table.sort_by([(ORDER, "ascending"), (ROW, "ascending")])
    counts = pc.value_counts(table.column("commit"))
    shared = {item["values"] for item in counts.to_pylist() if item["counts"] > 1}
    if not shared:
        return table.select(SAMPLE_SCHEMA.names).cast(SAMPLE_SCHEMA), 0
    shas = table.column("commit").to_pylist()
    repos = table.column("repos").to_pylist()
    keep = [True] * len(shas)
    first: dict[str, int] = {}
    for i, sha in enumerate(shas):
        if sha not in shared:
            continue
        if sha in first:
            keep[i] = False
            owner = repos[first[sha]]
            owner.extend(r for r in repos[i] if r not in owner)
        else:
            first[sha] = i
    table = table.select(SAMPLE_SCHEMA.names).cast(SAMPLE_SCHEMA)
    table = table.set_column(
        SAMPLE_SCHEMA.get_field_index("repos"), SAMPLE_SCHEMA.field("repos"), pa.array(repos, SAMPLE_SCHEMA.field("repos").type)
    )
    return table.filter(pa.array(keep, pa.bool_())), keep.count(False)


def write_partition(table: pa.Table, part: int, area: StagingArea) -> list[dict[str, Any]]:
    """De-duplicate one partition and write it as shards ``part-<part>-<chunk>``; one record per shard.

    A partition without rows still returns one record (no shard) carrying its counters.
    """
    rows, dropped = dedupe(table)
    out: list[dict[str, Any]] = []
    step = area.policy.max_rows
    for chunk, start in enumerate(range(0, rows.num_rows, step)):
        shard = area.write_shard(f"{part:05d}-{chunk:04d}", rows.slice(start, step), SAMPLE_SCHEMA)
        out.append({"part": part, "chunk": chunk, "shard": shard.model_dump_json(), DUPLICATES: 0})
    if not out:
        out.append({"part": part, "chunk": -1, "shard": "", DUPLICATES: 0})
    out[0][DUPLICATES] = dropped
    return out


def collect(records: list[dict[str, Any]]) -> tuple[list[ShardInfo], int]:
    """The shards of every partition in order, and the copies dropped in all of them."""
    records = sorted(records, key=lambda r: (int(r["part"]), int(r["chunk"])))
    shards = [ShardInfo.model_validate_json(r["shard"]) for r in records if r["shard"]]
    return shards, sum(int(r[DUPLICATES]) for r in records)
