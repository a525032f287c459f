"""Writing one dataset version: buffer records, flush Parquet shards, commit a manifest last.

Crash safety: shards go under the version's prefix with the writer's attempt id in their
names and are invisible until the manifest (``_manifest.json``) is written with
``If-None-Match: *``, the last step of :meth:`VersionWriter.commit`. A writer killed at any
point leaves no visible version; its shards are removed by :meth:`VersionWriter.abort` or by
the store's garbage collection of stale staging prefixes.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeAlias

import pyarrow as pa

from octopack.common.errors import FailedPrecondition, InvalidArgument
from octopack.datasets import metrics
from octopack.datasets import shards as shardio
from octopack.datasets.manifest import Lineage, Manifest, ShardInfo
from octopack.datasets.shards import ShardPolicy

if TYPE_CHECKING:
    from octopack.datasets.store import DatasetStore

log = logging.getLogger(__name__)

Records: TypeAlias = Iterable[dict[str, Any]] | pa.Table | pa.RecordBatch


class VersionWriter:
    """Writes one version; obtained from :meth:`DatasetStore.create_version`.

    Use it as a context manager: leaving the block without :meth:`commit` aborts.
    """

    def __init__(
        self,
        store: DatasetStore,
        name: str,
        version: str,
        writer_id: str,
        *,
        parents: list[str],
        job_id: str,
        description: str,
        policy: ShardPolicy,
        schema: pa.Schema | None = None,
    ) -> None:
        self.store = store
        self.name = name
        self.version = version
        self.writer_id = writer_id
        self.parents = parents
        self.job_id = job_id
        self.description = description
        self.policy = policy
        self.schema: pa.Schema | None = schema
        self.shards: list[ShardInfo] = []
        self.rows_written = 0
        self.state = "open"
        self._batches: list[pa.RecordBatch] = []
        self._buffered_rows = 0
        self._buffered_bytes = 0
        # One upload runs while the next shard is encoded; at most two wait (bounded memory).
        self._uploader: ThreadPoolExecutor | None = None
        self._uploads: deque[Future[str]] = deque()

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def prefix(self) -> str:
        return self.store.version_prefix(self.name, self.version)

    # -- writing --------------------------------------------------------------------------------

    def write(self, records: Records) -> int:
        """Add records (dicts, a Table or a RecordBatch); return how many. Full shards are uploaded."""
        self._check_open("write to")
        if isinstance(records, pa.Table):
            batches: Iterable[pa.RecordBatch] = records.to_batches(max_chunksize=self.policy.convert_rows)
        elif isinstance(records, pa.RecordBatch):
            batches = [records]
        elif isinstance(records, dict):
            raise InvalidArgument("write() takes an iterable of records, not one dict: wrap it in a list")
        else:
            batches = shardio.to_batches(records, self.policy.convert_rows)
        count = 0
        for batch in batches:
            if batch.num_rows:
                self._add(batch)
                count += batch.num_rows
        return count

    def _add(self, batch: pa.RecordBatch) -> None:
        schema = shardio.unify(self.schema, batch.schema)
        if self.schema is not None and not schema.equals(self.schema, check_metadata=False):
            self._batches = [shardio.align(b, schema) for b in self._batches]
        self.schema = schema
        batch = shardio.align(batch, schema)
        self._batches.append(batch)
        self._buffered_rows += batch.num_rows
        self._buffered_bytes += batch.nbytes
        self.rows_written += batch.num_rows
        while self._batches and self.policy.full(self._buffered_rows, self._buffered_bytes):
            self._flush_one()

    def flush(self) -> None:
        """Upload whatever is buffered as a shard (commit does this too)."""
        self._check_open("flush")
        while self._batches:
            self._flush_one()

    def _flush_one(self) -> None:
        assert self.schema is not None
        table = pa.Table.from_batches(self._batches, schema=self.schema)
        take = min(table.num_rows, self.policy.max_rows)
        shard, rest = table.slice(0, take), table.slice(take)
        self._batches = rest.combine_chunks().to_batches() if rest.num_rows else []
        self._buffered_rows = rest.num_rows
        self._buffered_bytes = rest.nbytes if rest.num_rows else 0
        data, sha = shardio.encode(shard, self.policy)
        key = f"{self.prefix}part-{len(self.shards):05d}-{self.writer_id[:8]}.parquet"
        while len(self._uploads) >= 2:
            self._settle(self._uploads.popleft())
        if self._uploader is None:
            self._uploader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shard-upload")
        self._uploads.append(
            self._uploader.submit(
                self.store.objects.put, key, data, content_type="application/vnd.apache.parquet"
            )
        )
        metrics.SHARDS_WRITTEN.inc()
        metrics.BYTES_WRITTEN.inc(len(data))
        self.shards.append(
            ShardInfo(
                key=key, rows=shard.num_rows, bytes=len(data), sha256=sha, uncompressed_bytes=shard.nbytes
            )
        )
        log.debug("%s: shard %s, %d rows, %d bytes", self.ref, key, shard.num_rows, len(data))

    # -- finishing ------------------------------------------------------------------------------

    def commit(
        self,
        *,
        filter_config: dict[str, Any] | None = None,
        stats: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
        profile: str = "",
    ) -> Manifest:
        """Upload the rest, then write the manifest: from this moment the version is visible.

        ``profile`` is the data profile (paper or improved) of the crawl or filter writing it.
        """
        self._check_open("commit")
        self.flush()
        self._wait_uploads()
        manifest = Manifest.build(
            name=self.name,
            version=self.version,
            schema=self.schema if self.schema is not None else pa.schema([]),
            shards=self.shards,
            lineage=Lineage(
                parents=self.parents, job_id=self.job_id, filter_config=filter_config, stats=stats
            ),
            description=self.description,
            extra=extra,
            writer_id=self.writer_id,
            profile=profile,
        )
        try:
            self.store.publish(manifest)
        except FailedPrecondition:
            if self.store.objects.exists(self.store.manifest_key(self.name, self.version)):
                self.state = "failed"
            raise
        self.state = "committed"
        log.info("committed %s: %d rows in %d shards", self.ref, manifest.num_rows, len(self.shards))
        return manifest

    def abort(self) -> None:
        """Drop everything this writer uploaded; the version number stays unused."""
        if self.state in ("committed", "aborted"):
            if self.state == "committed":
                raise FailedPrecondition(f"{self.ref} is committed: delete the version instead of aborting")
            return
        self.state = "aborted"
        self._batches = []
        try:
            self._wait_uploads()
        except Exception as exc:  # the shards are being removed anyway
            log.debug("upload failed during abort of %s: %s", self.ref, exc)
        self.store._release(self.name, self.version, self.writer_id, [s.key for s in self.shards])
        log.info("aborted %s (writer %s)", self.ref, self.writer_id)

    def _settle(self, upload: Future[str]) -> None:
        try:
            upload.result()
        except Exception:
            # A shard the manifest would list is not stored: this writer can only be aborted.
            self.state = "failed"
            raise

    def _wait_uploads(self) -> None:
        """Block until every shard upload finished; re-raise the first failure."""
        try:
            while self._uploads:
                self._settle(self._uploads.popleft())
        finally:
            for pending in self._uploads:
                pending.cancel()
            self._uploads.clear()
            if self._uploader is not None:
                self._uploader.shutdown(wait=True)
                self._uploader = None

    def _check_open(self, action: str) -> None:
        if self.state != "open":
            raise FailedPrecondition(f"cannot {action} {self.ref}: its writer is {self.state}")

    def __enter__(self) -> VersionWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.state in ("open", "failed"):
            if exc is None and self.state == "open":
                log.warning("%s left without commit(): aborting", self.ref)
            self.abort()
