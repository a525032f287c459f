"""Crawls the server runs in background threads; at most one running crawl per crawl id (its
checkpoints are shared)."""

from __future__ import annotations

from collections.abc import Hashable

from octopack.common.background import CANCELLED, FAILED, RUNNING, SUCCEEDED, BackgroundJob, BackgroundRuns
from octopack.services.crawler.crawl import Crawl, Store

__all__ = ["CANCELLED", "FAILED", "RUNNING", "SUCCEEDED", "CrawlJob", "CrawlJobs"]

CrawlJob = BackgroundJob[Crawl]


class CrawlJobs(BackgroundRuns[Crawl]):
    noun = "crawl"
    list_rpc = "ListCrawls"

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store

    def work_id(self, work: Crawl) -> str:
        return work.crawl_id

    def execute(self, work: Crawl) -> None:
        work.run(self.store)

    def observe(self, job: CrawlJob) -> Hashable:
        with job.work.lock:
            p = job.work.progress
            return (repr(p.totals()), p.repositories_done, p.repositories_failed, p.version)
