"""Crawl and filter through the stack's CrawlerService and FilterService (gRPC), when their
addresses are configured. Same idempotency as the in-process runners: an existing committed
version of ``<job id>-<stage>`` is returned instead of starting again.
"""

from __future__ import annotations

import asyncio
from typing import Any

import yaml

from octopack.common.client import aio_channel
from octopack.common.errors import FailedPrecondition
from octopack.jobs.v1 import jobs_pb2
from octopack.services.controller.backends.base import StageContext
from octopack.services.controller.backends.local_data import existing_version


def _ref(name: str, output: str) -> tuple[str, str]:
    return name, output.split("@", 1)[1] if "@" in output else ""


class RemoteCrawlRunner:
    """StartCrawl, then WatchCrawl until it ends; CancelCrawl when the stage is cancelled."""

    def __init__(self, address: str, store_factory: Any, ray_address: str = "") -> None:
        self.address = address
        self.store_factory = store_factory
        self.ray_address = ray_address

    async def run(self, ctx: StageContext) -> jobs_pb2.StageOutputs:
        from octopack.crawler.v1 import crawler_pb2, crawler_pb2_grpc

        name = ctx.output_name()
        store = await asyncio.to_thread(self.store_factory)
        done = await asyncio.to_thread(existing_version, store, name)
        if done is not None:
            return done
        c = ctx.spec.crawl
        spec = crawler_pb2.CrawlSpec(
            repositories=list(c.repositories), dataset=name, branch=c.branch, max_commits=c.max_commits,
            licenses=list(c.licenses), languages=list(c.languages), ray_address=self.ray_address,
            profile=c.profile,
        )
        async with aio_channel(self.address) as channel:
            stub = crawler_pb2_grpc.CrawlerServiceStub(channel)
            crawl = (await stub.StartCrawl(crawler_pb2.StartCrawlRequest(spec=spec))).crawl
            try:
                async for update in stub.WatchCrawl(crawler_pb2.WatchCrawlRequest(crawl_id=crawl.crawl_id)):
                    crawl = update.crawl
                    p = crawl.progress
                    ctx.report(0.9 * p.repositories_done / max(1, p.repositories_total),
                               f"{p.repositories_done}/{p.repositories_total} repositories, "
                               f"{p.commits_seen} commits, {p.samples_emitted} samples")
            except asyncio.CancelledError:
                await stub.CancelCrawl(crawler_pb2.CancelCrawlRequest(crawl_id=crawl.crawl_id))
                raise
        if crawl.state != crawler_pb2.CRAWL_STATE_SUCCEEDED:
            raise RuntimeError(f"crawl {crawl.crawl_id} ended {crawler_pb2.CrawlState.Name(crawl.state)}: {crawl.error}")
        p = crawl.progress
        if p.repositories_failed and not p.repositories_done:
            if crawl.output:
                await asyncio.to_thread(store.delete_version, *_ref(name, crawl.output))
            raise RuntimeError("every repository failed: " + "; ".join(f"{e.repository}: {e.message}" for e in crawl.errors))
        _, version = _ref(name, crawl.output)
        details = {"commits_seen": str(p.commits_seen), "repositories_failed": str(p.repositories_failed),
                   "crawl_id": crawl.crawl_id, **{f"skipped.{k}": str(v) for k, v in sorted(p.skipped.items())}}
        return jobs_pb2.StageOutputs(
            datasets=[jobs_pb2.DatasetRef(name=name, version=version, samples=p.samples_written)], details=details
        )


class RemoteFilterRunner:
    """StartFilter, then WatchFilter until it ends."""

    def __init__(self, address: str, store_factory: Any, ray_address: str = "") -> None:
        self.address = address
        self.store_factory = store_factory
        self.ray_address = ray_address

    async def run(self, ctx: StageContext) -> jobs_pb2.StageOutputs:
        from octopack.filter.v1 import filter_pb2, filter_pb2_grpc

        name = ctx.output_name()
        store = await asyncio.to_thread(self.store_factory)
        done = await asyncio.to_thread(existing_version, store, name)
        if done is not None:
            return done
        source = ctx.inputs.get("dataset", "")
        if not source:
            raise FailedPrecondition("filter: no input dataset (spec.filter.input_dataset or a crawl stage)")
        spec = filter_pb2.FilterSpec(
            source=source, out=name, tokenizer=ctx.spec.filter.tokenizer,
            config_yaml=merged_config(ctx.spec.filter), ray_address=self.ray_address,
        )
        async with aio_channel(self.address) as channel:
            stub = filter_pb2_grpc.FilterServiceStub(channel)
            run = (await stub.StartFilter(filter_pb2.StartFilterRequest(spec=spec))).run
            async for update in stub.WatchFilter(filter_pb2.WatchFilterRequest(run_id=run.run_id)):
                run = update.run
                ctx.report(run.rows_done / max(1, run.rows_total), f"{run.rows_done}/{run.rows_total} samples")
        if run.state != filter_pb2.FILTER_STATE_SUCCEEDED:
            raise RuntimeError(f"filter run {run.run_id} ended {filter_pb2.FilterState.Name(run.state)}: {run.error}")
        _, version = _ref(name, run.output)
        details = {"rows_in": str(run.stats.rows_in), "rows_out": str(run.stats.rows_out), "run_id": run.run_id}
        for rule in run.stats.rules:
            details[f"dropped.{rule.number:02d}.{rule.name}"] = str(rule.dropped)
        return jobs_pb2.StageOutputs(
            datasets=[jobs_pb2.DatasetRef(name=name, version=version, samples=run.stats.rows_out)], details=details
        )


def merged_config(cfg: jobs_pb2.FilterConfig) -> str:
    """The spec's filter YAML with its token bounds applied."""
    doc = yaml.safe_load(cfg.config_yaml) if cfg.config_yaml.strip() else {}
    doc = doc if isinstance(doc, dict) else {}
    if cfg.min_tokens or cfg.max_tokens:
        tl = doc.setdefault("token_length", {})
        if cfg.min_tokens:
            tl["min_tokens"] = cfg.min_tokens
        if cfg.max_tokens:
            tl["max_tokens"] = cfg.max_tokens
    return yaml.safe_dump(doc) if doc else ""
