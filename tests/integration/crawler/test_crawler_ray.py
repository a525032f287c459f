"""The crawl on Ray (tasks, then the de-duplication) writes exactly what the crawl in one process writes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from octopack.datasets.store import DatasetStore
from octopack.services.crawler.runner import RayRunner
from tests.unit.crawler.conftest import crawl_here
from tests.unit.crawler.gitrepo import Repo, oracle

pytestmark = [pytest.mark.integration, pytest.mark.ray]


def _repos(tmp_path: Path) -> list[str]:
    repos = []
    for name in ("a", "b"):
        repo = Repo(tmp_path / name)
        repo.commit("Initial commit", m_DOT_py="x = 0\n")
        for i in range(3):
            repo.commit(f"Set {name} to the value {i}", m_DOT_py=f"{name} = {i}\n")
        repos.append(repo)
    fork = tmp_path / "fork"
    subprocess.run(["git", "clone", "-q", str(repos[0].path), str(fork)], check=True)
    return [str(r.path) for r in repos] + [str(fork), str(tmp_path / "missing")]


def test_ray_runner_writes_the_rows_of_one_process(tmp_path: Path, store: DatasetStore, ray_head) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("ray")
    import ray

    sources = _repos(tmp_path)
    single, expected = crawl_here(sources, store, tmp_path / "w1", dataset="single", workers=1, licenses=())
    ray.init(address=ray_head.gcs_address, log_to_driver=False)
    try:
        # Two partitions: the shuffle and per-partition de-duplication of Ray Data, not the one-task shortcut.
        on_ray, rows = crawl_here(sources, store, tmp_path / "w2", dataset="onray", runner=RayRunner(), licenses=())
        many, many_rows = crawl_here(sources, store, tmp_path / "w3", dataset="many", runner=RayRunner(), licenses=(),
                                     partition_bytes=1000)
    finally:
        ray.shutdown()
    assert on_ray.progress.repositories_done == 3 and on_ray.progress.repositories_failed == 1
    assert rows.to_pylist() == expected.to_pylist()  # the same rows in the same order
    assert sorted(rows.column("commit").to_pylist()) == sorted({**oracle(Path(sources[0])), **oracle(Path(sources[1]))})
    assert on_ray.progress.skipped["duplicate_across_repos"] == single.progress.skipped["duplicate_across_repos"] == 3
    assert len(store.get_manifest("many", many.progress.version).shards) > 1
    assert sorted(many_rows.to_pylist(), key=str) == sorted(expected.to_pylist(), key=str)
