"""Reading the dataset store: keys, listing, manifests and shards (the layout is in :mod:`.store`).

Every shard is checked against its manifest's sha256 before a row of it is decoded.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyarrow as pa

from octopack.common.background import check_run_id
from octopack.common.errors import DataLoss, InvalidArgument, NotFound
from octopack.common.objectstore import ObjectStore
from octopack.datasets import metrics
from octopack.datasets import shards as shardio
from octopack.datasets.manifest import Manifest, ShardInfo
from octopack.datasets.names import NAME_RULE, check_name, check_version
from octopack.datasets.staging import RUNS

log = logging.getLogger(__name__)
MANIFEST = "_manifest.json"
_NAME = re.compile(NAME_RULE)


class DatasetReader:
    """The read side of :class:`~octopack.datasets.store.DatasetStore`, on ``objects``' bucket under ``root``."""

    objects: ObjectStore
    root: str
    read_batch_rows: int

    # -- keys -----------------------------------------------------------------------------------

    def dataset_prefix(self, name: str) -> str:
        return f"{self.root}/{check_name(name)}/"

    def version_prefix(self, name: str, version: str) -> str:
        return f"{self.dataset_prefix(name)}{check_version(version)}/"

    def manifest_key(self, name: str, version: str) -> str:
        return self.version_prefix(name, version) + MANIFEST

    def run_key(self, name: str, run_id: str) -> str:
        return f"{self.dataset_prefix(name)}{RUNS}/{check_run_id(run_id)}.json"

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


def _project(schema: pa.Schema, columns: Sequence[str] | None, ref: str) -> pa.Schema:
    if columns is None or len(columns) == 0:
        return schema
    unknown = [c for c in columns if c not in schema.names]
    if unknown:
        raise InvalidArgument(
            f"{ref} has no column {', '.join(map(repr, unknown))}; it has: {', '.join(schema.names)}"
        )
    return pa.schema([schema.field(c) for c in columns])
