"""Staging: many workers write one reserved version's shards, the driver commits the manifest last."""

from __future__ import annotations

import pickle
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pyarrow as pa
import pytest

from octopack.common.errors import DataLoss, InvalidArgument
from octopack.datasets.staging import StagingArea
from octopack.datasets.store import DatasetStore
from tests.integration.datasets.conftest import commitpack_rows

pytestmark = pytest.mark.integration


def _worker(area: StagingArea, part: int) -> str:
    """What a Ray task does: rebuild the store from the area's settings, write a shard and a marker."""
    table = pa.Table.from_pylist(commitpack_rows(50, start=50 * part))
    shard = area.write_shard(f"{part:05d}", table)
    area.put_json(f"_done/{part}.json", {"rows": shard.rows})
    return shard.model_dump_json()


def test_workers_in_other_processes_stage_and_the_driver_commits(store: DatasetStore) -> None:
    area = store.stage("staged", "run-1", description="four workers")
    assert pickle.loads(pickle.dumps(area)) == area  # plain data: it travels to Ray tasks
    with ProcessPoolExecutor(max_workers=2) as pool:
        infos = list(pool.map(_worker, [area] * 4, range(4)))
    from octopack.datasets.manifest import ShardInfo

    shards = [ShardInfo.model_validate_json(s) for s in infos]
    assert store.list_versions("staged") == []  # nothing visible before the commit
    schema = pa.Table.from_pylist(commitpack_rows(1)).schema
    manifest = area.commit(shards, schema, stats={"workers": 4})
    assert manifest.ref == "staged@v1" and manifest.num_rows == 200 and manifest.lineage.job_id == "run-1"
    table = store.read_table("staged", "v1")  # every shard checked against its sha256 on the way
    assert table.column("commit").to_pylist() == [r["commit"] for r in commitpack_rows(200)]
    assert area.get_json("_done/3.json") == {"rows": 50}
    # Committing the run again (a restarted driver) returns the first manifest.
    assert area.commit(shards, schema).writer_id == manifest.writer_id
    assert store.list_versions("staged") == ["v1"]


def test_one_run_one_version_even_when_drivers_race(store: DatasetStore) -> None:
    with ThreadPoolExecutor(max_workers=6) as pool:
        areas = list(pool.map(lambda _: store.stage("raced", "run-x"), range(6)))
    assert len({(a.version, a.writer_id) for a in areas}) == 1
    # A restarted driver reopens the same staging area; another run gets its own version.
    again = store.stage("raced", "run-x")
    assert (again.version, again.writer_id) == (areas[0].version, areas[0].writer_id)
    other = store.stage("raced", "run-y")
    assert other.version != again.version


def test_commit_checks_every_shard(store: DatasetStore) -> None:
    area = store.stage("checked", "run-1")
    shard = area.write_shard("00000", pa.Table.from_pylist(commitpack_rows(10)))
    schema = pa.Table.from_pylist(commitpack_rows(1)).schema
    store.objects.delete(shard.key)
    with pytest.raises(DataLoss, match="missing"):
        area.commit([shard], schema)
    outside = shard.model_copy(update={"key": "datasets/elsewhere/v1/part-0.parquet"})
    with pytest.raises(InvalidArgument, match="not in the staging area"):
        area.commit([outside], schema)
    assert store.list_versions("checked") == []


def test_abort_removes_everything_and_the_run_starts_over(store: DatasetStore) -> None:
    area = store.stage("aborted", "run-1")
    area.write_shard("00000", pa.Table.from_pylist(commitpack_rows(5)))
    area.put_json("_done/0.json", {"rows": 5})
    assert area.abort() >= 3
    assert list(store.objects.list(area.prefix)) == []
    assert store.find_run("aborted", "run-1") is None
    again = store.stage("aborted", "run-1")
    assert again.writer_id != area.writer_id and again.get_json("_done/0.json") is None


def test_a_record_whose_version_was_collected_is_stale(store: DatasetStore) -> None:
    from datetime import timedelta

    area = store.stage("collected", "run-1")
    area.write_shard("00000", pa.Table.from_pylist(commitpack_rows(5)))
    report = store.gc(older_than=timedelta(seconds=0))
    assert f"collected@{area.version}" in report["removed_versions"]
    assert store.find_run("collected", "run-1") is None  # gc removed the record too
    assert store.stage("collected", "run-1").writer_id != area.writer_id
    with pytest.raises(InvalidArgument, match="run id"):
        store.stage("collected", "../escape")
