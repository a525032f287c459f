"""FilterService through a real gRPC server on loopback: each run a Ray job on a real local Ray head, reading
and writing the real local S3 dataset store."""

from __future__ import annotations

from pathlib import Path

import grpc
import pyarrow as pa
import pytest

from octopack.common.server import start_server
from octopack.datasets.names import parse_ref
from octopack.datasets.store import DatasetStore
from octopack.filter.v1 import filter_pb2 as pb
from octopack.filter.v1 import filter_pb2_grpc
from octopack.services.crawler.samples import SAMPLE_SCHEMA
from octopack.services.filter.config import FilterConfig
from octopack.services.filter.pipeline import run_local
from octopack.services.filter.rules import build_rules
from octopack.services.filter.server import filter_service
from octopack.services.filter.settings import FilterSettings
from octopack.services.filter.stats import FilterStats
from tests.unit.filter.conftest import sample, train_tokenizer

pytestmark = [pytest.mark.integration, pytest.mark.ray]


def _rows(n: int) -> list[dict]:
    subjects = ["Add a comment to the subtraction helper", "fix: Handle the empty input in parsers now",
                "Bump the version of the helper package", "Fix #3 in the helper", "I added a comment to helper"]
    return [sample(commit=f"{i:040x}", subject=subjects[i % len(subjects)]) for i in range(n)]


async def test_filter_writes_a_version_with_lineage_and_statistics(tmp_path: Path, s3_settings, ray_head) -> None:  # type: ignore[no-untyped-def]
    tokenizer = str(train_tokenizer(tmp_path / "tok" / "tokenizer.json"))
    store = DatasetStore.from_settings(s3_settings)
    rows = _rows(500)
    writer = store.create_version("commits")
    writer.write(pa.Table.from_pylist(rows, schema=SAMPLE_SCHEMA))
    source = writer.commit().ref
    settings = FilterSettings(host="127.0.0.1", port=0, ray_address=ray_head.dashboard, poll_seconds=0.3)
    running = await start_server(settings, [filter_service(settings, s3_settings)])
    try:
        async with grpc.aio.insecure_channel(running.address) as channel:
            stub = filter_pb2_grpc.FilterServiceStub(channel)
            spec = pb.FilterSpec(source="commits", out="commitpackft", tokenizer=tokenizer,
                                 config_yaml="bump_sampling: {seed: 's'}\n", profile="improved")
            run = (await stub.StartFilter(pb.StartFilterRequest(spec=spec))).run
            assert run.input == source and run.rows_total == 500 and run.spec.profile == "improved"
            final = None
            async for reply in stub.WatchFilter(pb.WatchFilterRequest(run_id=run.run_id), timeout=300):
                final = reply.run
            assert final is not None and final.state == pb.FILTER_STATE_SUCCEEDED, final.error
            assert final.rows_done == 500

            config = FilterConfig.model_validate({"profile": "improved", "bump_sampling": {"seed": "s"}})
            rules = build_rules(config, tokenizer)
            stats = FilterStats.for_rules(rules)
            expected = [r for t in run_local([pa.Table.from_pylist(rows)], rules, stats) for r in t.to_pylist()]
            out = store.read_table(*parse_ref(final.output))
            assert out.to_pylist() == expected and 0 < len(expected) < 500
            manifest = store.get_manifest(*parse_ref(final.output))
            assert manifest.lineage.parents == [source]
            assert manifest.profile == "improved"
            assert manifest.lineage.filter_config is not None
            assert manifest.lineage.filter_config["tokenizer"] == tokenizer
            assert manifest.lineage.filter_config["bump_sampling"]["seed"] == "s"
            recorded = manifest.lineage.stats
            assert recorded is not None and recorded["rows_out"] == len(expected)
            assert [r["dropped"] for r in recorded["rules"]] == [r.dropped for r in stats.rules]
            assert {r.name: r.dropped for r in final.stats.rules}["no_hash_in_subject"] == 100
            # The same request again is the same run (read back, not run again); a named run with
            # another request is refused.
            again = (await stub.StartFilter(pb.StartFilterRequest(spec=spec))).run
            assert again.run_id == run.run_id and again.output == final.output and again.driver_launches == 1
            assert store.list_versions("commitpackft") == [final.output.split("@")[1]]
            other = pb.FilterSpec(source="commits", out="commitpackft", tokenizer=tokenizer)
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.StartFilter(pb.StartFilterRequest(spec=other, run_id=run.run_id))
            assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
            # Nothing is left beside the committed shards: the tokenizer was handed over in the run's records.
            prefix = store.version_prefix(*parse_ref(final.output))
            names = {o.key[len(prefix):].split("/")[0] for o in store.objects.list(prefix) if not o.key.endswith(".parquet")}
            assert names == {"_manifest.json", "_writer.json", "_shards"}  # the per-shard markers stay as the record
    finally:
        await running.stop(0)


async def test_bad_requests_get_clear_errors(tmp_path: Path, s3_settings) -> None:
    store = DatasetStore.from_settings(s3_settings)
    writer = store.create_version("commits")
    writer.write(pa.Table.from_pylist(_rows(3), schema=SAMPLE_SCHEMA))
    writer.commit()
    settings = FilterSettings(host="127.0.0.1", port=0, ray_address="http://127.0.0.1:9")
    running = await start_server(settings, [filter_service(settings, s3_settings)])
    off = "token_length: {enabled: false}"
    try:
        async with grpc.aio.insecure_channel(running.address) as channel:
            stub = filter_pb2_grpc.FilterServiceStub(channel)
            cases = [
                (pb.FilterSpec(source="commits@v9", out="ft", config_yaml=off), grpc.StatusCode.NOT_FOUND, "v9"),
                (pb.FilterSpec(source="nothing", out="ft", config_yaml=off), grpc.StatusCode.NOT_FOUND, "nothing"),
                (pb.FilterSpec(source="commits", out="Bad Name", config_yaml=off), grpc.StatusCode.INVALID_ARGUMENT,
                 "Bad Name"),
                (pb.FilterSpec(source="commits", out="ft", config_yaml="nope: 1"), grpc.StatusCode.INVALID_ARGUMENT,
                 "nope"),
                (pb.FilterSpec(source="commits", out="ft", config_yaml=off, profile="best"),
                 grpc.StatusCode.INVALID_ARGUMENT, "spec.profile"),
                (pb.FilterSpec(source="commits", out="ft", tokenizer=str(tmp_path / "missing")),
                 grpc.StatusCode.INVALID_ARGUMENT, "tokenizer"),
            ]
            for spec, code, text in cases:
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await stub.StartFilter(pb.StartFilterRequest(spec=spec))
                assert err.value.code() == code, err.value.details()
                assert text in err.value.details()
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.GetFilter(pb.GetFilterRequest(run_id="nope"))
            assert err.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        await running.stop(0)
