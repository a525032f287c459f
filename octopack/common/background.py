"""Long work that a service starts in a background thread and reports through Get/Watch RPCs.

The crawler and the filter share this: a registry of runs by id, at most one running run per id,
every failure recorded for the Get RPC, cancellation through the work's ``cancel_event``, and a
watch that yields whenever what the Get RPC shows changes.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Hashable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from octopack.common.errors import FailedPrecondition, NotFound, OctopackError

log = logging.getLogger(__name__)
RUNNING, SUCCEEDED, FAILED, CANCELLED = "running", "succeeded", "failed", "cancelled"


class Work(Protocol):
    """What a background run needs of the work it runs."""

    cancel_event: threading.Event


W = TypeVar("W", bound=Work)


@dataclass
class BackgroundJob(Generic[W]):
    """One run of some work and its outcome."""

    work: W
    state: str = RUNNING
    error: str = ""
    started: float = field(default_factory=time.time)

    @property
    def finished(self) -> bool:
        return self.state != RUNNING


class BackgroundRuns(Generic[W]):
    """Runs each piece of work in its own thread; subclasses say how to run, name and observe it."""

    #: What the messages call one run ("crawl", "filter run") and the RPC that lists them.
    noun = "run"
    list_rpc = "List"

    def __init__(self) -> None:
        self.jobs: dict[str, BackgroundJob[W]] = {}
        self.lock = threading.Lock()

    def work_id(self, work: W) -> str:
        raise NotImplementedError

    def execute(self, work: W) -> None:
        """Run the work to its end (it checks ``cancel_event`` itself)."""
        raise NotImplementedError

    def observe(self, job: BackgroundJob[W]) -> Hashable:
        """What the Get RPC shows of a running job, for :meth:`watch` to notice changes."""
        return job.state

    def start(self, work: W) -> BackgroundJob[W]:
        work_id = self.work_id(work)
        with self.lock:
            current = self.jobs.get(work_id)
            if current is not None and not current.finished:
                raise FailedPrecondition(f"{self.noun} {work_id} is already running: watch it or cancel it first")
            job = BackgroundJob(work)
            self.jobs[work_id] = job
        threading.Thread(target=self._run, args=(job, work_id), name=f"{self.noun}-{work_id}", daemon=True).start()
        return job

    def _run(self, job: BackgroundJob[W], work_id: str) -> None:
        try:
            self.execute(job.work)
            job.state = CANCELLED if job.work.cancel_event.is_set() else SUCCEEDED
        except OctopackError as exc:
            job.state = CANCELLED if job.work.cancel_event.is_set() else FAILED
            job.error = exc.message
        except Exception as exc:  # the thread must record every failure for the Get RPC
            log.exception("%s %s failed", self.noun, work_id)
            job.state, job.error = FAILED, f"internal error: {exc}"

    def get(self, work_id: str) -> BackgroundJob[W]:
        job = self.jobs.get(work_id)
        if job is None:
            raise NotFound(f"{self.noun} {work_id!r} does not exist: list them with {self.list_rpc}")
        return job

    def list(self) -> list[BackgroundJob[W]]:
        return sorted(self.jobs.values(), key=lambda j: j.started, reverse=True)

    def cancel(self, work_id: str) -> BackgroundJob[W]:
        job = self.get(work_id)
        job.work.cancel_event.set()
        return job

    async def watch(self, work_id: str, interval: float = 0.25) -> AsyncIterator[BackgroundJob[W]]:
        """Yield the job whenever what the Get RPC shows changes, then once more when it ends."""
        job = self.get(work_id)
        last: Hashable = None
        while True:
            finished = job.finished
            key = (job.state, self.observe(job))
            if key != last:
                last = key
                yield job
            if finished:
                return
            await asyncio.sleep(interval)

    def close(self) -> None:
        for job in self.jobs.values():
            job.work.cancel_event.set()
