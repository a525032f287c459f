"""Open writers of the service, by id, and the blocking store calls run off the event loop.

A writer lives in this process's memory between CreateVersion and CommitVersion or
AbortVersion: one service replica owns it (see docs/datasets.md). Writers idle longer than
``idle_seconds`` are aborted; what a crashed server leaves behind is removed by ``gc``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from octopack.common.errors import FailedPrecondition, InvalidArgument, NotFound
from octopack.datasets import metrics
from octopack.datasets.manifest import Manifest
from octopack.datasets.store import DatasetStore
from octopack.datasets.writer import VersionWriter

log = logging.getLogger(__name__)


@dataclass
class _Open:
    writer: VersionWriter
    used: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)


class WriterRegistry:
    """The service's domain layer: store operations made awaitable, plus the open writers."""

    def __init__(self, store: DatasetStore, idle_seconds: float = 3600.0) -> None:
        self.store = store
        self.idle_seconds = idle_seconds
        self._open: dict[str, _Open] = {}
        #: Recently finished writers, so a second commit gets a clear FAILED_PRECONDITION.
        self._done: OrderedDict[str, str] = OrderedDict()
        self._guard = threading.Lock()

    # -- writers --------------------------------------------------------------------------------

    async def create(self, name: str, version: str | None, **kwargs: Any) -> VersionWriter:
        await self.expire()
        writer = await asyncio.to_thread(self.store.create_version, name, version, **kwargs)
        with self._guard:
            self._open[writer.writer_id] = _Open(writer)
            metrics.OPEN_WRITERS.set(len(self._open))
        return writer

    def _get(self, writer_id: str) -> _Open:
        if not writer_id:
            raise InvalidArgument("writer_id is required: take it from CreateVersion's response")
        with self._guard:
            entry = self._open.get(writer_id)
            done = self._done.get(writer_id)
        if done is not None:
            raise FailedPrecondition(f"writer {writer_id!r} is finished ({done}); create a new version")
        if entry is None:
            raise NotFound(
                f"writer {writer_id!r} is not open: it was committed, aborted, expired after "
                f"{self.idle_seconds:.0f} s idle, or the server restarted; create the version again"
            )
        entry.used = time.monotonic()
        return entry

    def writer(self, writer_id: str) -> VersionWriter:
        """The open writer ``writer_id`` (NotFound / FailedPrecondition otherwise)."""
        return self._get(writer_id).writer

    def _write(self, writer_id: str, records: Any) -> VersionWriter:
        entry = self._get(writer_id)
        with entry.lock:
            entry.writer.write(records)
        return entry.writer

    async def write(self, writer_id: str, records: Sequence[dict[str, Any]] | pa.Table) -> VersionWriter:
        return await asyncio.to_thread(self._write, writer_id, records)

    def _finish(self, writer_id: str, commit: bool, kwargs: dict[str, Any]) -> Manifest | None:
        entry = self._get(writer_id)
        with entry.lock:
            try:
                if commit:
                    return entry.writer.commit(**kwargs)
                entry.writer.abort()
                return None
            finally:
                if entry.writer.state == "failed":  # it can never commit: remove its shards now
                    entry.writer.abort()
                if entry.writer.state != "open":
                    with self._guard:
                        self._open.pop(writer_id, None)
                        metrics.OPEN_WRITERS.set(len(self._open))
                        self._done[writer_id] = f"{entry.writer.state}: {entry.writer.ref}"
                        while len(self._done) > 10_000:
                            self._done.popitem(last=False)

    async def commit(self, writer_id: str, **kwargs: Any) -> Manifest:
        manifest = await asyncio.to_thread(self._finish, writer_id, True, kwargs)
        assert manifest is not None
        return manifest

    async def abort(self, writer_id: str) -> None:
        await asyncio.to_thread(self._finish, writer_id, False, {})

    async def expire(self) -> list[str]:
        """Abort writers idle for longer than ``idle_seconds``; return their refs."""
        now = time.monotonic()
        with self._guard:
            stale = [wid for wid, e in self._open.items() if now - e.used > self.idle_seconds]
        refs = []
        for wid in stale:
            entry = self._open.get(wid)
            if entry is None:
                continue
            refs.append(entry.writer.ref)
            log.warning("aborting idle writer %s of %s", wid, entry.writer.ref)
            await self.abort(wid)
        return refs

    async def close(self) -> None:
        """Abort every open writer (server shutdown): an uncommitted version must not linger."""
        for wid in list(self._open):
            await self.abort(wid)

    # -- reading --------------------------------------------------------------------------------

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Run a blocking :class:`DatasetStore` method in a thread."""
        return await asyncio.to_thread(getattr(self.store, method), *args, **kwargs)

    def _summaries(self) -> list[tuple[str, list[str], Manifest]]:
        out = []
        for name in self.store.list_datasets():
            manifests = self.store.list_manifests(name)
            if manifests:
                out.append((name, [m.version for m in manifests], manifests[-1]))
        return out

    async def datasets(self) -> list[tuple[str, list[str], Manifest]]:
        """Every dataset: (name, committed versions, manifest of the newest)."""
        return await asyncio.to_thread(self._summaries)

    async def versions(self, name: str) -> list[Manifest]:
        """Manifests of every committed version of ``name``, oldest first (NotFound if none)."""

        def load() -> list[Manifest]:
            manifests = self.store.list_manifests(name)
            if not manifests:
                self.store.get_manifest(name)  # raises NotFound with the dataset's name
            return manifests

        return await asyncio.to_thread(load)

    async def read(
        self, name: str, version: str | None, columns: Sequence[str], batch_size: int, limit: int
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Records of a version in lists of ``batch_size``, at most ``limit`` (0 = all)."""
        if batch_size < 0 or limit < 0:
            raise InvalidArgument("batch_size and limit must be >= 0 (0 = default / all)")
        batch_size = batch_size or 256
        batches: Generator[pa.RecordBatch, None, None] = self.store.iter_batches(
            name, version, list(columns) or None
        )
        sent = 0
        try:
            while True:
                batch = await asyncio.to_thread(next, batches, None)
                if batch is None:
                    return
                if limit:
                    batch = batch.slice(0, limit - sent)
                for start in range(0, batch.num_rows, batch_size):
                    chunk = batch.slice(start, batch_size).to_pylist()
                    sent += len(chunk)
                    yield chunk
                if limit and sent >= limit:
                    return
        finally:
            await asyncio.to_thread(batches.close)
