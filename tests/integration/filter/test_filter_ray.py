"""The filter on Ray Data (one task per input shard, output shards written by the workers) keeps the same
rows in the same order and counts the same drops as one process; a second driver of a run resumes it."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pyarrow as pa
import pytest

from octopack.common.drivers import driver_env
from octopack.datasets.shards import ShardPolicy
from octopack.datasets.store import DatasetStore
from octopack.services.crawler.samples import SAMPLE_SCHEMA
from octopack.services.filter.config import FilterConfig
from octopack.services.filter.pipeline import SHARDS, LocalShardRunner, filter_shard
from octopack.services.filter.run import FilterRequest, FilterRun
from octopack.services.filter.stats import FilterStats
from tests.unit.filter.conftest import sample, train_tokenizer

pytestmark = [pytest.mark.integration, pytest.mark.ray]


def _input(store: DatasetStore) -> str:
    subjects = ["Add a comment to the subtraction helper", "Fix #1 in the helper", "fix: Add the missing check here",
                "Bump the helper version to two", "Add a work in progress helper"]
    rows = [sample(commit=f"{i:040x}", subject=subjects[i % 5], lang=["Python", "Go"][i % 2]) for i in range(400)]
    with store.create_version("commits", policy=ShardPolicy(max_rows=64)) as writer:
        writer.write(pa.Table.from_pylist(rows, schema=SAMPLE_SCHEMA))
        return writer.commit().ref


SECOND_DRIVER = """
import json, sys
import ray
from octopack.datasets.store import DatasetStore
from octopack.services.filter.config import FilterConfig
from octopack.services.filter.pipeline import RayShardRunner
from octopack.services.filter.run import FilterRequest, FilterRun

temp_dir, source, tokenizer = sys.argv[1:4]
store = DatasetStore.from_settings()
driver = FilterRun(FilterRequest(source, "onray", FilterConfig(tokenizer=tokenizer)), store, run_id="onray-1").driver()
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=temp_dir)
out = driver.run(RayShardRunner())
print(json.dumps({"output": out, "stats": driver.stats.to_dict()}))
ray.shutdown()
"""


def test_ray_data_matches_one_process_and_resumes(tmp_path: Path, s3_settings) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("ray")
    store = DatasetStore.from_settings(s3_settings)
    source = _input(store)
    assert len(store.get_manifest(*source.split("@")).shards) == 7
    tokenizer = str(train_tokenizer(tmp_path / "tokenizer.json"))
    config = FilterConfig(tokenizer=tokenizer)
    local = FilterRun(FilterRequest(source, "local", config), store).driver()
    local_out = local.run(LocalShardRunner())
    run = FilterRun(FilterRequest(source, "onray", config), store, run_id="onray-1")
    # A first driver filtered shard 2 and died: its marker and output shard are staged.
    driver = run.driver()
    area = store.stage("onray", "onray-1", parents=(source,))
    manifest = store.get_manifest(*source.split("@"))
    first = filter_shard(2, manifest.shards[2], driver.plan, area)
    # The second driver runs in a process of its own on a Ray instance of its own, as the filter service's
    # Ray job runs on its cluster: the suite's shared head, after the work of earlier tests, has left Ray
    # Data waiting without end here, with its CPUs free.
    temp_dir = f"/tmp/ray-f{uuid.uuid4().hex[:6]}"
    proc = subprocess.Popen([sys.executable, "-c", SECOND_DRIVER, temp_dir, source, tokenizer],
                            env={**os.environ, **driver_env(s3_settings)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=480)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # with the Ray processes a hung driver started
        shutil.rmtree(temp_dir, ignore_errors=True)
    assert proc.returncode == 0, stderr[-3000:]
    result = json.loads(stdout.strip().splitlines()[-1])
    on_ray = result["output"]
    driver.stats = FilterStats.from_dict(result["stats"])
    assert store.read_table(*on_ray.split("@")).to_pylist() == store.read_table(*local_out.split("@")).to_pylist()
    assert driver.stats is not None and local.stats is not None
    assert driver.stats.to_dict() == local.stats.to_dict() and 0 < driver.stats.rows_out < 400
    assert area.get_json(f"{SHARDS}00002.json") == first  # resumed, not filtered again
    out = store.get_manifest(*on_ray.split("@"))
    assert [s.key for s in out.shards if "-00002-" in s.key] == [s["key"] for s in first["shards"]]
    assert out.lineage.parents == [source] and out.lineage.stats["rows_in"] == 400
