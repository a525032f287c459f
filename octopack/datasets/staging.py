"""Versions written by many workers at once: one reservation per run, shards from anywhere, manifest last.

A driver calls :meth:`DatasetStore.stage` with its run id. The first call reserves a new version and records
the reservation under ``<name>/_runs/<run id>.json`` (written with ``If-None-Match``); a later call with the
same run id (a restarted driver, a second driver racing the first) reopens that version, so what was staged
there is found again. The :class:`StagingArea` it returns is plain, picklable data: workers in other processes
or on other machines write shards (:meth:`StagingArea.write_shard`) and small documents such as completion
markers (:meth:`StagingArea.put_json`) under the version's prefix, talking to S3 themselves. The caller picks
each shard's key stem, deterministic per piece of work, so a retried worker rewrites the same keys instead of
adding new ones.

The driver commits with :meth:`StagingArea.commit` from the :class:`ShardInfo` list the workers returned. The
crash-safety rules of :class:`~octopack.datasets.writer.VersionWriter` hold: the reservation is checked, every
listed shard must exist with its recorded size (and its sha256 was taken from the bytes uploaded), and the
manifest is written last with ``If-None-Match: *``. Committing a run twice returns the first manifest.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from octopack.common.errors import DataLoss, FailedPrecondition, InvalidArgument, NotFound
from octopack.common.objectstore import ObjectStore, S3Settings
from octopack.datasets import shards as shardio
from octopack.datasets.manifest import Lineage, Manifest, ShardInfo
from octopack.datasets.shards import ShardPolicy

if TYPE_CHECKING:
    from octopack.datasets.store import DatasetStore

log = logging.getLogger(__name__)
RUNS = "_runs"
_STORES: dict[tuple[str, str], DatasetStore] = {}
_STORES_LOCK = threading.Lock()


def store_for(s3: S3Settings, root: str) -> DatasetStore:
    """One :class:`DatasetStore` per process for these settings (workers reuse its S3 connections)."""
    from octopack.datasets.store import DatasetStore

    key = (s3.model_dump_json(), root)
    with _STORES_LOCK:
        store = _STORES.get(key)
        if store is None:
            store = _STORES[key] = DatasetStore(ObjectStore(s3), root=root)
        return store


@dataclass(frozen=True)
class StagingArea:
    """The staging area of one version reserved for one run; obtained from :meth:`DatasetStore.stage`."""

    s3: S3Settings
    root: str
    name: str
    version: str
    writer_id: str
    run_id: str
    parents: tuple[str, ...] = ()
    job_id: str = ""
    description: str = ""
    policy: ShardPolicy = field(default_factory=ShardPolicy)

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def store(self) -> DatasetStore:
        return store_for(self.s3, self.root)

    @property
    def prefix(self) -> str:
        return self.store.version_prefix(self.name, self.version)

    def key(self, relative: str) -> str:
        """The object key of ``relative`` inside the version's folder (``_``-names stay hidden from readers)."""
        return self.prefix + relative

    def shard_key(self, stem: str) -> str:
        return self.key(f"part-{stem}-{self.writer_id[:8]}.parquet")

    # -- what workers write ---------------------------------------------------------------------

    def write_shard(self, stem: str, table: pa.Table | pa.RecordBatch, schema: pa.Schema | None = None) -> ShardInfo:
        """Upload ``table`` as the shard ``part-<stem>-<writer>.parquet`` (rewriting it if it exists)."""
        if isinstance(table, pa.RecordBatch):
            table = pa.Table.from_batches([table])
        if schema is not None:
            table = pa.Table.from_batches([shardio.align(b, schema) for b in table.to_batches()], schema=schema)
        data, sha = shardio.encode(table, self.policy)
        key = self.shard_key(stem)
        self.store.objects.put(key, data, content_type="application/vnd.apache.parquet")
        return ShardInfo(key=key, rows=table.num_rows, bytes=len(data), sha256=sha, uncompressed_bytes=table.nbytes)

    def put_bytes(self, relative: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self.store.objects.put(self.key(relative), data, content_type=content_type)

    def get_bytes(self, relative: str) -> bytes | None:
        try:
            return self.store.objects.get(self.key(relative))
        except NotFound:
            return None

    def put_json(self, relative: str, doc: Any) -> None:
        self.put_bytes(relative, json.dumps(doc, sort_keys=True).encode(), "application/json")

    def get_json(self, relative: str) -> Any:
        """The JSON document at ``relative``, or None when there is none (or it is unreadable)."""
        data = self.get_bytes(relative)
        if data is None:
            return None
        try:
            return json.loads(data)
        except ValueError:
            return None

    def uri(self, relative: str) -> str:
        """``bucket/key`` of ``relative`` for a pyarrow S3 file system (:meth:`S3Settings.pyarrow_filesystem`)."""
        return f"{self.s3.bucket}/{self.key(relative)}"

    def delete_under(self, relative: str, suffix: str = "") -> int:
        """Remove the objects under ``relative`` (ending with ``suffix``); return how many."""
        objects = self.store.objects
        keys = [o.key for o in objects.list(self.key(relative)) if o.key.endswith(suffix)]
        for key in keys:
            objects.delete(key)
        return len(keys)

    # -- what the driver does -------------------------------------------------------------------

    def committed(self) -> Manifest | None:
        """The manifest when this run's version is committed, else None."""
        try:
            manifest = self.store.get_manifest(self.name, self.version)
        except NotFound:
            return None
        return manifest if manifest.writer_id == self.writer_id else None

    def commit(
        self,
        shards: Sequence[ShardInfo],
        schema: pa.Schema,
        *,
        filter_config: dict[str, Any] | None = None,
        stats: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
        profile: str = "",
    ) -> Manifest:
        """Make the version visible with ``shards`` in the given order; the first commit of the run wins.

        ``profile`` is the data profile (paper or improved) of the crawl or filter writing it.
        """
        done = self.committed()
        if done is not None:
            return done
        for shard in shards:
            if not shard.key.startswith(self.prefix):
                raise InvalidArgument(f"shard {shard.key} is not in the staging area {self.prefix}")
        self._check_shards(shards)
        manifest = Manifest.build(
            name=self.name, version=self.version, schema=schema, shards=list(shards),
            lineage=Lineage(parents=list(self.parents), job_id=self.job_id, filter_config=filter_config, stats=stats),
            description=self.description, extra=extra, writer_id=self.writer_id, profile=profile,
        )
        try:
            self.store.publish(manifest)
        except FailedPrecondition:
            done = self.committed()  # a second driver of the run committed first: its commit stands
            if done is None:
                raise
            return done
        log.info("committed %s from %d staged shards (run %s)", self.ref, len(shards), self.run_id)
        return manifest

    def _check_shards(self, shards: Sequence[ShardInfo]) -> None:
        objects = self.store.objects
        with ThreadPoolExecutor(max_workers=16, thread_name_prefix="shard-check") as pool:
            found = list(pool.map(lambda s: objects.stat(s.key), shards))
        for shard, info in zip(shards, found, strict=True):
            if info is None:
                raise DataLoss(f"staged shard {shard.key} of {self.ref} is missing: its worker's upload was lost")
            if info.size != shard.bytes:
                raise DataLoss(f"staged shard {shard.key} of {self.ref} has {info.size} bytes, not {shard.bytes}")

    def abort(self) -> int:
        """Remove everything staged, the reservation and the run record; return the objects removed."""
        store = self.store
        if self.committed() is not None:
            raise FailedPrecondition(f"{self.ref} is committed: delete the version instead of aborting its run")
        removed = store.objects.delete_prefix(self.prefix)
        store.objects.delete(store.run_key(self.name, self.run_id))
        log.info("aborted run %s of %s (%d objects)", self.run_id, self.ref, removed)
        return removed + 1

    def to_doc(self) -> dict[str, Any]:
        """The run record (everything but the S3 settings)."""
        return {
            "run_id": self.run_id, "version": self.version, "writer_id": self.writer_id,
            "parents": list(self.parents), "job_id": self.job_id, "description": self.description,
        }


def area_from_doc(store: DatasetStore, name: str, doc: dict[str, Any]) -> StagingArea:
    return StagingArea(
        s3=store.objects.settings, root=store.root, name=name, version=doc["version"], writer_id=doc["writer_id"],
        run_id=doc["run_id"], parents=tuple(doc.get("parents", ())), job_id=doc.get("job_id", ""),
        description=doc.get("description", ""), policy=store.policy,
    )
