"""The dataset store: versioned, immutable datasets of Parquet shards in one S3 bucket.

Layout under ``<root>/`` (default ``datasets/``)::

    <name>/_counter.json                      highest automatic version number handed out
    <name>/<version>/_writer.json             reservation of the version by one writer
    <name>/<version>/part-00000-<id>.parquet  shards (zstd), invisible until the manifest exists
    <name>/<version>/_manifest.json           the commit: schema, shards + sha256, lineage
    <name>/_runs/<run id>.json                the version a run staged (see :mod:`.staging`)

A version exists for readers only once ``_manifest.json`` does; it is written last, with
``If-None-Match: *``, so a version is committed at most once. Names starting with ``_`` are
skipped by Parquet readers, so a committed version's folder also reads as a plain Parquet
dataset (but the manifest's shard list is the truth: see docs/datasets.md).
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import time
import uuid
from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from octopack.common.background import check_run_id
from octopack.common.errors import AlreadyExists, DataLoss, FailedPrecondition, InvalidArgument, NotFound
from octopack.common.objectstore import ConditionFailed, ObjectStore, S3Settings
from octopack.datasets import metrics
from octopack.datasets import shards as shardio
from octopack.datasets.manifest import Manifest, ShardInfo
from octopack.datasets.names import NAME_RULE, check_name, check_version, parse_ref, version_number
from octopack.datasets.shards import ShardPolicy
from octopack.datasets.staging import RUNS, StagingArea, area_from_doc
from octopack.datasets.writer import VersionWriter

__all__ = ["DatasetStore", "Manifest", "StagingArea", "VersionWriter", "parse_ref"]

log = logging.getLogger(__name__)
MANIFEST = "_manifest.json"
WRITER = "_writer.json"
COUNTER = "_counter.json"
#: Longest description of a version (characters).
MAX_DESCRIPTION = 4096
_NAME = re.compile(NAME_RULE)


class DatasetStore:
    """Create, read, list and delete dataset versions in ``objects``' bucket."""

    def __init__(
        self,
        objects: ObjectStore,
        *,
        root: str = "datasets",
        policy: ShardPolicy | None = None,
        read_batch_rows: int = 8192,
    ) -> None:
        self.objects = objects
        self.root = root.strip("/")
        self.policy = policy or ShardPolicy()
        self.read_batch_rows = read_batch_rows
        self._conditional: bool | None = None

    @classmethod
    def from_settings(cls, settings: S3Settings | None = None, **kwargs: Any) -> DatasetStore:
        """A store on ``settings``' bucket (created if missing); defaults to ``OCTOPACK_S3_*``."""
        objects = ObjectStore(settings or S3Settings())
        objects.ensure_bucket()
        return cls(objects, **kwargs)

    # -- keys -----------------------------------------------------------------------------------

    def dataset_prefix(self, name: str) -> str:
        return f"{self.root}/{check_name(name)}/"

    def version_prefix(self, name: str, version: str) -> str:
        return f"{self.dataset_prefix(name)}{check_version(version)}/"

    def manifest_key(self, name: str, version: str) -> str:
        return self.version_prefix(name, version) + MANIFEST

    def run_key(self, name: str, run_id: str) -> str:
        return f"{self.dataset_prefix(name)}{RUNS}/{check_run_id(run_id)}.json"

    # -- writing --------------------------------------------------------------------------------

    def create_version(
        self,
        name: str,
        version: str | None = None,
        *,
        parents: Sequence[str] = (),
        job_id: str = "",
        description: str = "",
        schema: pa.Schema | None = None,
        policy: ShardPolicy | None = None,
    ) -> VersionWriter:
        """Reserve a version (``version`` or the next ``vN``) and return its writer.

        ``parents`` are references (``name`` = its newest version, or ``name@version``); they are
        resolved now, so the lineage names exact versions.
        """
        check_name(name)
        if len(description) > MAX_DESCRIPTION:
            # Every manifest carries it twice and every GetDataset answer carries a manifest.
            raise InvalidArgument(f"description has {len(description)} characters; at most {MAX_DESCRIPTION}")
        resolved = [self.get_manifest(*parse_ref(ref)).ref for ref in parents]
        writer_id = uuid.uuid4().hex
        if version is None:
            version = self._reserve_next(name, writer_id)
        else:
            self._reserve(name, check_version(version), writer_id)
        log.info("writing %s@%s (writer %s)", name, version, writer_id)
        return VersionWriter(
            self,
            name,
            version,
            writer_id,
            parents=resolved,
            job_id=job_id,
            description=description,
            policy=policy or self.policy,
            schema=schema,
        )

    def stage(
        self, name: str, run_id: str, *, parents: Sequence[str] = (), job_id: str = "", description: str = ""
    ) -> StagingArea:
        """The staging area of run ``run_id``: the version reserved for it earlier, else a new one (``vN``).

        Workers write shards into it and the driver commits it (see :mod:`.staging`). A run whose version
        was committed gets its area back too: :meth:`StagingArea.committed` then returns the manifest.
        """
        key = self.run_key(check_name(name), run_id)
        for _ in range(5):
            found = self.find_run(name, run_id)
            if found is not None:
                return found
            resolved = [self.get_manifest(*parse_ref(ref)).ref for ref in parents]
            writer_id = uuid.uuid4().hex
            version = self._reserve_next(name, writer_id)
            area = StagingArea(
                s3=self.objects.settings, root=self.root, name=name, version=version, writer_id=writer_id,
                run_id=run_id, parents=tuple(resolved), job_id=job_id or run_id, description=description,
                policy=self.policy,
            )
            try:
                self._put_once(key, json.dumps(area.to_doc()).encode())
            except ConditionFailed:
                # Another driver of the same run recorded its reservation first: use that one.
                self._release(name, version, writer_id, [])
                continue
            log.info("run %s stages %s@%s", run_id, name, version)
            return area
        raise FailedPrecondition(f"could not record the staging area of run {run_id} of {name!r}")

    def abort_run(self, name: str, run_id: str, late_writes_s: float = 0.0) -> bool:
        """Remove what run ``run_id`` staged for ``name`` unless it is committed; True when something was staged.

        ``late_writes_s``: sweep the area again after that many seconds, for a run whose workers were just
        stopped (an upload already under way can still land after the first sweep). The version is not
        given out again (versions come from the counter), so the second sweep removes only the run's objects.
        """
        area = self.find_run(name, run_id)
        if area is None or area.committed() is not None:
            return False
        area.abort()
        if late_writes_s > 0:
            time.sleep(late_writes_s)
            self.objects.delete_prefix(area.prefix)
        return True

    def find_run(self, name: str, run_id: str) -> StagingArea | None:
        """The staging area recorded for ``run_id`` while it is still staged or committed; None otherwise.

        A record whose version lost its reservation without being committed (removed by garbage
        collection, or aborted half-way) is stale: it is deleted and None returned.
        """
        key = self.run_key(name, run_id)
        try:
            doc = json.loads(self.objects.get(key))
        except NotFound:
            return None
        except ValueError as exc:
            raise DataLoss(f"the run record {key} is unreadable: {exc}") from exc
        area = area_from_doc(self, name, doc)
        if area.committed() is not None:
            return area
        try:
            self._check_reservation(name, area.version, area.writer_id)
        except FailedPrecondition:
            log.warning("run record %s is stale (its version %s is gone): removing it", key, area.version)
            self.objects.delete(key)
            return None
        return area

    def publish(self, manifest: Manifest) -> None:
        """Write ``manifest`` (the commit) if its writer still holds the reservation; a version is written once."""
        self._check_reservation(manifest.name, manifest.version, manifest.writer_id)
        try:
            self.objects.put(
                self.manifest_key(manifest.name, manifest.version),
                manifest.to_json(),
                content_type="application/json",
                if_absent=True,
            )
        except ConditionFailed as exc:
            raise FailedPrecondition(f"{manifest.ref} is already committed; a version is written once") from exc
        metrics.COMMITS.inc()
        metrics.ROWS_WRITTEN.inc(manifest.num_rows)

    def _reserve(self, name: str, version: str, writer_id: str) -> None:
        doc = {
            "writer_id": writer_id,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "created_at": datetime.now(UTC).isoformat(),
        }
        key = self.version_prefix(name, version) + WRITER
        try:
            self._put_once(key, json.dumps(doc).encode())
        except ConditionFailed as exc:
            if self.objects.exists(self.manifest_key(name, version)):
                raise AlreadyExists(
                    f"{name}@{version} is already committed; a version is written once"
                ) from exc
            raise FailedPrecondition(
                f"{name}@{version} is being written by another writer (or one that crashed): wait for it, "
                "or remove stale writers with `octopack datasets gc`"
            ) from exc

    def _reserve_next(self, name: str, writer_id: str) -> str:
        counter_key = self.dataset_prefix(name) + COUNTER
        for _ in range(50):
            numbers = [version_number(v) or 0 for v in self.objects.list_prefixes(self.dataset_prefix(name))]
            try:
                raw, etag = self.objects.get_with_etag(counter_key)
                counter = int(json.loads(raw)["last"])
            except NotFound:
                raw, etag, counter = b"", "", 0
            number = max([counter, *numbers]) + 1
            try:
                self._reserve(name, f"v{number}", writer_id)
            except (FailedPrecondition, AlreadyExists):
                continue  # another writer took it: try the next number
            # Raise the counter so that a deleted newest version's number is never handed out again.
            try:
                doc = json.dumps({"last": number}).encode()
                if etag:
                    self.objects.put(counter_key, doc, if_match=etag)
                else:
                    self._put_once(counter_key, doc)
            except ConditionFailed:
                pass  # a concurrent writer raised it past ours
            return f"v{number}"
        raise FailedPrecondition(f"could not reserve a new version of {name!r}: too many concurrent writers")

    def _put_once(self, key: str, data: bytes) -> None:
        if self._conditional is None:
            self._conditional = self.objects.supports_conditional_put()
        if self._conditional:
            self.objects.put(key, data, content_type="application/json", if_absent=True)
            return
        # Servers without conditional writes: a check, then a write (racy between two writers).
        if self.objects.exists(key):
            raise ConditionFailed(f"{key} exists")
        self.objects.put(key, data, content_type="application/json")

    def _check_reservation(self, name: str, version: str, writer_id: str) -> None:
        key = self.version_prefix(name, version) + WRITER
        try:
            holder = json.loads(self.objects.get(key)).get("writer_id")
        except NotFound:
            holder = None
        if holder != writer_id:
            raise FailedPrecondition(
                f"{name}@{version}: this writer lost its reservation (removed as stale by garbage "
                "collection, or the version was deleted); write the data again"
            )

    def _release(self, name: str, version: str, writer_id: str, keys: list[str]) -> None:
        for key in keys:
            self.objects.delete(key)
        try:
            self._check_reservation(name, version, writer_id)
        except FailedPrecondition:
            return
        self.objects.delete(self.version_prefix(name, version) + WRITER)

    # -- reading --------------------------------------------------------------------------------

    def list_datasets(self) -> list[str]:
        """Names of datasets with at least one committed version, sorted."""
        names = [n for n in sorted(self.objects.list_prefixes(f"{self.root}/")) if _NAME.fullmatch(n)]
        return [name for name in names if self.list_versions(name)]

    def list_versions(self, name: str) -> list[str]:
        """Committed versions of ``name``, oldest commit first (empty if none)."""
        return [m.version for m in self.list_manifests(name)]

    def list_manifests(self, name: str) -> list[Manifest]:
        """Manifests of the committed versions of ``name``, oldest commit first."""
        found = []
        for version in self.objects.list_prefixes(self.dataset_prefix(name)):
            try:
                found.append(self._load_manifest(name, version))
            except (NotFound, InvalidArgument):
                continue  # not committed (yet), or not a version this store wrote
        return sorted(found, key=lambda m: (m.created_at, m.version))

    def _load_manifest(self, name: str, version: str) -> Manifest:
        try:
            raw = self.objects.get(self.manifest_key(name, version))
        except NotFound:
            raise NotFound(f"dataset version {name}@{version} does not exist") from None
        try:
            return Manifest.from_json(raw)
        except ValueError as exc:
            raise DataLoss(f"the manifest of {name}@{version} is unreadable: {exc}") from exc

    def get_manifest(self, name: str, version: str | None = None) -> Manifest:
        """The manifest of ``name@version``; ``None`` = the newest committed version."""
        if version is None:
            manifests = self.list_manifests(name)
            if not manifests:
                raise NotFound(f"dataset {name!r} has no committed version (see `octopack datasets list`)")
            return manifests[-1]
        return self._load_manifest(name, version)

    def iter_batches(
        self, name: str, version: str | None = None, columns: Sequence[str] | None = None
    ) -> Generator[pa.RecordBatch, None, None]:
        """Record batches of a version, every shard checked against its sha256 first.

        The next shard downloads while the current one is decoded. A missing or corrupt shard
        raises :class:`DataLoss` naming it.
        """
        manifest = self.get_manifest(name, version)
        schema = _project(manifest.table_schema(), columns, manifest.ref)
        if not manifest.shards:
            return
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="shard-fetch") as pool:
            pending = pool.submit(self._fetch, manifest, 0)
            for index, shard in enumerate(manifest.shards):
                data = pending.result()
                if index + 1 < len(manifest.shards):
                    pending = pool.submit(self._fetch, manifest, index + 1)
                yield from shardio.decode(data, schema, self.read_batch_rows)
                del data
                log.debug("read %s", shard.key)

    def read_shard(
        self, shard: ShardInfo, schema: pa.Schema, ref: str, columns: Sequence[str] | None = None
    ) -> Iterator[pa.RecordBatch]:
        """Record batches of one shard of ``ref`` (a worker's share of a version), checked against its sha256."""
        data = self._fetch_shard(shard, ref)
        yield from shardio.decode(data, _project(schema, columns, ref), self.read_batch_rows)

    def _fetch(self, manifest: Manifest, index: int) -> bytes:
        return self._fetch_shard(manifest.shards[index], manifest.ref)

    def _fetch_shard(self, shard: ShardInfo, ref: str) -> bytes:
        try:
            data = self.objects.get(shard.key)
        except NotFound:
            metrics.SHARD_FAILURES.labels("missing").inc()
            raise DataLoss(
                f"shard {shard.key} of {ref} is missing from s3://{self.objects.bucket}; "
                "restore it or delete the version"
            ) from None
        try:
            shardio.verify(data, key=shard.key, sha256=shard.sha256, size=shard.bytes, ref=ref)
        except DataLoss:
            metrics.SHARD_FAILURES.labels("corrupt").inc()
            raise
        metrics.SHARDS_READ.inc()
        return data

    def iter_records(
        self, name: str, version: str | None = None, columns: Sequence[str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Records of a version as dicts."""
        for batch in self.iter_batches(name, version, columns):
            yield from batch.to_pylist()

    def read_table(
        self, name: str, version: str | None = None, columns: Sequence[str] | None = None
    ) -> pa.Table:
        """A whole version in memory."""
        manifest = self.get_manifest(name, version)
        schema = _project(manifest.table_schema(), columns, manifest.ref)
        return pa.Table.from_batches(list(self.iter_batches(name, manifest.version, columns)), schema=schema)

    def shard_uris(self, name: str, version: str | None = None) -> list[str]:
        """``s3://`` URLs of a version's shards, for readers outside OctoPack."""
        return self.get_manifest(name, version).shard_uris(self.objects.bucket)

    # -- removing -------------------------------------------------------------------------------

    def delete_version(self, name: str, version: str, missing_ok: bool = False) -> int:
        """Remove a committed version (manifest first, so it vanishes at once); return objects removed.

        With ``missing_ok`` a version whose manifest is already gone is not an error: what is left of it
        (shards of a deletion that was interrupted) is removed, so calling it again finishes the deletion.
        """
        key = self.manifest_key(name, version)
        removed = 0
        if self.objects.exists(key):
            self.objects.delete(key)
            removed = 1
        elif not missing_ok:
            raise NotFound(f"dataset version {name}@{version} does not exist")
        removed += self.objects.delete_prefix(self.version_prefix(name, version))
        log.info("deleted %s@%s (%d objects)", name, version, removed)
        return removed

    def gc(self, older_than: timedelta = timedelta(hours=6)) -> dict[str, Any]:
        """Remove uncommitted versions idle for longer than ``older_than`` (see :mod:`.cleanup`)."""
        from octopack.datasets.cleanup import collect_garbage

        return collect_garbage(self, older_than)


def _project(schema: pa.Schema, columns: Sequence[str] | None, ref: str) -> pa.Schema:
    if columns is None or len(columns) == 0:
        return schema
    unknown = [c for c in columns if c not in schema.names]
    if unknown:
        raise InvalidArgument(
            f"{ref} has no column {', '.join(map(repr, unknown))}; it has: {', '.join(schema.names)}"
        )
    return pa.schema([schema.field(c) for c in columns])
