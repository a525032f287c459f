"""The crawler's network policy through a real CrawlerService: internal hosts are never contacted, an
unresponsive git server is cut off by the stall watchdog, and CancelCrawl kills a hanging clone."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import grpc
import pytest

from octopack.common.server import start_server
from octopack.crawler.v1 import crawler_pb2 as pb
from octopack.crawler.v1 import crawler_pb2_grpc
from octopack.datasets.store import DatasetStore
from octopack.services.crawler.crawl import Crawl, CrawlRequest
from octopack.services.crawler.options import CrawlOptions
from octopack.services.crawler.policy import NetworkPolicy
from octopack.services.crawler.runner import LocalRunner
from octopack.services.crawler.server import crawler_service
from octopack.services.crawler.settings import CrawlerSettings
from tests.integration.crawler.listener import Listener, listener

pytestmark = pytest.mark.integration


async def _crawler(ray_head: Any, s3_settings: Any, **git: Any) -> Any:
    settings = CrawlerSettings(host="127.0.0.1", port=0, ray_address=ray_head.dashboard, poll_seconds=0.3, **git)
    return await start_server(settings, [crawler_service(settings, s3_settings)])


async def test_internal_addresses_are_refused_before_any_connection(ray_head: Any, s3_settings: Any) -> None:
    running = await _crawler(ray_head, s3_settings)
    try:
        with listener() as http:
            async with grpc.aio.insecure_channel(running.address) as channel:
                stub = crawler_pb2_grpc.CrawlerServiceStub(channel)
                for url in (f"https://127.0.0.1:{http.port}/owner/r.git", f"https://localhost:{http.port}/r.git",
                            f"http://127.0.0.1:{http.port}/r.git", f"git://127.0.0.1:{http.port}/r.git"):
                    spec = pb.CrawlSpec(repositories=[url], dataset="ssrf")
                    with pytest.raises(grpc.aio.AioRpcError) as err:
                        await stub.StartCrawl(pb.StartCrawlRequest(spec=spec))
                    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED, err.value.details()
                    assert url in (err.value.details() or "")
                assert list((await stub.ListCrawls(pb.ListCrawlsRequest())).crawls) == []
            await asyncio.sleep(0.5)
            assert not http.accepted.is_set() and http.received == []
    finally:
        await running.stop(0)


async def _final(stub: crawler_pb2_grpc.CrawlerServiceStub, crawl_id: str) -> pb.Crawl:
    last = None
    async for reply in stub.WatchCrawl(pb.WatchCrawlRequest(crawl_id=crawl_id), timeout=120):
        last = reply.crawl
    assert last is not None
    return last


async def test_an_unresponsive_git_server_is_cut_off_by_the_stall_watchdog(ray_head: Any, s3_settings: Any) -> None:
    # The policy travels with the run to the Ray task that runs git: the stall watchdog acts there.
    running = await _crawler(ray_head, s3_settings, git_schemes=["https", "git"], git_allow_private=True,
                             git_stall_seconds=2)
    try:
        with listener() as daemon:
            async with grpc.aio.insecure_channel(running.address) as channel:
                stub = crawler_pb2_grpc.CrawlerServiceStub(channel)
                url = f"git://127.0.0.1:{daemon.port}/silent.git"
                started = time.monotonic()
                crawl = (await stub.StartCrawl(pb.StartCrawlRequest(spec=pb.CrawlSpec(repositories=[url],
                                                                                       dataset="silent")))).crawl
                final = await _final(stub, crawl.crawl_id)
                took = time.monotonic() - started
            assert daemon.accepted.is_set() and daemon.closed.wait(5)
        assert final.state == pb.CRAWL_STATE_SUCCEEDED and final.progress.repositories_failed == 1
        error = final.errors[0]
        assert "made no progress for 2 s" in error.message and error.code == "DEADLINE_EXCEEDED"
        assert took < 30
    finally:
        await running.stop(0)


async def _connected(daemon: Listener, path: bytes = b"/hang.git") -> None:
    assert await asyncio.to_thread(daemon.accepted.wait, 60), "git never connected"
    for _ in range(200):  # git's request line follows the connection
        if b"git-upload-pack " + path in b"".join(daemon.received):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"git never asked for {path!r}: {daemon.received!r}")


async def test_cancel_kills_a_hanging_clone_in_a_ray_task(ray_head: Any, s3_settings: Any) -> None:
    """CancelCrawl leaves the cancellation marker in the run's staging area before it stops the driver:
    the Ray task's git command (its own process group, which Ray would not kill with the worker) stops."""
    # The stall watchdog (60 s) is longer than the cancel may take (40 s), and bounds how long a clone that
    # the cancel missed would hold the shared head's CPUs for the tests after this one.
    running = await _crawler(ray_head, s3_settings, git_schemes=["https", "git"], git_allow_private=True,
                             git_stall_seconds=60)
    try:
        with listener() as daemon:
            async with grpc.aio.insecure_channel(running.address) as channel:
                stub = crawler_pb2_grpc.CrawlerServiceStub(channel)
                url = f"git://127.0.0.1:{daemon.port}/hang.git"
                # Two repositories: with two workers, the crawl runs in a process pool.
                spec = pb.CrawlSpec(repositories=[url, url.replace("hang", "other")], dataset="hang")
                crawl = (await stub.StartCrawl(pb.StartCrawlRequest(spec=spec))).crawl
                await _connected(daemon)
                cancelled_at = time.monotonic()
                await stub.CancelCrawl(pb.CancelCrawlRequest(crawl_id=crawl.crawl_id))
                final = await _final(stub, crawl.crawl_id)
                took = time.monotonic() - cancelled_at
            # git hung up: its process group was killed, not left waiting for the server.
            assert await asyncio.to_thread(daemon.closed.wait, 5)
        assert final.state == pb.CRAWL_STATE_CANCELLED
        # The marker's grace, the driver's stop and the second sweep of the staging area (5 s) included.
        assert took < 40, f"cancel took {took:.1f} s"
    finally:
        await running.stop(0)


@pytest.mark.parametrize("workers", [1, 2], ids=["thread", "processes"])
async def test_cancel_kills_a_hanging_clone_in_process(tmp_path: Path, s3_settings: Any, workers: int) -> None:
    """``octopack crawl`` without Ray: the crawl's cancel event leaves the same marker, which the pool's
    workers (a thread, or processes) watch."""
    store = DatasetStore.from_settings(s3_settings)
    policy = NetworkPolicy(schemes=("https", "git"), allow_private=True, stall_seconds=600)
    with listener() as daemon:
        url = f"git://127.0.0.1:{daemon.port}/hang.git"
        request = CrawlRequest([url, url.replace("hang", "other")], "hanglocal", CrawlOptions(network=policy))
        request.validate()
        area = store.stage("hanglocal", request.default_run_id())
        crawl = Crawl(request, area, LocalRunner(workers, cache_dir=str(tmp_path / "cache")))
        task = asyncio.create_task(asyncio.to_thread(crawl.run))
        await _connected(daemon)
        crawl.cancel_event.set()
        await asyncio.wait_for(task, 60)
        assert await asyncio.to_thread(daemon.closed.wait, 10)  # git hung up: its process group was killed
    area.abort()
