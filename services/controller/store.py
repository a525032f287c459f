"""Durable job documents without a database server.

A job is one JSON document (the ``Job`` message) under ``<prefix><job id>.json``.
Writes are conditional: creating uses ``If-None-Match: *`` and every update
``If-Match: <etag of the version this controller last read or wrote>``, so a
stale controller (e.g. the old pod during a rolling update) can never overwrite
a newer document; it gets :class:`Conflict` and stops driving that job.
SeaweedFS (``weed mini``) and S3 honour both headers. Each document also
carries a ``generation`` that is bumped on every write, for humans and logs.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol, TypeVar

from google.protobuf import json_format

from octopack.jobs.v1 import jobs_pb2

T = TypeVar("T")


class Conflict(Exception):
    """The document changed since it was read (or exists when it was to be created)."""


@dataclass
class Stored:
    """A job document and the version tag to write it back with."""

    job: jobs_pb2.Job
    etag: str


def encode(job: jobs_pb2.Job) -> bytes:
    return json_format.MessageToJson(job, sort_keys=True).encode()


def decode(data: bytes) -> jobs_pb2.Job:
    return json_format.Parse(data.decode(), jobs_pb2.Job(), ignore_unknown_fields=True)


class JobStore(Protocol):
    """What the controller needs from storage. Implementations are blocking; see :class:`AsyncStore`."""

    def create(self, job: jobs_pb2.Job) -> str:
        """Store a new job; raise :class:`Conflict` if its id exists. Return the etag."""
        ...

    def update(self, job: jobs_pb2.Job, etag: str) -> str:
        """Replace the job if its stored etag is still ``etag``; raise :class:`Conflict` if not."""
        ...

    def get(self, job_id: str) -> Stored | None:
        """The stored job, or None."""
        ...

    def list_ids(self) -> list[str]:
        """Ids of every stored job."""
        ...


class MemoryStore:
    """A process-local store with the same conditional semantics (unit tests, ``store=memory``)."""

    def __init__(self) -> None:
        self._docs: dict[str, tuple[bytes, int]] = {}
        self._lock = threading.Lock()

    def create(self, job: jobs_pb2.Job) -> str:
        with self._lock:
            if job.id in self._docs:
                raise Conflict(job.id)
            self._docs[job.id] = (encode(job), 1)
            return "1"

    def update(self, job: jobs_pb2.Job, etag: str) -> str:
        with self._lock:
            current = self._docs.get(job.id)
            if current is None or str(current[1]) != etag:
                raise Conflict(job.id)
            self._docs[job.id] = (encode(job), current[1] + 1)
            return str(current[1] + 1)

    def get(self, job_id: str) -> Stored | None:
        with self._lock:
            current = self._docs.get(job_id)
        return None if current is None else Stored(decode(current[0]), str(current[1]))

    def list_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._docs)


class AsyncStore:
    """Runs a blocking :class:`JobStore` off the event loop, on threads of its own: stage runners hold
    the default executor's few threads for minutes, and job writes must not queue behind them."""

    def __init__(self, store: JobStore, threads: int = 16) -> None:
        self.sync = store
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="job-store")

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def create(self, job: jobs_pb2.Job) -> str:
        return await self._run(self.sync.create, job)

    async def update(self, job: jobs_pb2.Job, etag: str) -> str:
        return await self._run(self.sync.update, job, etag)

    async def get(self, job_id: str) -> Stored | None:
        return await self._run(self.sync.get, job_id)

    async def list_ids(self) -> list[str]:
        return await self._run(self.sync.list_ids)
