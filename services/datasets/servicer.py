"""gRPC surface of the dataset store: proto in, :class:`WriterRegistry` call, proto out."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from octopack.common import paging
from octopack.common.errors import InvalidArgument
from octopack.datasets import convert
from octopack.datasets.v1 import datasets_pb2, datasets_pb2_grpc
from octopack.services.datasets.registry import WriterRegistry


class DatasetServicer(datasets_pb2_grpc.DatasetServiceServicer):
    """octopack.datasets.v1.DatasetService."""

    def __init__(self, writers: WriterRegistry) -> None:
        self.writers = writers
        self.bucket = writers.store.objects.bucket

    async def CreateVersion(
        self, request: datasets_pb2.CreateVersionRequest, context: grpc.aio.ServicerContext
    ) -> datasets_pb2.CreateVersionResponse:
        writer = await self.writers.create(
            request.name,
            request.version or None,
            parents=list(request.parents),
            job_id=request.job_id,
            description=request.description,
        )
        return datasets_pb2.CreateVersionResponse(
            writer_id=writer.writer_id, name=writer.name, version=writer.version
        )

    async def WriteRecords(  # type: ignore[override]
        self,
        request_iterator: AsyncIterator[datasets_pb2.WriteRecordsRequest],
        context: grpc.aio.ServicerContext,
    ) -> datasets_pb2.WriteRecordsResponse:
        writer_id, received, writer = "", 0, None
        async for message in request_iterator:
            writer_id = message.writer_id or writer_id
            kind = message.WhichOneof("payload")
            if kind == "json":
                records = convert.records_from_json(list(message.json.records))
                writer = await self.writers.write(writer_id, records)
                received += len(records)
            elif kind == "arrow_ipc":
                table = convert.table_from_ipc(message.arrow_ipc)
                writer = await self.writers.write(writer_id, table)
                received += table.num_rows
        if writer is None:  # no payload at all: still check that the writer is open
            writer = self.writers.writer(writer_id)
        return datasets_pb2.WriteRecordsResponse(
            rows_received=received, rows_written=writer.rows_written, shards_flushed=len(writer.shards)
        )

    async def CommitVersion(
        self, request: datasets_pb2.CommitVersionRequest, context: grpc.aio.ServicerContext
    ) -> datasets_pb2.CommitVersionResponse:
        manifest = await self.writers.commit(
            request.writer_id,
            filter_config=convert.struct_dict(request, "filter_config"),
            stats=convert.struct_dict(request, "stats"),
            extra=convert.struct_dict(request, "extra"),
        )
        return datasets_pb2.CommitVersionResponse(manifest=convert.manifest_proto(manifest, self.bucket))

    async def AbortVersion(
        self, request: datasets_pb2.AbortVersionRequest, context: grpc.aio.ServicerContext
    ) -> datasets_pb2.AbortVersionResponse:
        await self.writers.abort(request.writer_id)
        return datasets_pb2.AbortVersionResponse()

    async def GetDataset(
        self, request: datasets_pb2.GetDatasetRequest, context: grpc.aio.ServicerContext
    ) -> datasets_pb2.GetDatasetResponse:
        manifest = await self.writers.call("get_manifest", request.name, request.version or None)
        versions = await self.writers.call("list_versions", request.name)
        return datasets_pb2.GetDatasetResponse(
            manifest=convert.manifest_proto(manifest, self.bucket), versions=versions
        )

    async def ListDatasets(
        self, request: datasets_pb2.ListDatasetsRequest, context: grpc.aio.ServicerContext
    ) -> datasets_pb2.ListDatasetsResponse:
        summaries = [
            datasets_pb2.DatasetSummary(
                name=name,
                latest_version=latest.version,
                num_versions=len(versions),
                latest_num_rows=latest.num_rows,
                latest_created_at=convert.timestamp(latest.created_at),
            )
            for name, versions, latest in await self.writers.datasets()
        ]
        taken, token = paging.page(
            summaries, lambda d: [d.name], lambda d: d.ByteSize(), request.page_size, request.page_token
        )
        return datasets_pb2.ListDatasetsResponse(datasets=taken, next_page_token=token)

    async def ListVersions(
        self, request: datasets_pb2.ListVersionsRequest, context: grpc.aio.ServicerContext
    ) -> datasets_pb2.ListVersionsResponse:
        manifests = await self.writers.versions(request.name)
        # Oldest first: the order the manifests are listed in, numbered so a token survives new versions.
        numbered = list(enumerate(convert.version_summary(m) for m in manifests))
        taken, token = paging.page(
            numbered, lambda v: [v[0]], lambda v: v[1].ByteSize(), request.page_size, request.page_token,
            default=1000, maximum=10_000,
        )
        return datasets_pb2.ListVersionsResponse(
            name=request.name, versions=[v for _, v in taken], next_page_token=token
        )

    async def ReadRecords(  # type: ignore[override]
        self, request: datasets_pb2.ReadRecordsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[datasets_pb2.ReadRecordsResponse]:
        structs = request.format == datasets_pb2.RECORD_FORMAT_STRUCT
        chunks = self.writers.read(
            request.name, request.version or None, list(request.columns), request.batch_size, request.limit
        )
        async for chunk in chunks:
            if structs:
                yield datasets_pb2.ReadRecordsResponse(structs=[convert.record_struct(r) for r in chunk])
            else:
                yield datasets_pb2.ReadRecordsResponse(json=[convert.record_json(r) for r in chunk])

    async def DeleteVersion(
        self, request: datasets_pb2.DeleteVersionRequest, context: grpc.aio.ServicerContext
    ) -> datasets_pb2.DeleteVersionResponse:
        if not request.version:
            raise InvalidArgument("version is required: DeleteVersion removes one version, e.g. 'v2'")
        removed = await self.writers.call("delete_version", request.name, request.version)
        return datasets_pb2.DeleteVersionResponse(objects_removed=removed)
