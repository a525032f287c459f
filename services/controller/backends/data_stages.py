"""Crawl and filter stages, on every backend: the CrawlerService and the FilterService run them on Ray.

Each attempt is one run of the service named by the attempt's run id (``<job>-crawl-<attempt>``),
started with that id (idempotent: a restarted controller asks for the same run and adopts it, running
or done) and followed with the Watch RPC. Outputs are the datasets ``<job>-crawl`` and ``<job>-filter``.
When the job ends, the runs of attempts whose outputs were not kept are cancelled, which removes what
they staged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import grpc
import yaml

from octopack.common.client import aio_channel, auth_metadata, error_from_rpc
from octopack.common.errors import FailedPrecondition, NotFound, combined
from octopack.jobs.v1 import jobs_pb2
from octopack.services.controller.backends.base import StageContext, attempt_run_ids

log = logging.getLogger(__name__)
K = jobs_pb2.StageKind
StoreFactory = Callable[[], Any]


def _version(output: str) -> str:
    return output.split("@", 1)[1] if "@" in output else ""


def _need(address: str, what: str, setting: str) -> str:
    if not address:
        raise FailedPrecondition(
            f"{what} stages run in the {what} service: set OCTOPACK_CONTROLLER_{setting} to its host:port "
            "('octopack up' starts it; the chart sets it)"
        )
    return address


class CrawlStage:
    """StartCrawl with the attempt's run id, then WatchCrawl until the crawl ends."""

    def __init__(self, address: str, store_factory: StoreFactory, token: str | None = None) -> None:
        self.address = address
        self.store_factory = store_factory
        self.token = token

    async def run(self, ctx: StageContext) -> jobs_pb2.StageOutputs:
        from octopack.crawler.v1 import crawler_pb2 as pb
        from octopack.crawler.v1 import crawler_pb2_grpc

        address = _need(self.address, "crawler", "CRAWLER_ADDRESS")
        c = ctx.spec.crawl
        name = ctx.output_name()
        spec = pb.CrawlSpec(
            repositories=list(c.repositories), dataset=name, branch=c.branch, max_commits=c.max_commits,
            licenses=list(c.licenses), languages=list(c.languages), repositories_file=c.repositories_file,
            repositories_dataset=c.repositories_dataset, profile=c.profile,
        )

        async def follow(channel: grpc.aio.Channel, metadata: Metadata) -> Any:
            stub = crawler_pb2_grpc.CrawlerServiceStub(channel)
            request = pb.StartCrawlRequest(spec=spec, run_id=ctx.run_id)
            crawl = (await stub.StartCrawl(request, metadata=metadata)).crawl
            ctx.report(0.02, f"crawl {crawl.crawl_id} on Ray")
            async for update in stub.WatchCrawl(pb.WatchCrawlRequest(crawl_id=crawl.crawl_id), metadata=metadata):
                crawl = update.crawl
                p = crawl.progress
                ctx.report(0.9 * (p.repositories_done + p.repositories_failed) / max(1, p.repositories_total),
                           f"{p.phase}: {p.repositories_done}/{p.repositories_total} repositories "
                           f"({p.repositories_failed} failed), {p.commits_seen} commits "
                           f"({p.commits_per_second:.0f}/s), {p.samples_emitted} samples")
            return crawl

        crawl = await _call(address, self.token, follow, "crawler")
        if crawl.state != pb.CRAWL_STATE_SUCCEEDED:
            raise RuntimeError(f"crawl {crawl.crawl_id} ended {pb.CrawlState.Name(crawl.state)}: {crawl.error}")
        p = crawl.progress
        if p.repositories_failed and not p.repositories_done:
            # Nothing was crawled: drop the empty version so that the output of a later attempt is the only one.
            store = await asyncio.to_thread(self.store_factory)
            # Idempotent: a restart that interrupted the deletion resumes this attempt and finishes it.
            await asyncio.to_thread(store.delete_version, name, _version(crawl.output), True)
            # Permanent when every repository failed permanently (a retry cannot help), else transient.
            # The codes of every failure (the errors list keeps only the first messages).
            codes = list(p.failures_by_code) or [e.code for e in crawl.errors]
            raise combined("every repository failed: " + "; ".join(f"{e.repository}: {e.message}" for e in crawl.errors),
                           codes)
        details = {"commits_seen": str(p.commits_seen), "repositories_failed": str(p.repositories_failed),
                   "crawl_id": crawl.crawl_id, **{f"skipped.{k}": str(v) for k, v in sorted(p.skipped.items())}}
        return jobs_pb2.StageOutputs(
            datasets=[jobs_pb2.DatasetRef(name=name, version=_version(crawl.output), samples=p.samples_written)],
            details=details,
        )

    async def forget(self, job: jobs_pb2.Job) -> None:
        """Cancel the crawls of attempts whose outputs the job does not keep (removes what they staged)."""
        from octopack.crawler.v1 import crawler_pb2 as pb
        from octopack.crawler.v1 import crawler_pb2_grpc

        def cancel(channel: grpc.aio.Channel) -> Callable[[str], Any]:
            stub = crawler_pb2_grpc.CrawlerServiceStub(channel)
            return lambda rid: stub.CancelCrawl(pb.CancelCrawlRequest(crawl_id=rid), metadata=auth_metadata(self.token))

        await _cancel_unkept(job, K.STAGE_KIND_CRAWL, self.address, cancel)


class FilterStage:
    """StartFilter with the attempt's run id, then WatchFilter until the run ends."""

    def __init__(self, address: str, token: str | None = None) -> None:
        self.address = address
        self.token = token

    async def run(self, ctx: StageContext) -> jobs_pb2.StageOutputs:
        from octopack.filter.v1 import filter_pb2 as pb
        from octopack.filter.v1 import filter_pb2_grpc

        address = _need(self.address, "filter", "FILTER_ADDRESS")
        source = ctx.inputs.get("dataset", "")
        if not source:
            raise FailedPrecondition("filter: no input dataset (spec.filter.input_dataset or a crawl stage)")
        name = ctx.output_name()
        spec = pb.FilterSpec(source=source, out=name, tokenizer=ctx.spec.filter.tokenizer,
                             config_yaml=merged_config(ctx.spec.filter))
        async def follow(channel: grpc.aio.Channel, metadata: Metadata) -> Any:
            stub = filter_pb2_grpc.FilterServiceStub(channel)
            run = (await stub.StartFilter(pb.StartFilterRequest(spec=spec, run_id=ctx.run_id), metadata=metadata)).run
            ctx.report(0.02, f"filter run {run.run_id} of {run.input} on Ray")
            async for update in stub.WatchFilter(pb.WatchFilterRequest(run_id=run.run_id), metadata=metadata):
                run = update.run
                ctx.report(run.rows_done / max(1, run.rows_total), f"{run.rows_done}/{run.rows_total} samples")
            return run

        run = await _call(address, self.token, follow, "filter")
        if run.state != pb.FILTER_STATE_SUCCEEDED:
            raise RuntimeError(f"filter run {run.run_id} ended {pb.FilterState.Name(run.state)}: {run.error}")
        details = {"rows_in": str(run.stats.rows_in), "rows_out": str(run.stats.rows_out), "run_id": run.run_id}
        for rule in run.stats.rules:
            details[f"dropped.{rule.number:02d}.{rule.name}"] = str(rule.dropped)
        return jobs_pb2.StageOutputs(
            datasets=[jobs_pb2.DatasetRef(name=name, version=_version(run.output), samples=run.stats.rows_out)],
            details=details,
        )

    async def forget(self, job: jobs_pb2.Job) -> None:
        """Cancel the filter runs of attempts whose outputs the job does not keep."""
        from octopack.filter.v1 import filter_pb2 as pb
        from octopack.filter.v1 import filter_pb2_grpc

        def cancel(channel: grpc.aio.Channel) -> Callable[[str], Any]:
            stub = filter_pb2_grpc.FilterServiceStub(channel)
            return lambda rid: stub.CancelFilter(pb.CancelFilterRequest(run_id=rid), metadata=auth_metadata(self.token))

        await _cancel_unkept(job, K.STAGE_KIND_FILTER, self.address, cancel)


Metadata = tuple[tuple[str, str], ...]
#: How often a stage reconnects to a service that went away (a restart) before the attempt fails.
RECONNECTS = 30


async def _call(address: str, token: str | None, follow: Callable[[grpc.aio.Channel, Metadata], Any], what: str) -> Any:
    """``follow`` (start the run by its run id, then watch it) against the service at ``address``.

    Starting is idempotent by run id, so after the service restarted (the call is ``UNAVAILABLE``) the
    same attempt starts again and adopts its run, instead of failing the attempt.
    """
    for tries in range(RECONNECTS + 1):
        try:
            async with aio_channel(address) as channel:
                return await follow(channel, auth_metadata(token))
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.UNAVAILABLE and tries < RECONNECTS and not await _serving(address):
                log.warning("%s at %s unavailable (%s); reconnecting", what, address, exc.details())
                await asyncio.sleep(2.0)
                continue
            raise error_from_rpc(exc, f"{what} at {address}") from exc
    raise AssertionError("unreachable")


async def _serving(address: str) -> bool:
    """Whether the service answers its health check: then an ``UNAVAILABLE`` was its answer about the work
    (a repository that does not resolve yet), for the stage's retry policy, not a restart to wait out."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    try:
        async with aio_channel(address) as channel:
            reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    except grpc.aio.AioRpcError:
        return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


async def _cancel_unkept(
    job: jobs_pb2.Job, kind: int, address: str, cancel_with: Callable[[grpc.aio.Channel], Callable[[str], Any]]
) -> None:
    """Cancel the service's runs of the ``kind`` attempts whose outputs the job does not keep."""
    runs = [rid for rid, kept in attempt_run_ids(job, kind) if not kept]
    if not runs or not address:
        return
    async with aio_channel(address) as channel:
        cancel = cancel_with(channel)
        for rid in runs:
            await _cancel_one(rid, cancel)


async def _cancel_one(rid: str, cancel: Callable[[str], Any]) -> None:
    try:
        await cancel(rid)
    except grpc.aio.AioRpcError as exc:
        err = error_from_rpc(exc, "cancel")
        if not isinstance(err, NotFound):  # never started: nothing to remove
            log.warning("cancelling run %s failed: %s", rid, err.message)


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
