"""CrawlerService through a real gRPC server on loopback: each crawl a Ray job on a real local Ray head,
writing to the real local S3 dataset store."""

from __future__ import annotations

import asyncio
import functools
import json
import time
from pathlib import Path
from typing import Any

import grpc
import pytest

from octopack.common.background import SUCCEEDED, RunRecords
from octopack.common.server import start_server
from octopack.crawler.v1 import crawler_pb2 as pb
from octopack.crawler.v1 import crawler_pb2_grpc
from octopack.datasets.names import parse_ref
from octopack.datasets.store import DatasetStore
from octopack.ray_jobs.cluster import RayJobClient
from octopack.services.crawler.crawl import CrawlRequest
from octopack.services.crawler.options import CrawlOptions
from octopack.services.crawler.runs import CrawlRuns
from octopack.services.crawler.server import crawler_service
from octopack.services.crawler.settings import CrawlerSettings
from tests.integration.crawler.listener import listener
from tests.unit.crawler.gitrepo import Repo, oracle

pytestmark = [pytest.mark.integration, pytest.mark.ray]
ROOT = Path(__file__).resolve().parents[3]


async def _watch(stub: crawler_pb2_grpc.CrawlerServiceStub, crawl_id: str) -> list[pb.Crawl]:
    seen = []
    async for reply in stub.WatchCrawl(pb.WatchCrawlRequest(crawl_id=crawl_id), timeout=300):
        seen.append(reply.crawl)
    return seen


async def test_crawl_writes_a_version_and_records_bad_repositories(tmp_path: Path, s3_settings, ray_head) -> None:  # type: ignore[no-untyped-def]
    repo = Repo(tmp_path / "small")
    repo.commit("Initial commit", a_DOT_py="x = 1\n")
    repo.commit("Set x to the value two", a_DOT_py="x = 2\n")
    repo.commit("Set x to the value three", a_DOT_py="x = 3\n")
    not_git = tmp_path / "plain"
    not_git.mkdir()
    sources = [str(ROOT), str(repo.path), str(tmp_path / "missing"), str(not_git)]
    settings = CrawlerSettings(host="127.0.0.1", port=0, ray_address=ray_head.dashboard, poll_seconds=0.3)
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

            # The same request again is the same run: it is read back, nothing runs again.
            again = (await stub.StartCrawl(pb.StartCrawlRequest(spec=spec))).crawl
            assert again.crawl_id == started.crawl_id and again.state == pb.CRAWL_STATE_SUCCEEDED
            assert again.output == final.output and again.progress.driver_launches == 1
            assert store.list_versions("commits") == [final.output.split("@")[1]]
            # The same run id with another request is refused; a fresh request is a new run.
            other = pb.CrawlSpec(repositories=[str(repo.path)], dataset="commits", all_licenses=True)
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.StartCrawl(pb.StartCrawlRequest(spec=other, run_id=started.crawl_id))
            assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
            fresh = (await stub.StartCrawl(pb.StartCrawlRequest(spec=pb.CrawlSpec(
                repositories=sources, dataset="commits", all_licenses=True, profile="improved", fresh=True)))).crawl
            final2 = (await _watch(stub, fresh.crawl_id))[-1]
            assert final2.crawl_id != started.crawl_id and final2.output != final.output
            assert store.read_table(*parse_ref(final2.output)).num_rows == table.num_rows
    finally:
        await running.stop(0)


async def test_bad_requests_get_clear_errors(tmp_path: Path, s3_settings) -> None:
    settings = CrawlerSettings(host="127.0.0.1", port=0, ray_address="http://127.0.0.1:9")
    running = await start_server(settings, [crawler_service(settings, s3_settings)])
    try:
        async with grpc.aio.insecure_channel(running.address) as channel:
            stub = crawler_pb2_grpc.CrawlerServiceStub(channel)
            cases = [
                (pb.CrawlSpec(repositories=["x"], dataset="Bad Name"), "dataset"),
                (pb.CrawlSpec(dataset="ok"), "repositories"),
                (pb.CrawlSpec(repositories=["x"], dataset="ok", since="last week"), "since"),
                (pb.CrawlSpec(repositories=["x"], dataset="ok", languages=["Klingon"]), "languages"),
                (pb.CrawlSpec(repositories=["x"], repositories_file="list.txt", dataset="ok"), "only one of"),
                (pb.CrawlSpec(repositories_file="s3://other-bucket/list.txt", dataset="ok"), "repositories_file"),
                (pb.CrawlSpec(repositories_dataset="Bad Name", dataset="ok"), "dataset name"),
                (pb.CrawlSpec(repositories=["x"], dataset="ok", profile="best"), "spec.profile"),
                (pb.CrawlSpec(repositories=["x"], dataset="ok", corrections={"nope": True}), "nope"),
            ]
            for spec, field in cases:
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await stub.StartCrawl(pb.StartCrawlRequest(spec=spec))
                assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
                assert field in err.value.details()
            for spec, what in [(pb.CrawlSpec(repositories_file="no/such/list.txt", dataset="ok"), "no such object"),
                               (pb.CrawlSpec(repositories_dataset="nothere", dataset="ok"), "nothere")]:
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await stub.StartCrawl(pb.StartCrawlRequest(spec=spec))
                assert err.value.code() == grpc.StatusCode.NOT_FOUND and what in err.value.details()
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.GetCrawl(pb.GetCrawlRequest(crawl_id="nope"))
            assert err.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        await running.stop(0)


async def test_repository_lists_from_a_file_and_a_dataset(tmp_path: Path, s3_settings, ray_head) -> None:  # type: ignore[no-untyped-def]
    repos = []
    for name in ("one", "two"):
        repo = Repo(tmp_path / name)
        repo.commit("Initial commit", a_DOT_py="x = 1\n")
        repo.commit(f"Set x to the value of {name}", a_DOT_py=f"x = '{name}'\n")
        repos.append(str(repo.path))
    store = DatasetStore.from_settings(s3_settings)
    store.objects.put("lists/repos.txt", f"# two repositories\n{repos[0]}\n\n{repos[1]}  # the second\n".encode())
    with store.create_version("repolist") as writer:  # a license column is taken as given (GitHub metadata)
        writer.write([{"url": repos[0], "license": "MIT"}, {"url": repos[1], "license": "gpl-3.0"}])
        writer.commit()
    settings = CrawlerSettings(host="127.0.0.1", port=0, ray_address=ray_head.dashboard, poll_seconds=0.3)
    running = await start_server(settings, [crawler_service(settings, s3_settings)])
    try:
        async with grpc.aio.insecure_channel(running.address) as channel:
            stub = crawler_pb2_grpc.CrawlerServiceStub(channel)
            spec = pb.CrawlSpec(repositories_file=f"s3://{s3_settings.bucket}/lists/repos.txt", dataset="fromfile",
                                all_licenses=True)
            from_file = (await _watch(stub, (await stub.StartCrawl(pb.StartCrawlRequest(spec=spec))).crawl.crawl_id))[-1]
            assert from_file.state == pb.CRAWL_STATE_SUCCEEDED, from_file.error
            assert from_file.progress.repositories_total == 2 and from_file.progress.repositories_done == 2
            assert from_file.progress.commits_per_second > 0
            assert sorted(from_file.licenses.values()) == ["unknown", "unknown"]
            spec = pb.CrawlSpec(repositories_dataset="repolist", dataset="fromdataset")
            started = (await stub.StartCrawl(pb.StartCrawlRequest(spec=spec, run_id="from-dataset-1"))).crawl
            assert started.crawl_id == "from-dataset-1"
            from_dataset = (await _watch(stub, started.crawl_id))[-1]
            assert from_dataset.state == pb.CRAWL_STATE_SUCCEEDED, from_dataset.error
            # The paper's license list keeps MIT and drops GPL-3.0, as the list said, without reading LICENSE files.
            assert dict(from_dataset.licenses) == {repos[0]: "mit", repos[1]: "gpl-3.0"}
            assert from_dataset.progress.skipped["license_not_allowed"] == 1
            table = store.read_table(*parse_ref(from_dataset.output))
            assert table.column("license").to_pylist() == ["mit"]
            assert store.get_manifest(*parse_ref(from_dataset.output)).extra["crawl"]["repositories_dataset"] == "repolist"
    finally:
        await running.stop(0)


async def test_a_restarted_service_adopts_the_running_crawl(tmp_path: Path, s3_settings, ray_head) -> None:  # type: ignore[no-untyped-def]
    settings = CrawlerSettings(host="127.0.0.1", port=0, ray_address=ray_head.dashboard, poll_seconds=0.3)
    spec = pb.CrawlSpec(repositories=[str(ROOT)], dataset="adopted", all_licenses=True)
    first = await start_server(settings, [crawler_service(settings, s3_settings)])
    async with grpc.aio.insecure_channel(first.address) as channel:
        stub = crawler_pb2_grpc.CrawlerServiceStub(channel)
        started = (await stub.StartCrawl(pb.StartCrawlRequest(spec=spec, run_id="adopt-me"))).crawl
    await first.stop(0)  # the service goes; its crawl goes on in Ray
    second = await start_server(settings, [crawler_service(settings, s3_settings)])
    try:
        async with grpc.aio.insecure_channel(second.address) as channel:
            stub = crawler_pb2_grpc.CrawlerServiceStub(channel)
            seen = await _watch(stub, started.crawl_id)  # unknown to this process: adopted from its records
            assert seen[-1].state == pb.CRAWL_STATE_SUCCEEDED, seen[-1].error
            again = (await stub.StartCrawl(pb.StartCrawlRequest(spec=spec, run_id="adopt-me"))).crawl
            assert again.output == seen[-1].output and again.progress.driver_launches == 1
            assert DatasetStore.from_settings(s3_settings).list_versions("adopted") == [again.output.split("@")[1]]
    finally:
        await second.stop(0)


async def test_cancel_stops_the_crawl_and_removes_what_it_staged(tmp_path: Path, s3_settings, ray_head) -> None:  # type: ignore[no-untyped-def]
    # One repository crawled and staged, one whose clone hangs: the cancel comes while the crawl runs.
    settings = CrawlerSettings(host="127.0.0.1", port=0, ray_address=ray_head.dashboard, poll_seconds=0.3,
                               git_schemes=["https", "git"], git_allow_private=True, git_stall_seconds=60)
    store = DatasetStore.from_settings(s3_settings)
    running = await start_server(settings, [crawler_service(settings, s3_settings)])
    try:
        with listener() as daemon:
            async with grpc.aio.insecure_channel(running.address) as channel:
                stub = crawler_pb2_grpc.CrawlerServiceStub(channel)
                hang = f"git://127.0.0.1:{daemon.port}/hang.git"
                spec = pb.CrawlSpec(repositories=[str(ROOT), hang], dataset="cancelled", all_licenses=True)
                started = (await stub.StartCrawl(pb.StartCrawlRequest(spec=spec, run_id="cancel-me"))).crawl
                assert await asyncio.to_thread(daemon.accepted.wait, 120), "the hanging clone never started"
                while (await stub.GetCrawl(pb.GetCrawlRequest(crawl_id=started.crawl_id))).crawl \
                        .progress.repositories_done < 1:  # the other repository's samples are staged
                    await asyncio.sleep(0.2)
                area = store.find_run("cancelled", "cancel-me")
                assert area is not None and store.objects.list_keys(area.prefix)
                await stub.CancelCrawl(pb.CancelCrawlRequest(crawl_id=started.crawl_id))
                final = (await _watch(stub, started.crawl_id))[-1]
        assert final.state == pb.CRAWL_STATE_CANCELLED and final.output == ""
        assert store.find_run("cancelled", "cancel-me") is None
        left = [o.key for o in store.objects.list(store.dataset_prefix("cancelled"))]
        assert left == [f"{store.dataset_prefix('cancelled')}_counter.json"], left  # versions are never reused
        assert store.list_versions("cancelled") == []
    finally:
        await running.stop(0)


async def test_a_cancel_that_comes_after_the_commit_leaves_the_crawl_succeeded(tmp_path: Path, s3_settings, ray_head) -> None:  # type: ignore[no-untyped-def]
    # The service looks at its driver rarely here, so the driver commits and ends before the cancel is seen.
    settings = CrawlerSettings(host="127.0.0.1", port=0, ray_address=ray_head.dashboard, poll_seconds=120)
    store = DatasetStore.from_settings(s3_settings)
    records = RunRecords(store.objects, settings.runs_prefix)
    running = await start_server(settings, [crawler_service(settings, s3_settings)])
    try:
        async with grpc.aio.insecure_channel(running.address) as channel:
            stub = crawler_pb2_grpc.CrawlerServiceStub(channel)
            spec = pb.CrawlSpec(repositories=[str(ROOT)], dataset="late", all_licenses=True)
            await stub.StartCrawl(pb.StartCrawlRequest(spec=spec, run_id="late-cancel"))
            deadline = time.monotonic() + 120
            while (records.get("late-cancel", "result") or {}).get("state") != SUCCEEDED:
                assert time.monotonic() < deadline, "the driver did not commit"
                await asyncio.sleep(0.2)
            await stub.CancelCrawl(pb.CancelCrawlRequest(crawl_id="late-cancel"))
            final = (await _watch(stub, "late-cancel"))[-1]
        # A committed version is never removed by a cancel: the crawl stays what it became.
        assert final.state == pb.CRAWL_STATE_SUCCEEDED, final.error
        assert final.output == "late@v1" and store.list_versions("late") == ["v1"]
        assert store.find_run("late", "late-cancel") is not None
    finally:
        await running.stop(0)


def _after(seconds: float, fn: Any, *args: Any) -> Any:
    time.sleep(seconds)
    return fn(*args)


class SlowSubmit(RayJobClient):
    """The real Ray job client, slow to submit: the window between recording a launch and submitting it."""

    def __init__(self, address: str, delay: float) -> None:
        super().__init__(address)
        self.delay = delay

    def submit(self, *args, **kwargs) -> bool:  # type: ignore[no-untyped-def]
        time.sleep(self.delay)
        return super().submit(*args, **kwargs)


async def test_starts_racing_a_launch_adopt_it_and_never_launch_a_second_driver(
    tmp_path: Path, s3_settings, ray_head  # type: ignore[no-untyped-def]
) -> None:
    # A controller killed while its StartCrawl is launching the driver, and its successor's StartCrawl of
    # the same run id: in one service, and in two services (a restarted crawler beside the old one).
    store = DatasetStore.from_settings(s3_settings)
    settings = CrawlerSettings(ray_address=ray_head.dashboard, poll_seconds=0.3)
    first = CrawlRuns(settings, store, SlowSubmit(ray_head.dashboard, 3.0))
    second = CrawlRuns(settings, store)
    try:
        for name, racer in (("one-service", first), ("two-services", second)):
            run_id = f"race-{name}"
            request = CrawlRequest([str(ROOT)], f"raced-{name}", CrawlOptions(all_licenses=True)).validate()
            late = functools.partial(_after, 1.0, racer.begin, request, run_id)
            jobs = await asyncio.gather(asyncio.to_thread(first.begin, request, run_id), asyncio.to_thread(late))
            for job in jobs:
                while not job.finished:
                    await asyncio.sleep(0.2)
                assert job.state == "succeeded", job.error
            assert jobs[0].work.outcome() == jobs[1].work.outcome()
            doc = json.loads(store.objects.get(f"{settings.runs_prefix.rstrip('/')}/{run_id}/run.json"))
            assert doc["launches"] == 1
            ray = RayJobClient(ray_head.dashboard)
            assert ray.status(f"{run_id}.d1") == "SUCCEEDED" and ray.status(f"{run_id}.d2") is None
            assert store.list_versions(f"raced-{name}") == ["v1"]
    finally:
        first.close()
        second.close()


async def test_list_crawls_stays_under_the_client_limit_in_pages(tmp_path: Path, s3_settings, ray_head) -> None:  # type: ignore[no-untyped-def]
    """Three crawls of 256 repositories with 2 kB paths weigh about 5 MB together: the default
    client (4 MiB) reads them in pages."""
    settings = CrawlerSettings(host="127.0.0.1", port=0, ray_address=ray_head.dashboard, poll_seconds=0.3)
    running = await start_server(settings, [crawler_service(settings, s3_settings)])
    try:
        async with grpc.aio.insecure_channel(running.address) as channel:  # gRPC's default 4 MiB limit
            stub = crawler_pb2_grpc.CrawlerServiceStub(channel)
            ids = []
            for n in range(3):
                repos = [f"/nonexistent/{n}-{i:03d}-" + "x" * 2000 for i in range(256)]
                spec = pb.CrawlSpec(repositories=repos, dataset=f"big{n}")
                crawl = (await stub.StartCrawl(pb.StartCrawlRequest(spec=spec))).crawl
                ids.append(crawl.crawl_id)
                await _watch(stub, crawl.crawl_id)
            pages, token, seen = 0, "", []
            while True:
                reply = await stub.ListCrawls(pb.ListCrawlsRequest(page_token=token))
                assert reply.ByteSize() < 4 * 1024 * 1024
                seen += [c.crawl_id for c in reply.crawls]
                assert all(c.progress.repositories_failed == 256 for c in reply.crawls)
                pages += 1
                token = reply.next_page_token
                if not token:
                    break
            assert seen == ids[::-1] and pages >= 2  # newest first, nothing lost or repeated
            one = await stub.ListCrawls(pb.ListCrawlsRequest(page_size=1))
            assert [c.crawl_id for c in one.crawls] == [ids[-1]] and one.next_page_token
    finally:
        await running.stop(0)
