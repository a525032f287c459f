"""Reading a committed version without OctoPack: pyarrow and pandas straight from S3 (docs/datasets.md)."""

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
