"""Long work that a service hands to Ray jobs and reports through Get/Watch RPCs, adopted by run id.

The crawler and the filter share this. A run is named by its run id (the caller's, or one derived from
the request) and is idempotent by it: starting a run that exists with the same request returns it
(running or succeeded), a different request under the same id is refused, and a run that failed or was
cancelled is started again, resuming from what it staged. The work itself runs in a Ray job (its
driver), submitted with a submission id derived from the run id, so it outlives the service: a
restarted service (or one that never heard of the run) adopts it from its records in S3. This module keeps
the runs, their records and the run-id rule; :mod:`octopack.common.drivers` launches and adopts the Ray jobs.

Records of one service live under one prefix of the bucket::

    <prefix><run id>/run.json        the request, its fingerprint and how many drivers were launched
    <prefix><run id>/progress.json   counters the driver writes while it runs
    <prefix><run id>/result.json     the outcome: succeeded (with the output) or failed (with the error)
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from octopack.common.errors import (
    AlreadyExists,
    InvalidArgument,
    NotFound,
    OctopackError,
)
from octopack.common.objectstore import ConditionFailed, ObjectStore

log = logging.getLogger(__name__)
RUN_ID_RULE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
_RUN_ID = re.compile(RUN_ID_RULE)
RUNNING, SUCCEEDED, FAILED, CANCELLED = "running", "succeeded", "failed", "cancelled"
#: How long after a stopped driver's Ray job ends its workers' last uploads can still land (they are killed
#: after the driver); what a cancelled run staged is swept again after this.
LATE_WRITES_S = 5.0


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

    def same(self, current: W, new: W) -> bool:
        """True when ``new`` asks for what ``current`` does (so starting it again returns ``current``)."""
        return False

    def execute(self, work: W) -> None:
        """Run the work to its end (it checks ``cancel_event`` itself)."""
        raise NotImplementedError

    def observe(self, job: BackgroundJob[W]) -> Hashable:
        """What the Get RPC shows of a running job, for :meth:`watch` to notice changes."""
        return job.state

    def start(self, work: W) -> BackgroundJob[W]:
        """Run ``work``; idempotent by id: the same work again returns its run unless it failed or was cancelled."""
        work_id = self.work_id(work)
        with self.lock:
            current = self.jobs.get(work_id)
            if current is not None:
                if not self.same(current.work, work):
                    raise AlreadyExists(
                        f"{self.noun} {work_id} exists with another request: use another run id, or the same request"
                    )
                if current.state in (RUNNING, SUCCEEDED):
                    return current
            job = BackgroundJob(work)
            self.jobs[work_id] = job
        self._spawn(job, work_id)
        return job

    def _spawn(self, job: BackgroundJob[W], work_id: str) -> None:
        threading.Thread(target=self._run, args=(job, work_id), name=f"{self.noun}-{work_id}", daemon=True).start()

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
        job = await asyncio.to_thread(self.get, work_id)
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
            job = self.jobs.get(work_id, job)  # a restarted run replaces the job

    def close(self) -> None:
        for job in self.jobs.values():
            job.work.cancel_event.set()


class RunRecords:
    """A service's run records in S3 (see the module docstring)."""

    def __init__(self, objects: ObjectStore, prefix: str) -> None:
        self.objects = objects
        self.prefix = prefix.strip("/") + "/"

    def folder(self, run_id: str) -> str:
        """The key prefix of everything the run keeps (its records, files it hands to its workers)."""
        return f"{self.prefix}{run_id}/"

    def key(self, run_id: str, name: str) -> str:
        return f"{self.folder(run_id)}{name}.json"

    def read(self, run_id: str, name: str = "run") -> tuple[dict[str, Any], str] | None:
        try:
            raw, etag = self.objects.get_with_etag(self.key(run_id, name))
        except NotFound:
            return None
        return json.loads(raw), etag

    def get(self, run_id: str, name: str) -> dict[str, Any] | None:
        found = self.read(run_id, name)
        return None if found is None else found[0]

    def create(self, run_id: str, doc: dict[str, Any]) -> bool:
        """Store the run record unless it exists; True when this call created it."""
        try:
            self.objects.put(self.key(run_id, "run"), json.dumps(doc).encode(), content_type="application/json",
                             if_absent=True)
        except ConditionFailed:
            return False
        return True

    def replace(self, run_id: str, doc: dict[str, Any], etag: str) -> str:
        """Replace the run record if it is still ``etag``; raise :class:`ConditionFailed` if not."""
        return self.objects.put(self.key(run_id, "run"), json.dumps(doc).encode(), content_type="application/json",
                                if_match=etag)

    def put(self, run_id: str, name: str, doc: dict[str, Any]) -> None:
        self.objects.put(self.key(run_id, name), json.dumps(doc).encode(), content_type="application/json")

    def delete(self, run_id: str, name: str) -> None:
        self.objects.delete(self.key(run_id, name))


def is_run_id(run_id: str) -> bool:
    return _RUN_ID.match(run_id) is not None


def check_run_id(run_id: str) -> str:
    """Return ``run_id`` if it can name a run (and be part of an S3 key), else raise :class:`InvalidArgument`."""
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
        raise InvalidArgument(
            f"run id {run_id!r} is invalid: use 1-128 characters of A-Z, a-z, 0-9, '.', '_' or '-', "
            f"starting with a letter or digit (regex {RUN_ID_RULE})"
        )
    return run_id
