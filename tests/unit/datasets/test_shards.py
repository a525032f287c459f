"""Shard sizing, encoding, checksums and schema alignment, with an in-memory object map."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from octopack.common.errors import DataLoss, FailedPrecondition, InvalidArgument, NotFound
from octopack.common.objectstore import ConditionFailed, ObjectInfo
from octopack.datasets import shards
from octopack.datasets.shards import ShardPolicy
from octopack.datasets.store import DatasetStore


class MemoryObjects:
    """Just enough of ObjectStore, as a dict, to drive a writer without a server."""

    bucket = "mem"

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def put(
        self, key: str, data: bytes, *, content_type: str = "", if_absent: bool = False, if_match=None
    ) -> str:
        if if_absent and key in self.data:
            raise ConditionFailed(key)
        self.data[key] = data
        return hashlib.md5(data).hexdigest()

    def get(self, key: str) -> bytes:
        if key not in self.data:
            raise NotFound(key)
        return self.data[key]

    def get_with_etag(self, key: str) -> tuple[bytes, str]:
        data = self.get(key)
        return data, hashlib.md5(data).hexdigest()

    def exists(self, key: str) -> bool:
        return key in self.data

    def stat(self, key: str) -> ObjectInfo | None:
        return ObjectInfo(key, len(self.data[key]), "", None) if key in self.data else None

    def list(self, prefix: str = "", recursive: bool = True) -> Iterator[ObjectInfo]:
        for key in sorted(self.data):
            if key.startswith(prefix):
                yield ObjectInfo(key, len(self.data[key]), "", None)

    def list_prefixes(self, prefix: str) -> list[str]:
        return sorted(
            {
                k[len(prefix) :].split("/")[0]
                for k in self.data
                if k.startswith(prefix) and "/" in k[len(prefix) :]
            }
        )

    def delete(self, key: str) -> None:
        self.data.pop(key, None)

    def delete_prefix(self, prefix: str) -> int:
        keys = [k for k in self.data if k.startswith(prefix)]
        for key in keys:
            del self.data[key]
        return len(keys)

    def supports_conditional_put(self) -> bool:
        return True


def _store(**policy) -> DatasetStore:
    return DatasetStore(MemoryObjects(), policy=ShardPolicy(**policy))  # type: ignore[arg-type]


def _rows(n: int, start: int = 0) -> list[dict]:
    return [{"commit": f"{i:040x}", "subject": f"Fix bug {i}", "n": i} for i in range(start, start + n)]


def test_shards_close_at_max_rows() -> None:
    store = _store(max_rows=100, convert_rows=32)
    writer = store.create_version("cp")
    writer.write(_rows(250))
    assert [s.rows for s in writer.shards] == [100, 100]  # the last 50 are still buffered
    manifest = writer.commit()
    assert [s.rows for s in manifest.shards] == [100, 100, 50]
    assert manifest.num_rows == 250
    assert [r["n"] for r in store.iter_records("cp")] == list(range(250))


def test_shards_close_at_max_bytes() -> None:
    store = _store(max_rows=10**6, max_bytes=20_000, convert_rows=10)
    writer = store.create_version("cp")
    writer.write([{"text": "x" * 1000} for _ in range(100)])  # about 100 kB of Arrow data
    manifest = writer.commit()
    assert len(manifest.shards) >= 4
    assert all(s.uncompressed_bytes <= 20_000 + 11_000 for s in manifest.shards)
    assert manifest.num_rows == 100


def test_shard_bytes_are_zstd_parquet_with_recorded_sha256() -> None:
    store = _store(max_rows=1000)
    writer = store.create_version("cp")
    writer.write(_rows(10))
    manifest = writer.commit()
    data = store.objects.get(manifest.shards[0].key)
    assert hashlib.sha256(data).hexdigest() == manifest.shards[0].sha256
    meta = pq.ParquetFile(io.BytesIO(data)).metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"


def test_corrupt_shard_is_data_loss_naming_it() -> None:
    store = _store()
    writer = store.create_version("cp")
    writer.write(_rows(5))
    key = writer.commit().shards[0].key
    store.objects.data[key] = store.objects.data[key][:-3] + b"xyz"  # type: ignore[attr-defined]
    with pytest.raises(DataLoss, match=key):
        list(store.iter_records("cp"))


def test_schema_widens_and_missing_columns_are_null() -> None:
    store = _store(max_rows=2, convert_rows=2)
    writer = store.create_version("cp")
    writer.write([{"a": None}, {"a": None}])
    writer.write([{"a": "x", "b": 1}])
    manifest = writer.commit()
    assert [f.type for f in manifest.fields] == ["string", "int64"]
    assert store.read_table("cp").to_pylist() == [
        {"a": None, "b": None},
        {"a": None, "b": None},
        {"a": "x", "b": 1},
    ]


def test_bad_records_are_invalid_argument() -> None:
    writer = _store().create_version("cp")
    with pytest.raises(InvalidArgument, match="must be a dict"):
        writer.write(["not a record"])  # type: ignore[list-item]
    with pytest.raises(InvalidArgument, match="not one dict"):
        writer.write({"a": 1})  # type: ignore[arg-type]
    writer.write([{"a": 1}])
    with pytest.raises(InvalidArgument, match="schema"):
        writer.write(pa.table({"a": pa.array([[1, 2]])}))


def test_writer_states() -> None:
    store = _store()
    writer = store.create_version("cp")
    writer.write(_rows(3))
    writer.commit()
    with pytest.raises(FailedPrecondition, match="committed"):
        writer.commit()
    with pytest.raises(FailedPrecondition, match="committed"):
        writer.write(_rows(1))
    with store.create_version("cp") as second:
        second.write(_rows(3))
    assert second.state == "aborted"
    assert not [k for k in store.objects.data if "/v2/" in k]  # type: ignore[attr-defined]


def test_unknown_column_names_the_available_ones() -> None:
    store = _store()
    writer = store.create_version("cp")
    writer.write(_rows(3))
    writer.commit()
    with pytest.raises(InvalidArgument, match=r"no column 'nope'.*commit, subject, n"):
        list(store.iter_batches("cp", columns=["nope"]))
    assert store.read_table("cp", columns=["n"]).column_names == ["n"]


def test_row_groups_follow_row_group_bytes() -> None:
    policy = ShardPolicy(row_group_bytes=10_000)
    table = pa.table({"text": ["y" * 1000] * 50})
    data, _sha = shards.encode(table, policy)
    assert pq.ParquetFile(io.BytesIO(data)).metadata.num_row_groups >= 5
    with pytest.raises(InvalidArgument):
        ShardPolicy(max_rows=0)


def test_failed_upload_fails_the_writer_and_abort_cleans_up() -> None:
    store = _store(max_rows=10)
    objects = store.objects
    real_put = objects.put
    calls = {"n": 0}

    def flaky_put(key: str, data: bytes, **kwargs) -> str:
        if key.endswith(".parquet"):
            calls["n"] += 1
            if calls["n"] == 2:
                raise ConnectionError("S3 went away")
        return real_put(key, data, **kwargs)

    objects.put = flaky_put  # type: ignore[method-assign]
    writer = store.create_version("cp")
    with pytest.raises(ConnectionError):
        writer.write(_rows(60))
        writer.flush()
        writer.commit()
    assert writer.state == "failed"
    with pytest.raises(FailedPrecondition, match="failed"):
        writer.commit()
    writer.abort()
    assert not [k for k in objects.data if "/v1/" in k]  # type: ignore[attr-defined]
    assert store.list_versions("cp") == []
