"""Reading a committed version as users do: pyarrow, pandas, Ray Data, Hugging Face datasets (docs/datasets.md)."""

from __future__ import annotations

import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from octopack.common.objectstore import S3Settings
from octopack.datasets.store import DatasetStore
from tests.integration.datasets.conftest import commitpack_rows

pytestmark = pytest.mark.integration


@pytest.fixture
def committed(store: DatasetStore) -> DatasetStore:
    writer = store.create_version("commitpackft")
    writer.write(commitpack_rows(450))
    writer.commit()
    return store


def test_pyarrow_reads_the_manifest_shards(committed: DatasetStore, s3_settings: S3Settings) -> None:
    manifest = committed.get_manifest("commitpackft")
    fs = s3_settings.pyarrow_filesystem()
    paths = [f"{s3_settings.bucket}/{s.key}" for s in manifest.shards]
    table = pq.read_table(paths, filesystem=fs, schema=manifest.table_schema())
    assert table.to_pylist() == commitpack_rows(450)
    # The version's folder is a plain Parquet dataset: _manifest.json and _writer.json are skipped.
    folder = f"{s3_settings.bucket}/{committed.version_prefix('commitpackft', manifest.version)}"
    assert pads.dataset(folder, filesystem=fs, format="parquet").count_rows() == 450


def test_pandas_reads_the_shards(committed: DatasetStore, s3_settings: S3Settings) -> None:
    pd = pytest.importorskip("pandas", reason="pandas comes with the data extra: run scripts/install.sh")
    uris = committed.shard_uris("commitpackft")
    assert uris[0].startswith(f"s3://{s3_settings.bucket}/datasets/commitpackft/v1/part-00000-")
    fs = s3_settings.pyarrow_filesystem()
    # With a pyarrow filesystem, paths are bucket/key (the s3:// URL without its scheme).
    paths = [uri.removeprefix("s3://") for uri in uris]
    frame = pd.concat(
        [pd.read_parquet(path, filesystem=fs, columns=["commit", "lang"]) for path in paths],
        ignore_index=True,
    )
    assert len(frame) == 450
    assert frame["commit"].tolist() == [r["commit"] for r in commitpack_rows(450)]


@pytest.mark.ray
def test_ray_data_reads_the_shards(committed: DatasetStore, s3_settings: S3Settings) -> None:
    ray = pytest.importorskip("ray", reason="Ray comes with the train extra: run scripts/install.sh")
    manifest = committed.get_manifest("commitpackft")
    paths = [f"{s3_settings.bucket}/{s.key}" for s in manifest.shards]
    ray.init(address="local", num_cpus=2, _node_ip_address="127.0.0.1", include_dashboard=False)
    try:
        ds = ray.data.read_parquet(paths, filesystem=s3_settings.pyarrow_filesystem())
        assert ds.count() == 450
        rows = ds.select_columns(["commit", "lang"]).take_all()
    finally:
        ray.shutdown()
    assert sorted(r["commit"] for r in rows) == sorted(r["commit"] for r in commitpack_rows(450))


def test_hugging_face_datasets_reads_the_shards(committed: DatasetStore, s3_settings: S3Settings) -> None:
    datasets = pytest.importorskip("datasets", reason="Hugging Face datasets comes with the dev extra")
    manifest = committed.get_manifest("commitpackft")
    fs = s3_settings.pyarrow_filesystem()
    paths = [f"{s3_settings.bucket}/{s.key}" for s in manifest.shards]
    # In memory: the shards as one Arrow table.
    ds = datasets.Dataset(pq.read_table(paths, filesystem=fs, schema=manifest.table_schema()))
    assert ds.num_rows == 450 and ds[0] == commitpack_rows(1)[0]
    assert ds.features["subject"] == datasets.Value("string")

    # Streaming, shard by shard (gen_kwargs lists are split between DataLoader workers).
    def shards(paths: list[str]):  # type: ignore[no-untyped-def]
        for path in paths:
            with fs.open_input_file(path) as f:
                for batch in pq.ParquetFile(f).iter_batches(batch_size=100):
                    yield from batch.to_pylist()

    streamed = datasets.IterableDataset.from_generator(shards, gen_kwargs={"paths": paths})
    assert [row["commit"] for row in streamed] == [r["commit"] for r in commitpack_rows(450)]
