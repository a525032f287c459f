"""The controller: keeps every job in memory, writes each change to the store, runs jobs.

One controller process drives all jobs. It is the only writer of job
documents; a write whose precondition fails means another controller took the
job over, and this one stops driving it (:class:`JobLost`). On start it loads
every stored job and resumes those that have not finished.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from octopack.common import paging
from octopack.common.errors import AlreadyExists, InvalidArgument, NotFound
from octopack.jobs.v1 import jobs_pb2
from octopack.services.controller import spec as specs
from octopack.services.controller.backends.base import Backend
from octopack.services.controller.metrics import JOBS_SUBMITTED
from octopack.services.controller.store import AsyncStore, Conflict, JobStore

log = logging.getLogger(__name__)
S = jobs_pb2.State
MAX_PAGE = 500


class JobLost(Exception):
    """Another writer changed the job document; this controller no longer drives the job."""


@dataclass
class Event:
    type: int
    job: jobs_pb2.Job
    stage: int = 0
    message: str = ""


@dataclass
class Entry:
    """A job as this controller knows it: the document, its etag, the task running it, its watchers."""

    job: jobs_pb2.Job
    etag: str
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    task: asyncio.Task[None] | None = None
    watchers: set[asyncio.Queue[Event]] = field(default_factory=set)
    lost: bool = False


def new_job_id(idempotency_key: str) -> str:
    """``job-`` + 12 hex digits: derived from the idempotency key when there is one (so a repeated key
    maps to the same document and creation with If-None-Match makes it idempotent), random otherwise.
    The id is a valid Kubernetes name and label value."""
    if idempotency_key:
        return "job-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:12]
    return "job-" + uuid.uuid4().hex[:12]


def _sort_key(job: jobs_pb2.Job) -> list[int | str]:
    return [job.create_time.ToNanoseconds(), job.id]


class Controller:
    """Submit, read, cancel and watch jobs; run them through ``backend``."""

    def __init__(
        self,
        store: JobStore,
        backend: Backend,
        max_running_jobs: int = 4,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = AsyncStore(store)
        self.backend = backend
        self.clock = clock
        self.slots = asyncio.Semaphore(max_running_jobs)
        self.entries: dict[str, Entry] = {}
        self._stopping = False
        self._loaded = asyncio.Event()

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Load every stored job; resume the unfinished ones."""
        ids = await self.store.list_ids()
        stored = await asyncio.gather(*(self.store.get(i) for i in ids))
        resumed = 0
        for doc in stored:
            if doc is None:
                continue
            entry = Entry(doc.job, doc.etag)
            self.entries[doc.job.id] = entry
            if doc.job.state not in specs.TERMINAL:
                self._launch(entry)
                resumed += 1
        self._loaded.set()
        log.info("loaded %d jobs, resumed %d", len(self.entries), resumed)

    async def stop(self) -> None:
        """Stop driving jobs without changing their documents (a restart resumes them)."""
        self._stopping = True
        tasks = [e.task for e in self.entries.values() if e.task is not None and not e.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.backend.close()

    def _launch(self, entry: Entry) -> None:
        from octopack.services.controller.runner import run_job

        entry.task = asyncio.create_task(run_job(self, entry), name=f"job {entry.job.id}")

    # -- writes ----------------------------------------------------------------------------------
    def now(self) -> float:
        return self.clock()

    async def commit(self, entry: Entry, mutate: Callable[[jobs_pb2.Job], None], stage: int = 0, message: str = "") -> None:
        """Apply ``mutate`` to a copy of the job, store it conditionally, then publish it."""
        async with entry.lock:
            if entry.lost:
                raise JobLost(entry.job.id)
            job = jobs_pb2.Job()
            job.CopyFrom(entry.job)
            mutate(job)
            job.generation += 1
            job.update_time.FromNanoseconds(int(self.now() * 1e9))
            # The write is never abandoned half-way: a cancelled caller (CancelJob cancels the
            # running task) still waits for it, so the cached etag always matches the store.
            write = asyncio.ensure_future(self.store.update(job, entry.etag))
            cancelled = False
            while True:
                try:
                    await asyncio.shield(write)
                    break
                except asyncio.CancelledError:
                    if write.done():
                        break
                    cancelled = True
            try:
                entry.etag = write.result()
            except Conflict as exc:
                entry.lost = True
                log.error("job %s changed under this controller; no longer driving it", job.id)
                raise JobLost(job.id) from exc
            entry.job = job
        self.publish(entry, jobs_pb2.EVENT_TYPE_STATE, stage, message)
        if cancelled:
            raise asyncio.CancelledError

    def publish(self, entry: Entry, type_: int, stage: int = 0, message: str = "") -> None:
        if not entry.watchers:
            return
        snapshot = jobs_pb2.Job()
        snapshot.CopyFrom(entry.job)
        event = Event(type_, snapshot, stage, message)
        for queue in list(entry.watchers):
            if queue.full():
                # A slow watcher loses its oldest event, never the newest: every event carries the
                # whole job, and the final state must always arrive.
                queue.get_nowait()
            queue.put_nowait(event)

    # -- API -------------------------------------------------------------------------------------
    async def submit(self, spec: jobs_pb2.JobSpec, idempotency_key: str = "") -> tuple[jobs_pb2.Job, bool]:
        specs.validate(spec, idempotency_key)
        await self._loaded.wait()
        job_id = new_job_id(idempotency_key)
        existing = self.entries.get(job_id)
        if existing is None:
            job = self._new_job(job_id, spec, idempotency_key)
            try:
                # Atomic in the store (If-None-Match): of racing submissions with one key, one creates.
                etag = await self.store.create(job)
            except Conflict:
                stored = await self.store.get(job_id)
                if stored is None:
                    raise AlreadyExists(f"job {job_id} is being created concurrently; GetJob it") from None
                existing = self.entries.setdefault(job_id, Entry(stored.job, stored.etag))
            else:
                entry = self.entries.setdefault(job_id, Entry(job, etag))
                JOBS_SUBMITTED.inc()
                self._launch(entry)
                return job, True
        if existing.job.idempotency_key != idempotency_key:
            raise AlreadyExists(f"job id {job_id} is taken; submit again with another idempotency_key")
        if existing.job.spec != spec:
            # The key names one submission: a different spec under it is a mistake, not a retry.
            raise AlreadyExists(
                f"idempotency_key {idempotency_key!r} already created job {job_id} with a different spec; "
                f"GetJob {job_id} to see it, or submit the new spec with another idempotency_key"
            )
        return existing.job, False

    def _new_job(self, job_id: str, spec: jobs_pb2.JobSpec, key: str) -> jobs_pb2.Job:
        job = jobs_pb2.Job(
            id=job_id, idempotency_key=key, spec=spec, state=S.STATE_PENDING, backend=self.backend.name
        )
        job.create_time.FromNanoseconds(int(self.now() * 1e9))
        job.update_time.CopyFrom(job.create_time)
        job.generation = 1
        for kind in specs.selected(spec):
            job.stages.add(kind=kind, state=S.STATE_PENDING)  # type: ignore[arg-type]
        return job

    async def entry(self, job_id: str) -> Entry:
        await self._loaded.wait()
        if not job_id:
            raise InvalidArgument("job_id: required (a job id such as job-1a2b3c4d5e6f)")
        entry = self.entries.get(job_id)
        if entry is None:
            raise NotFound(f"job {job_id!r} does not exist; ListJobs shows the existing ids")
        return entry

    async def get(self, job_id: str) -> jobs_pb2.Job:
        return (await self.entry(job_id)).job

    async def list(self, states: list[int], page_size: int, page_token: str) -> tuple[list[jobs_pb2.Job], str]:
        await self._loaded.wait()
        wanted = set(states)
        jobs = sorted((e.job for e in self.entries.values()), key=_sort_key, reverse=True)
        if wanted:
            jobs = [j for j in jobs if j.state in wanted]
        # Newest first, at most MAX_PAGE jobs and at most paging.MAX_PAGE_BYTES of them.
        return paging.page(jobs, _sort_key, lambda job: job.ByteSize(), page_size, page_token,
                           descending=True, default=50, maximum=MAX_PAGE)

    async def cancel(self, job_id: str) -> jobs_pb2.Job:
        entry = await self.entry(job_id)
        if entry.job.state in specs.TERMINAL:
            if entry.job.state == S.STATE_SUCCEEDED and entry.job.spec.serve.keep:
                # A kept endpoint outlives its job until the job is cancelled.
                ended = jobs_pb2.Job()
                ended.CopyFrom(entry.job)
                ended.cancel_requested = True
                await self.backend.cleanup(ended)
            return entry.job
        await self.commit(entry, lambda job: setattr(job, "cancel_requested", True), message="cancel requested")
        task = entry.task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        else:
            from octopack.services.controller.runner import finish_cancelled

            await finish_cancelled(self, entry)
        return entry.job

    async def watch(self, job_id: str) -> AsyncIterator[Event]:
        """The job now, then every change until it reaches a final state."""
        entry = await self.entry(job_id)
        queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=256)
        entry.watchers.add(queue)
        try:
            yield Event(jobs_pb2.EVENT_TYPE_SNAPSHOT, entry.job)
            if entry.job.state in specs.TERMINAL:
                return
            while True:
                event = await queue.get()
                yield event
                if event.job.state in specs.TERMINAL:
                    return
        finally:
            entry.watchers.discard(queue)
