"""A blocking client of octopack.datasets.v1.DatasetService (CLI ``--server``, scripts, other services).

gRPC errors come back as the project's errors (NOT_FOUND -> :class:`NotFound`, ...), so code
written against :class:`DatasetStore` handles both the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import grpc

from octopack.common import errors
from octopack.common.client import auth_metadata, error_from_rpc, sync_channel
from octopack.datasets import convert
from octopack.datasets.manifest import Manifest
from octopack.datasets.v1 import datasets_pb2, datasets_pb2_grpc


class DatasetClient:
    """Reads and writes datasets through a DatasetService at ``target`` (host:port)."""

    def __init__(self, target: str, token: str | None = None) -> None:
        self.target = target
        self._channel = sync_channel(target)
        self._stub = datasets_pb2_grpc.DatasetServiceStub(self._channel)
        self._metadata = auth_metadata(token)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> DatasetClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except grpc.RpcError as exc:
            raise error_from_rpc(exc, f"dataset service at {self.target}") from None

    # -- reading --------------------------------------------------------------------------------

    def list_datasets(self) -> list[datasets_pb2.DatasetSummary]:
        """Every dataset (all pages)."""
        found: list[datasets_pb2.DatasetSummary] = []
        token = ""
        while True:
            with self._errors():
                reply = self._stub.ListDatasets(
                    datasets_pb2.ListDatasetsRequest(page_token=token), metadata=self._metadata
                )
            found.extend(reply.datasets)
            token = reply.next_page_token
            if not token:
                return found

    def list_manifests(self, name: str) -> list[Manifest]:
        """Manifests of every committed version of ``name``, oldest first."""
        versions: list[str] = []
        token = ""
        while True:
            with self._errors():
                reply = self._stub.ListVersions(
                    datasets_pb2.ListVersionsRequest(name=name, page_token=token), metadata=self._metadata
                )
            versions.extend(v.version for v in reply.versions)
            token = reply.next_page_token
            if not token:
                return [self.get_manifest(name, v) for v in versions]

    def get_manifest(self, name: str, version: str | None = None) -> Manifest:
        with self._errors():
            reply = self._stub.GetDataset(
                datasets_pb2.GetDatasetRequest(name=name, version=version or ""), metadata=self._metadata
            )
        return Manifest.from_json(reply.manifest.manifest_json)

    def iter_records(
        self,
        name: str,
        version: str | None = None,
        columns: Sequence[str] | None = None,
        limit: int = 0,
        batch_size: int = 512,
    ) -> Iterator[dict[str, Any]]:
        request = datasets_pb2.ReadRecordsRequest(
            name=name, version=version or "", columns=list(columns or ()), batch_size=batch_size, limit=limit
        )
        with self._errors():
            for reply in self._stub.ReadRecords(request, metadata=self._metadata):
                for line in reply.json:
                    yield json.loads(line)

    # -- writing --------------------------------------------------------------------------------

    def write_version(
        self,
        name: str,
        records: Iterable[dict[str, Any]],
        version: str | None = None,
        *,
        parents: Sequence[str] = (),
        job_id: str = "",
        description: str = "",
        stats: dict[str, Any] | None = None,
        filter_config: dict[str, Any] | None = None,
        batch_size: int = 1000,
    ) -> Manifest:
        """Create, stream and commit a version in one call (aborted if anything fails)."""
        with self._errors():
            created = self._stub.CreateVersion(
                datasets_pb2.CreateVersionRequest(
                    name=name,
                    version=version or "",
                    parents=list(parents),
                    job_id=job_id,
                    description=description,
                ),
                metadata=self._metadata,
            )
        writer_id = created.writer_id
        try:
            with self._errors():
                self._stub.WriteRecords(_messages(writer_id, records, batch_size), metadata=self._metadata)
                reply = self._stub.CommitVersion(
                    datasets_pb2.CommitVersionRequest(
                        writer_id=writer_id,
                        stats=convert.to_struct(stats),
                        filter_config=convert.to_struct(filter_config),
                    ),
                    metadata=self._metadata,
                )
        except errors.OctopackError:
            with self._errors():
                self._stub.AbortVersion(
                    datasets_pb2.AbortVersionRequest(writer_id=writer_id), metadata=self._metadata
                )
            raise
        return Manifest.from_json(reply.manifest.manifest_json)

    def delete_version(self, name: str, version: str) -> int:
        with self._errors():
            reply = self._stub.DeleteVersion(
                datasets_pb2.DeleteVersionRequest(name=name, version=version), metadata=self._metadata
            )
        return int(reply.objects_removed)


def _messages(
    writer_id: str, records: Iterable[dict[str, Any]], batch_size: int
) -> Iterator[datasets_pb2.WriteRecordsRequest]:
    batch: list[str] = []
    for record in records:
        batch.append(convert.record_json(record))
        if len(batch) >= batch_size:
            yield datasets_pb2.WriteRecordsRequest(
                writer_id=writer_id, json=datasets_pb2.JsonRecords(records=batch)
            )
            batch = []
    # Always one message at least: an empty version is valid, and the stream must name its writer.
    yield datasets_pb2.WriteRecordsRequest(writer_id=writer_id, json=datasets_pb2.JsonRecords(records=batch))
