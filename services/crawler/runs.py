"""The crawler service's runs: each crawl a Ray job (:mod:`.driver`), followed and adopted by run id."""

from __future__ import annotations

import shlex
import sys
from typing import Any

from octopack.common.background import LATE_WRITES_S, RunRecords, check_run_id
from octopack.common.drivers import DriverRuns, DriverWork, driver_env
from octopack.datasets.store import DatasetStore
from octopack.ray_jobs.cluster import RayJobClient
from octopack.services.crawler.crawl import CrawlProgress, CrawlRequest
from octopack.services.crawler.settings import CrawlerSettings
from octopack.services.crawler.task import CANCEL_POLL_S, mark_cancelled


class CrawlRun(DriverWork):
    """One crawl: its validated request and, while it runs, the driver's counters."""

    def __init__(self, run_id: str, request: CrawlRequest, store: DatasetStore, resume: bool = True) -> None:
        super().__init__(check_run_id(run_id), request.fingerprint(), request.to_doc(), resume)
        self.crawl = request
        self.store = store

    @property
    def counters(self) -> CrawlProgress:
        with self.lock:
            return CrawlProgress.from_doc(self.progress) if self.progress else CrawlProgress()

    #: The tasks look for the marker every :data:`CANCEL_POLL_S`; a worker that Ray kills with the driver
    #: would leave its git commands (their own process groups) running.
    stop_grace_s = 2 * CANCEL_POLL_S + 1

    def before_stop(self) -> None:
        """Leave the cancellation marker in the run's staging area: every task's git commands stop."""
        area = self.store.find_run(self.crawl.dataset, self.run_id)
        if area is not None and area.committed() is None:
            mark_cancelled(area)

    def on_cancelled(self) -> None:
        self.store.abort_run(self.crawl.dataset, self.run_id, late_writes_s=LATE_WRITES_S)


class CrawlRuns(DriverRuns[CrawlRun]):
    noun = "crawl"
    list_rpc = "ListCrawls"

    def __init__(self, settings: CrawlerSettings, store: DatasetStore, ray: Any = None) -> None:
        self.settings = settings
        self.store = store
        python = settings.ray_python or sys.executable

        def entrypoint(run_id: str) -> str:
            return shlex.join([
                python, "-m", "octopack.services.crawler.driver", "--run-id", run_id, "--records",
                settings.runs_prefix, "--datasets-root", settings.datasets_root, "--partition-bytes",
                str(settings.partition_bytes),
            ])

        env = driver_env(store.objects.settings, settings.log_level)
        super().__init__(
            RunRecords(store.objects, settings.runs_prefix), ray or RayJobClient(settings.ray_address), entrypoint,
            env, self._load, settings.poll_seconds,
        )

    def _load(self, run_id: str, record: dict[str, Any]) -> CrawlRun:
        return CrawlRun(run_id, CrawlRequest.from_doc(record["request"]), self.store)

    def begin(self, request: CrawlRequest, run_id: str = "") -> Any:
        """Start (or return, or resume) the run ``run_id`` of ``request``; the list is checked first."""
        request.source_list().check(self.store)
        return self.start(CrawlRun(run_id or request.default_run_id(), request, self.store))
