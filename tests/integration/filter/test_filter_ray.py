"""The filter on Ray Data (map_batches) keeps the same rows and counts the same drops as a local run."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from octopack.services.filter.config import FilterConfig
from octopack.services.filter.pipeline import run_local, run_ray
from octopack.services.filter.rules import build_rules
from octopack.services.filter.stats import FilterStats
from tests.unit.filter.conftest import sample, train_tokenizer

pytestmark = [pytest.mark.integration, pytest.mark.ray]


def test_ray_data_matches_local(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray", reason="needs the [train] extra (Ray)")
    tokenizer = str(train_tokenizer(tmp_path / "tokenizer.json"))
    subjects = ["Add a comment to the subtraction helper", "Fix #1 in the helper", "fix: Add the missing check here",
                "Bump the helper version to two", "Add a work in progress helper"]
    rows = [sample(commit=f"{i:040x}", subject=subjects[i % 5], lang=["Python", "Go"][i % 2]) for i in range(400)]
    batches = [pa.Table.from_pylist(rows[i : i + 64]) for i in range(0, 400, 64)]
    rules = build_rules(FilterConfig(), tokenizer)
    local_stats, ray_stats = FilterStats.for_rules(rules), FilterStats.for_rules(rules)
    local = [r for t in run_local(batches, rules, local_stats) for r in t.to_pylist()]
    ray.init(address="local", num_cpus=2, _node_ip_address="127.0.0.1", include_dashboard=False)
    try:
        remote = [r for t in run_ray(batches, rules, ray_stats, "local") for r in t.to_pylist()]
    finally:
        ray.shutdown()
    key = sorted(local, key=lambda r: r["commit"])
    assert sorted(remote, key=lambda r: r["commit"]) == key and len(key) > 0
    assert ray_stats.to_dict() == local_stats.to_dict()
