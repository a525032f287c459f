"""Fixtures of the crawler's tests: tmp repositories, the real S3 dataset store, a crawl in this process."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from octopack.datasets.store import DatasetStore
from octopack.services.crawler.crawl import PARTITION_BYTES, Crawl, CrawlRequest
from octopack.services.crawler.options import CrawlOptions
from octopack.services.crawler.runner import LocalRunner, Runner
from tests.unit.crawler.gitrepo import Repo


@pytest.fixture
def store(s3_settings) -> DatasetStore:  # type: ignore[no-untyped-def]
    return DatasetStore.from_settings(s3_settings)


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "repo")


def crawl_here(
    sources: list[str], store: DatasetStore, work: Path, *, dataset: str = "ds", workers: int = 2,
    runner: Runner | None = None, run_id: str = "", fresh: bool = False, partition_bytes: int = PARTITION_BYTES,
    **options: object,
) -> tuple[Crawl, pa.Table]:
    """Crawl ``sources`` in this process (the same code as the crawler's Ray job); the committed rows."""
    request = CrawlRequest(sources, dataset, CrawlOptions(**options), fresh=fresh).validate()  # type: ignore[arg-type]
    area = store.stage(dataset, run_id or request.default_run_id())
    crawl = Crawl(request, area, runner or LocalRunner(workers, cache_dir=str(work / "cache")),
                  partition_bytes=partition_bytes)
    progress = crawl.run()
    return crawl, store.read_table(dataset, progress.version)
