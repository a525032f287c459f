"""DatasetService through a real gRPC server on a loopback port and the generated stub."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator

import grpc
import pyarrow as pa
import pytest
from google.protobuf import json_format, struct_pb2

from octopack.common.objectstore import S3Settings
from octopack.common.server import RunningServer, start_server
from octopack.datasets.client import DatasetClient
from octopack.datasets.convert import table_to_ipc
from octopack.datasets.v1 import datasets_pb2 as pb
from octopack.datasets.v1 import datasets_pb2_grpc
from octopack.services.datasets.server import SERVICE_NAME, datasets_service
from octopack.services.datasets.settings import DatasetsSettings
from tests.integration.datasets.conftest import commitpack_rows

pytestmark = pytest.mark.integration


@pytest.fixture
async def server(s3_settings: S3Settings) -> AsyncIterator[RunningServer]:
    settings = DatasetsSettings(host="127.0.0.1", port=0, shard_rows=150)
    running = await start_server(settings, [datasets_service(settings, s3_settings)])
    yield running
    await running.stop(0)


@pytest.fixture
async def stub(server: RunningServer) -> AsyncIterator[datasets_pb2_grpc.DatasetServiceStub]:
    async with grpc.aio.insecure_channel(server.address) as channel:
        yield datasets_pb2_grpc.DatasetServiceStub(channel)


async def _code(call) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    return err.value.code(), err.value.details()


async def test_round_trip(stub: datasets_pb2_grpc.DatasetServiceStub) -> None:
    rows = commitpack_rows(400)
    created = await stub.CreateVersion(pb.CreateVersionRequest(name="commitpack", job_id="job-1"))
    assert created.version == "v1"

    async def messages() -> AsyncIterator[pb.WriteRecordsRequest]:
        yield pb.WriteRecordsRequest(
            writer_id=created.writer_id, json=pb.JsonRecords(records=[json.dumps(r) for r in rows[:250]])
        )
        yield pb.WriteRecordsRequest(arrow_ipc=table_to_ipc(pa.Table.from_pylist(rows[250:])))

    written = await stub.WriteRecords(messages())
    assert (written.rows_received, written.rows_written, written.shards_flushed) == (400, 400, 2)
    stats = struct_pb2.Struct()
    stats.update({"rule_2": {"dropped": 5}})
    committed = await stub.CommitVersion(pb.CommitVersionRequest(writer_id=created.writer_id, stats=stats))
    manifest = committed.manifest
    assert (manifest.num_rows, len(manifest.shards), manifest.lineage.job_id) == (400, 3, "job-1")
    assert json_format.MessageToDict(manifest.lineage.stats) == {"rule_2": {"dropped": 5.0}}
    stored = json.loads(manifest.manifest_json)["lineage"]["stats"]["rule_2"]["dropped"]
    assert stored == 5 and isinstance(stored, int)  # counts stay integers in the stored manifest

    code, details = await _code(stub.CommitVersion(pb.CommitVersionRequest(writer_id=created.writer_id)))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "committed: commitpack@v1" in details

    got = await stub.GetDataset(pb.GetDatasetRequest(name="commitpack"))
    assert got.manifest.version == "v1" and list(got.versions) == ["v1"]
    listed = await stub.ListDatasets(pb.ListDatasetsRequest())
    assert [(d.name, d.latest_version, d.latest_num_rows) for d in listed.datasets] == [
        ("commitpack", "v1", 400)
    ]
    versions = await stub.ListVersions(pb.ListVersionsRequest(name="commitpack"))
    assert [(v.version, v.num_shards) for v in versions.versions] == [("v1", 3)]

    read = [
        json.loads(line)
        async for reply in stub.ReadRecords(
            pb.ReadRecordsRequest(name="commitpack", version="v1", batch_size=64)
        )
        for line in reply.json
    ]
    assert read == rows
    structs = [
        json_format.MessageToDict(s)
        async for reply in stub.ReadRecords(
            pb.ReadRecordsRequest(
                name="commitpack", columns=["commit", "lang"], format=pb.RECORD_FORMAT_STRUCT, limit=170
            )
        )
        for s in reply.structs
    ]
    assert structs == [{"commit": r["commit"], "lang": r["lang"]} for r in rows[:170]]

    deleted = await stub.DeleteVersion(pb.DeleteVersionRequest(name="commitpack", version="v1"))
    assert deleted.objects_removed >= 4
    code, _ = await _code(stub.GetDataset(pb.GetDatasetRequest(name="commitpack")))
    assert code == grpc.StatusCode.NOT_FOUND


async def test_error_codes(stub: datasets_pb2_grpc.DatasetServiceStub) -> None:
    code, details = await _code(stub.CreateVersion(pb.CreateVersionRequest(name="Bad Name")))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "^[a-z0-9][a-z0-9._-]{0,62}$" in details
    code, details = await _code(stub.GetDataset(pb.GetDatasetRequest(name="nope")))
    assert code == grpc.StatusCode.NOT_FOUND and "nope" in details
    code, _ = await _code(stub.GetDataset(pb.GetDatasetRequest(name="nope", version="v9")))
    assert code == grpc.StatusCode.NOT_FOUND
    code, _ = await _code(stub.ListVersions(pb.ListVersionsRequest(name="nope")))
    assert code == grpc.StatusCode.NOT_FOUND
    code, _ = await _code(stub.DeleteVersion(pb.DeleteVersionRequest(name="nope", version="v1")))
    assert code == grpc.StatusCode.NOT_FOUND
    code, _ = await _code(stub.DeleteVersion(pb.DeleteVersionRequest(name="nope")))
    assert code == grpc.StatusCode.INVALID_ARGUMENT

    async def drain(request: pb.ReadRecordsRequest) -> None:
        async for _ in stub.ReadRecords(request):
            pass

    code, _ = await _code(drain(pb.ReadRecordsRequest(name="nope")))
    assert code == grpc.StatusCode.NOT_FOUND
    code, _ = await _code(stub.WriteRecords(_one(pb.WriteRecordsRequest(writer_id="0" * 32))))
    assert code == grpc.StatusCode.NOT_FOUND

    created = await stub.CreateVersion(pb.CreateVersionRequest(name="cp", version="v1"))
    bad_json = pb.WriteRecordsRequest(
        writer_id=created.writer_id, json=pb.JsonRecords(records=['{"a": 1}', "{oops"])
    )
    code, details = await _code(stub.WriteRecords(_one(bad_json)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "json.records[1]" in details
    await stub.WriteRecords(
        _one(pb.WriteRecordsRequest(writer_id=created.writer_id, json=pb.JsonRecords(records=['{"a": 1}'])))
    )
    await stub.CommitVersion(pb.CommitVersionRequest(writer_id=created.writer_id))
    code, details = await _code(stub.CreateVersion(pb.CreateVersionRequest(name="cp", version="v1")))
    assert code == grpc.StatusCode.ALREADY_EXISTS
    code, details = await _code(drain(pb.ReadRecordsRequest(name="cp", columns=["zzz"])))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "has: a" in details

    aborted = await stub.CreateVersion(pb.CreateVersionRequest(name="cp"))
    await stub.AbortVersion(pb.AbortVersionRequest(writer_id=aborted.writer_id))
    code, _ = await _code(stub.CommitVersion(pb.CommitVersionRequest(writer_id=aborted.writer_id)))
    assert code == grpc.StatusCode.FAILED_PRECONDITION


async def _one(message: pb.WriteRecordsRequest) -> AsyncIterator[pb.WriteRecordsRequest]:
    yield message


async def test_grpcurl_and_blocking_client(server: RunningServer, grpcurl: str) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([grpcurl, "-plaintext", *args], capture_output=True, text=True, timeout=60)

    out = await asyncio.to_thread(run, server.address, "list")
    assert out.returncode == 0, out.stderr
    assert SERVICE_NAME in out.stdout.split()
    described = await asyncio.to_thread(run, server.address, "describe", SERVICE_NAME)
    assert "rpc ReadRecords" in described.stdout

    def use_client() -> tuple:
        with DatasetClient(server.address) as client:
            manifest = client.write_version("viaclient", commitpack_rows(30), stats={"kept": 30})
            return manifest, list(client.iter_records("viaclient", columns=["subject"], limit=5))

    manifest, records = await asyncio.to_thread(use_client)
    assert (manifest.ref, manifest.num_rows, manifest.lineage.stats) == ("viaclient@v1", 30, {"kept": 30})
    assert records == [{"subject": r["subject"]} for r in commitpack_rows(5)]

    missing = await asyncio.to_thread(
        run, "-d", json.dumps({"name": "nope"}), server.address, f"{SERVICE_NAME}/GetDataset"
    )
    assert missing.returncode != 0 and "NotFound" in missing.stderr
    listed = await asyncio.to_thread(run, server.address, f"{SERVICE_NAME}/ListDatasets")
    assert json.loads(listed.stdout)["datasets"][0]["name"] == "viaclient"
