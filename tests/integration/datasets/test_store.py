"""DatasetStore against a real S3 server: round trips, refusals, corruption, delete, gc."""

from __future__ import annotations

import threading
from datetime import timedelta

import pyarrow as pa
import pytest

from octopack.common.errors import AlreadyExists, DataLoss, FailedPrecondition, InvalidArgument, NotFound
from octopack.common.objectstore import ObjectStore
from octopack.datasets.metrics import SHARD_FAILURES
from octopack.datasets.store import DatasetStore, parse_ref
from tests.integration.datasets.conftest import commitpack_rows

pytestmark = pytest.mark.integration


def test_write_commit_read_round_trip(store: DatasetStore) -> None:
    rows = commitpack_rows(500)
    writer = store.create_version("commitpack", job_id="job-7", description="sample")
    assert writer.version == "v1"
    assert writer.write(rows[:123]) == 123
    writer.write(pa.Table.from_pylist(rows[123:]))
    manifest = writer.commit(filter_config={"min_tokens": 50}, stats={"rule_7": {"dropped": 3}})
    assert manifest.num_rows == 500
    assert [s.rows for s in manifest.shards] == [200, 200, 100]
    assert store.list_datasets() == ["commitpack"]
    assert store.list_versions("commitpack") == ["v1"]
    assert list(store.iter_records("commitpack")) == rows
    assert store.read_table("commitpack", "v1", columns=["commit", "lang"]).to_pylist() == [
        {"commit": r["commit"], "lang": r["lang"]} for r in rows
    ]
    stored = store.get_manifest(*parse_ref("commitpack@v1"))
    assert stored == manifest
    assert stored.lineage.job_id == "job-7"
    assert stored.lineage.stats == {"rule_7": {"dropped": 3}}


def test_versions_lineage_and_latest(store: DatasetStore) -> None:
    for n in (3, 4):
        with store.create_version("raw") as writer:
            writer.write(commitpack_rows(n))
            writer.commit()
    child = store.create_version("filtered", parents=["raw", "raw@v1"])
    child.write(commitpack_rows(2))
    manifest = child.commit()
    assert manifest.lineage.parents == ["raw@v2", "raw@v1"]  # "raw" resolved to its newest version
    assert store.get_manifest("raw").version == "v2"
    assert store.get_manifest("raw").num_rows == 4
    with pytest.raises(NotFound, match="nope"):
        store.create_version("x", parents=["nope"])
    given = store.create_version("raw", "2024-06-01")
    given.write(commitpack_rows(1))
    given.commit()
    assert store.list_versions("raw") == ["v1", "v2", "2024-06-01"]
    assert store.create_version("raw").version == "v3"


def test_second_commit_of_a_version_is_refused(store: DatasetStore) -> None:
    writer = store.create_version("cp", "v5")
    writer.write(commitpack_rows(3))
    writer.commit()
    with pytest.raises(FailedPrecondition, match="committed"):
        writer.commit()
    with pytest.raises(AlreadyExists, match="cp@v5 is already committed"):
        store.create_version("cp", "v5")
    # A racing writer that bypassed the reservation still loses at the manifest's If-None-Match.
    rogue = store.create_version("cp", "v6")
    rogue.version = "v5"
    store.objects.put(
        store.version_prefix("cp", "v5") + "_writer.json", b'{"writer_id": "%s"}' % rogue.writer_id.encode()
    )
    rogue.write(commitpack_rows(1))
    with pytest.raises(FailedPrecondition, match="already committed"):
        rogue.commit()
    assert store.get_manifest("cp", "v5").num_rows == 3


def test_concurrent_writers_get_distinct_versions(store: DatasetStore) -> None:
    versions: list[str] = []
    barrier = threading.Barrier(4)

    def write() -> None:
        mine = DatasetStore(ObjectStore(store.objects.settings))
        barrier.wait()
        writer = mine.create_version("busy")
        writer.write(commitpack_rows(2))
        versions.append(writer.commit().version)

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(versions) == ["v1", "v2", "v3", "v4"]


def test_corrupted_shard_is_reported_on_read(store: DatasetStore) -> None:
    writer = store.create_version("cp")
    writer.write(commitpack_rows(450))
    manifest = writer.commit()
    bad = manifest.shards[1]
    original = store.objects.get(bad.key)
    data = bytearray(original)
    data[len(data) // 2] ^= 0xFF
    store.objects.put(bad.key, bytes(data))  # overwrite the bytes in S3
    corrupt_before = SHARD_FAILURES.labels("corrupt")._value.get()
    reader = store.iter_records("cp")
    first = [next(reader) for _ in range(200)]  # the first shard is intact
    assert first == commitpack_rows(200)
    with pytest.raises(DataLoss, match=rf"shard {bad.key} of cp@v1 is corrupt: sha256"):
        list(reader)
    assert SHARD_FAILURES.labels("corrupt")._value.get() == corrupt_before + 1
    store.objects.put(bad.key, original)
    assert store.read_table("cp").num_rows == 450
    store.objects.delete(manifest.shards[2].key)
    with pytest.raises(DataLoss, match=rf"shard {manifest.shards[2].key} of cp@v1 is missing"):
        list(store.iter_batches("cp", columns=["commit"]))


def test_delete_abort_and_errors(store: DatasetStore) -> None:
    for _ in range(2):
        writer = store.create_version("cp")
        writer.write(commitpack_rows(5))
        writer.commit()
    removed = store.delete_version("cp", "v2")
    assert removed >= 3
    assert store.list_versions("cp") == ["v1"]
    assert store.objects.list_keys(store.version_prefix("cp", "v2")) == []
    with pytest.raises(NotFound, match="cp@v2 does not exist"):
        store.get_manifest("cp", "v2")
    with pytest.raises(NotFound):
        store.delete_version("cp", "v2")
    # A deletion interrupted after the manifest went leaves shards; missing_ok finishes it.
    store.objects.delete(store.manifest_key("cp", "v1"))
    assert store.objects.list_keys(store.version_prefix("cp", "v1"))
    assert store.delete_version("cp", "v1", missing_ok=True) >= 1
    assert store.objects.list_keys(store.version_prefix("cp", "v1")) == []
    assert store.delete_version("cp", "v1", missing_ok=True) == 0
    assert store.create_version("cp").version == "v3"  # numbers are never handed out twice
    aborted = store.create_version("cp", "tmp")
    aborted.write(commitpack_rows(500))
    assert aborted.shards
    aborted.abort()
    assert store.objects.list_keys(store.version_prefix("cp", "tmp")) == []
    with pytest.raises(NotFound, match="no committed version"):
        store.get_manifest("empty")
    with pytest.raises(InvalidArgument, match="regex"):
        store.create_version("Bad Name")


def test_gc_removes_stale_staging_only(store: DatasetStore) -> None:
    done = store.create_version("cp")
    done.write(commitpack_rows(3))
    done.commit()
    left = store.create_version("cp")
    left.write(commitpack_rows(300))  # one shard uploaded, then the writer is abandoned
    assert store.gc(older_than=timedelta(hours=1)) == {"removed_versions": [], "removed_objects": 0}
    report = store.gc(older_than=timedelta(seconds=-5))
    assert report["removed_versions"] == ["cp@v2"]
    assert store.objects.list_keys(store.version_prefix("cp", "v2")) == []
    assert store.list_versions("cp") == ["v1"]
    with pytest.raises(FailedPrecondition, match="lost its reservation"):
        left.commit()
