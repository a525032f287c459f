"""CrawlerService through a real gRPC server on loopback, writing to the real local S3 dataset store."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from octopack.common.server import start_server
from octopack.crawler.v1 import crawler_pb2 as pb
from octopack.crawler.v1 import crawler_pb2_grpc
from octopack.datasets.names import parse_ref
from octopack.datasets.store import DatasetStore
from octopack.services.crawler.server import crawler_service
from octopack.services.crawler.settings import CrawlerSettings
from tests.unit.crawler.gitrepo import Repo, oracle

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]


async def _watch(stub: crawler_pb2_grpc.CrawlerServiceStub, crawl_id: str) -> list[pb.Crawl]:
    seen = []
    async for reply in stub.WatchCrawl(pb.WatchCrawlRequest(crawl_id=crawl_id), timeout=300):
        seen.append(reply.crawl)
    return seen


async def test_crawl_writes_a_version_and_records_bad_repositories(tmp_path: Path, s3_settings) -> None:
    repo = Repo(tmp_path / "small")
    repo.commit("Initial commit", a_DOT_py="x = 1\n")
    repo.commit("Set x to the value two", a_DOT_py="x = 2\n")
    repo.commit("Set x to the value three", a_DOT_py="x = 3\n")
    not_git = tmp_path / "plain"
    not_git.mkdir()
    sources = [str(ROOT), str(repo.path), str(tmp_path / "missing"), str(not_git)]
    settings = CrawlerSettings(host="127.0.0.1", port=0, work_dir=tmp_path / "work", workers=2)
    running = await start_server(settings, [crawler_service(settings, s3_settings)])
    try:
        async with grpc.aio.insecure_channel(running.address) as channel:
            stub = crawler_pb2_grpc.CrawlerServiceStub(channel)
            # The oracle follows the improved profile (tests/oracles/original.py is the paper one's).
            spec = pb.CrawlSpec(repositories=sources, dataset="commits", all_licenses=True, profile="improved")
            started = (await stub.StartCrawl(pb.StartCrawlRequest(spec=spec))).crawl
            assert started.state == pb.CRAWL_STATE_RUNNING
            seen = await _watch(stub, started.crawl_id)
            final = seen[-1]
            assert final.state == pb.CRAWL_STATE_SUCCEEDED, final.error
            assert final.progress.repositories_done == 2 and final.progress.repositories_failed == 2
            errors = {e.repository: e.message for e in final.errors}
            assert "does not exist" in errors[str(tmp_path / "missing")]
            assert "not a Git repository" in errors[str(not_git)]
            got = (await stub.GetCrawl(pb.GetCrawlRequest(crawl_id=started.crawl_id))).crawl
            assert got.output == final.output and got.output.startswith("commits@v")
            assert final.licenses[str(ROOT)] == "apache-2.0"

            store = DatasetStore.from_settings(s3_settings)
            table = store.read_table(*parse_ref(final.output))
            expected = {**oracle(ROOT), **oracle(repo.path)}
            assert sorted(table.column("commit").to_pylist()) == sorted(expected)
            assert final.progress.samples_written == table.num_rows == len(expected)
            manifest = store.get_manifest(*parse_ref(final.output))
            assert manifest.extra["crawl"]["errors"] == errors
            assert manifest.profile == final.spec.profile == "improved"
            assert manifest.lineage.stats is not None and manifest.lineage.stats["repositories_failed"] == 2

            # The same request again resumes from the per-repository checkpoints.
            again = (await stub.StartCrawl(pb.StartCrawlRequest(spec=spec))).crawl
            assert again.crawl_id == started.crawl_id
            final2 = (await _watch(stub, again.crawl_id))[-1]
            assert final2.progress.repositories_resumed == 2
            assert final2.output != final.output
            assert store.read_table(*parse_ref(final2.output)).num_rows == table.num_rows
    finally:
        await running.stop(0)


async def test_bad_requests_get_clear_errors(tmp_path: Path, s3_settings) -> None:
    settings = CrawlerSettings(host="127.0.0.1", port=0, work_dir=tmp_path / "work")
    running = await start_server(settings, [crawler_service(settings, s3_settings)])
    try:
        async with grpc.aio.insecure_channel(running.address) as channel:
            stub = crawler_pb2_grpc.CrawlerServiceStub(channel)
            cases = [
                (pb.CrawlSpec(repositories=["x"], dataset="Bad Name"), "dataset"),
                (pb.CrawlSpec(dataset="ok"), "repositories"),
                (pb.CrawlSpec(repositories=["x"], dataset="ok", since="last week"), "since"),
                (pb.CrawlSpec(repositories=["x"], dataset="ok", languages=["Klingon"]), "languages"),
                (pb.CrawlSpec(repositories=["x"], dataset="ok", profile="best"), "spec.profile"),
                (pb.CrawlSpec(repositories=["x"], dataset="ok", corrections={"nope": True}), "nope"),
            ]
            for spec, field in cases:
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await stub.StartCrawl(pb.StartCrawlRequest(spec=spec))
                assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
                assert field in err.value.details()
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.GetCrawl(pb.GetCrawlRequest(crawl_id="nope"))
            assert err.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        await running.stop(0)
