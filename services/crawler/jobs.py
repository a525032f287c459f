"""Crawls the server runs in background threads, with a change counter that watchers wait on."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from octopack.common.errors import FailedPrecondition, NotFound, OctopackError
from octopack.services.crawler.crawl import Crawl, Store

log = logging.getLogger(__name__)
RUNNING, SUCCEEDED, FAILED, CANCELLED = "running", "succeeded", "failed", "cancelled"


@dataclass
class CrawlJob:
    """One crawl and its outcome."""

    crawl: Crawl
    state: str = RUNNING
    error: str = ""
    started: float = field(default_factory=time.time)
    thread: threading.Thread | None = None

    @property
    def crawl_id(self) -> str:
        return self.crawl.crawl_id

    @property
    def finished(self) -> bool:
        return self.state != RUNNING


class CrawlJobs:
    """Starts crawls in threads; at most one running crawl per crawl id (its checkpoints are shared)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.jobs: dict[str, CrawlJob] = {}
        self.lock = threading.Lock()

    def start(self, crawl: Crawl) -> CrawlJob:
        with self.lock:
            current = self.jobs.get(crawl.crawl_id)
            if current is not None and not current.finished:
                raise FailedPrecondition(
                    f"crawl {crawl.crawl_id} is already running: watch it with WatchCrawl or cancel it first"
                )
            job = CrawlJob(crawl)
            self.jobs[crawl.crawl_id] = job
        job.thread = threading.Thread(target=self._run, args=(job,), name=f"crawl-{crawl.crawl_id}", daemon=True)
        job.thread.start()
        return job

    def _run(self, job: CrawlJob) -> None:
        try:
            job.crawl.run(self.store)
            job.state = CANCELLED if job.crawl.cancel_event.is_set() else SUCCEEDED
        except OctopackError as exc:
            job.state, job.error = FAILED, exc.message
        except Exception as exc:  # the thread must record every failure for GetCrawl
            log.exception("crawl %s failed", job.crawl_id)
            job.state, job.error = FAILED, f"internal error: {exc}"

    def get(self, crawl_id: str) -> CrawlJob:
        job = self.jobs.get(crawl_id)
        if job is None:
            raise NotFound(f"crawl {crawl_id!r} does not exist: list crawls with ListCrawls")
        return job

    def list(self) -> list[CrawlJob]:
        return sorted(self.jobs.values(), key=lambda j: j.started, reverse=True)

    def cancel(self, crawl_id: str) -> CrawlJob:
        job = self.get(crawl_id)
        job.crawl.cancel_event.set()
        return job

    async def watch(self, crawl_id: str, interval: float = 0.25) -> AsyncIterator[CrawlJob]:
        """Yield the job whenever what GetCrawl shows changes, then once more when it ends."""
        job = self.get(crawl_id)
        last = None
        while True:
            finished = job.finished
            with job.crawl.lock:
                p = job.crawl.progress
                key = (job.state, repr(p.totals()), p.repositories_done, p.repositories_failed, p.version)
            if key != last:
                last = key
                yield job
            if finished:
                return
            await asyncio.sleep(interval)

    def close(self) -> None:
        for job in self.jobs.values():
            job.crawl.cancel_event.set()
