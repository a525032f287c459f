"""Filter runs the server executes in background threads."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from octopack.common.errors import NotFound, OctopackError
from octopack.services.filter.run import FilterRun

log = logging.getLogger(__name__)
RUNNING, SUCCEEDED, FAILED, CANCELLED = "running", "succeeded", "failed", "cancelled"


@dataclass
class FilterJob:
    run: FilterRun
    state: str = RUNNING
    error: str = ""
    started: float = field(default_factory=time.time)

    @property
    def finished(self) -> bool:
        return self.state != RUNNING


class FilterJobs:
    """Runs each validated :class:`FilterRun` in its own thread."""

    def __init__(self) -> None:
        self.jobs: dict[str, FilterJob] = {}

    def start(self, run: FilterRun) -> FilterJob:
        job = FilterJob(run)
        self.jobs[run.run_id] = job
        threading.Thread(target=self._run, args=(job,), name=f"filter-{run.run_id}", daemon=True).start()
        return job

    def _run(self, job: FilterJob) -> None:
        try:
            job.run.run()
            job.state = SUCCEEDED
        except OctopackError as exc:
            job.state = CANCELLED if job.run.cancel_event.is_set() else FAILED
            job.error = exc.message
        except Exception as exc:  # the thread must record every failure for GetFilter
            log.exception("filter run %s failed", job.run.run_id)
            job.state, job.error = FAILED, f"internal error: {exc}"

    def get(self, run_id: str) -> FilterJob:
        job = self.jobs.get(run_id)
        if job is None:
            raise NotFound(f"filter run {run_id!r} does not exist: list runs with ListFilters")
        return job

    def list(self) -> list[FilterJob]:
        return sorted(self.jobs.values(), key=lambda j: j.started, reverse=True)

    async def watch(self, run_id: str, interval: float = 0.25) -> AsyncIterator[FilterJob]:
        job = self.get(run_id)
        last = None
        while True:
            finished = job.finished
            key = (job.state, job.run.rows_done)
            if key != last:
                last = key
                yield job
            if finished:
                return
            await asyncio.sleep(interval)

    def close(self) -> None:
        for job in self.jobs.values():
            job.run.cancel_event.set()
