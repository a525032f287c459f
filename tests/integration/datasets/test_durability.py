"""A writer process killed mid-upload leaves no visible version, and gc cleans up after it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest

from octopack.common.errors import NotFound
from octopack.common.objectstore import S3Settings
from octopack.datasets.store import DatasetStore
from tests.integration.datasets.conftest import commitpack_rows

pytestmark = pytest.mark.integration

WRITER = textwrap.dedent(
    """
    import sys
    from octopack.datasets.shards import ShardPolicy
    from octopack.datasets.store import DatasetStore
    from tests.integration.datasets.conftest import commitpack_rows

    store = DatasetStore.from_settings(policy=ShardPolicy(max_rows=100, convert_rows=50))
    writer = store.create_version("crashy", job_id="doomed")
    start = 0
    while True:  # never commits: the parent kills it while it uploads
        writer.write(commitpack_rows(100, start))
        start += 100
        print(len(writer.shards), flush=True)
    """
)


def test_killed_writer_leaves_no_visible_version(s3_settings: S3Settings, store: DatasetStore) -> None:
    env = dict(os.environ)
    env.update(
        OCTOPACK_S3_ENDPOINT=s3_settings.endpoint,
        OCTOPACK_S3_ACCESS_KEY=s3_settings.access_key,
        OCTOPACK_S3_SECRET_KEY=s3_settings.secret_key,
        OCTOPACK_S3_BUCKET=s3_settings.bucket,
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER],
        env=env,
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        prefix = store.version_prefix("crashy", "v1")
        for _line in child.stdout:
            # Kill it once shards are in S3 while it goes on encoding and uploading more.
            if len([k for k in store.objects.list_keys(prefix) if k.endswith(".parquet")]) >= 3:
                break
        else:
            pytest.fail(f"the writer process ended early: {child.stderr.read() if child.stderr else ''}")
        os.kill(child.pid, signal.SIGKILL)  # mid-upload: it keeps writing shards until this moment
    finally:
        child.kill()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    staged = store.objects.list_keys(prefix)
    assert len([k for k in staged if k.endswith(".parquet")]) >= 3  # the shards are there...
    assert store.list_datasets() == []  # ...but nothing is visible
    assert store.list_versions("crashy") == []
    with pytest.raises(NotFound):
        store.get_manifest("crashy")
    with pytest.raises(NotFound):
        store.get_manifest("crashy", "v1")

    # A new writer is not blocked by the dead one, and gc removes what the dead one left.
    writer = store.create_version("crashy")
    assert writer.version == "v2"
    writer.write(commitpack_rows(10))
    writer.commit()
    report = store.gc(older_than=timedelta(seconds=-5))
    assert report["removed_versions"] == ["crashy@v1"]
    assert store.objects.list_keys(store.version_prefix("crashy", "v1")) == []
    assert store.list_versions("crashy") == ["v2"]
    assert list(store.iter_records("crashy")) == commitpack_rows(10)
