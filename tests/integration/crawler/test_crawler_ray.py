"""Crawling repositories as Ray tasks on a local Ray cluster gives the same samples as local processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from octopack.services.crawler.crawl import Crawl, CrawlRequest
from octopack.services.crawler.options import CrawlOptions
from tests.unit.crawler.conftest import MemoryStore
from tests.unit.crawler.gitrepo import Repo, oracle

pytestmark = [pytest.mark.integration, pytest.mark.ray]


def test_ray_tasks_crawl_like_local_processes(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray", reason="needs the [train] extra (Ray)")
    repos = []
    for name in ("a", "b"):
        repo = Repo(tmp_path / name)
        repo.commit("Initial commit", m_DOT_py="x = 0\n")
        for i in range(3):
            repo.commit(f"Set {name} to the value {i}", m_DOT_py=f"{name} = {i}\n")
        repos.append(repo)
    sources = [str(r.path) for r in repos] + [str(tmp_path / "missing")]
    ray.init(address="local", num_cpus=2, _node_ip_address="127.0.0.1", include_dashboard=False)
    try:
        store = MemoryStore()
        crawl = Crawl(CrawlRequest(sources, "ds", CrawlOptions(licenses=()), ray_address="local"), tmp_path / "w")
        crawl.run(store)
    finally:
        ray.shutdown()
    assert crawl.progress.repositories_done == 2 and crawl.progress.repositories_failed == 1
    expected = {**oracle(repos[0].path), **oracle(repos[1].path)}
    assert sorted(store.latest("ds").table().column("commit").to_pylist()) == sorted(expected)
