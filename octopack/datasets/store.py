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
import socket
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from octopack.common.errors import AlreadyExists, DataLoss, FailedPrecondition, InvalidArgument, NotFound
from octopack.common.objectstore import ConditionFailed, ObjectStore, S3Settings
from octopack.datasets import metrics
from octopack.datasets.manifest import Manifest
from octopack.datasets.names import check_name, check_version, parse_ref, version_number
from octopack.datasets.reader import DatasetReader
from octopack.datasets.shards import ShardPolicy
from octopack.datasets.staging import StagingArea, area_from_doc
from octopack.datasets.writer import VersionWriter

__all__ = ["DatasetStore", "Manifest", "StagingArea", "VersionWriter", "parse_ref"]

log = logging.getLogger(__name__)
WRITER = "_writer.json"
COUNTER = "_counter.json"
#: Longest description of a version (characters).
MAX_DESCRIPTION = 4096


class DatasetStore(DatasetReader):
    """Create, read, list and delete dataset versions in ``objects``' bucket (reading: :mod:`.reader`)."""

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
