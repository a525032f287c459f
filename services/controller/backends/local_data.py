"""Crawl and filter stages on this machine, writing datasets to the dataset store.

Both are idempotent by job id: the output dataset is named ``<job id>-<stage>``, and when it
already has a committed version (an earlier attempt committed it, then the controller died
before recording it) that version is returned instead of being produced again.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import Any

from octopack.common.errors import FailedPrecondition
from octopack.jobs.v1 import jobs_pb2
from octopack.services.controller.backends.base import StageContext

log = logging.getLogger(__name__)


def existing_version(store: Any, name: str) -> jobs_pb2.StageOutputs | None:
    """The outputs of a committed version of ``name``, if any (newest)."""
    versions = store.list_versions(name)
    if not versions:
        return None
    manifest = store.get_manifest(name, versions[-1])
    return jobs_pb2.StageOutputs(
        datasets=[jobs_pb2.DatasetRef(name=name, version=manifest.version, samples=manifest.num_rows)],
        details={"reused": "true"},
    )


class CrawlRunner:
    """Walks the repositories' histories with the crawler's domain code (processes, or Ray tasks)."""

    def __init__(self, store_factory: Any, work_dir: Path, ray_address: str = "", workers: int = 2) -> None:
        self.store_factory = store_factory
        self.work_dir = work_dir
        self.ray_address = ray_address
        self.workers = workers

    async def run(self, ctx: StageContext) -> jobs_pb2.StageOutputs:
        from octopack.services.crawler.crawl import Crawl, CrawlRequest
        from octopack.services.crawler.options import DEFAULT_LICENSES, CrawlOptions

        store = await asyncio.to_thread(self.store_factory)
        name = ctx.output_name()
        done = await asyncio.to_thread(existing_version, store, name)
        if done is not None:
            return done
        cfg = ctx.spec.crawl
        options = CrawlOptions(
            branch=cfg.branch,
            max_commits=cfg.max_commits,
            languages=tuple(cfg.languages),
            licenses=tuple(cfg.licenses) or DEFAULT_LICENSES,
            profile=cfg.profile or "paper",
        )
        request = CrawlRequest(list(cfg.repositories), name, options, ray_address=self.ray_address)
        crawl = Crawl(request, self.work_dir / ctx.job_id, workers=self.workers)
        stop = threading.Event()
        watcher = asyncio.create_task(_watch_progress(crawl, ctx, stop))
        try:
            progress = await asyncio.to_thread(crawl.run, store)
        except asyncio.CancelledError:
            crawl.cancel_event.set()  # the worker pool stops at its next poll
            raise
        finally:
            stop.set()
            watcher.cancel()
        if progress.repositories_failed and not progress.repositories_done:
            # Nothing was crawled: drop the empty version so a retry crawls again instead of reusing it.
            if progress.version:
                await asyncio.to_thread(store.delete_version, name, progress.version)
            errors = "; ".join(f"{src}: {msg}" for src, msg in progress.errors.items())
            raise RuntimeError(f"every repository failed: {errors}")
        return jobs_pb2.StageOutputs(
            datasets=[jobs_pb2.DatasetRef(name=name, version=progress.version, samples=progress.samples_written)],
            details={
                "commits_seen": str(progress.commits_seen),
                "repositories_failed": str(progress.repositories_failed),
                **{f"skipped.{k}": str(v) for k, v in sorted(progress.skipped.items())},
            },
        )


async def _watch_progress(crawl: Any, ctx: StageContext, stop: threading.Event) -> None:
    while not stop.is_set():
        p = crawl.progress
        total = max(1, p.repositories_total)
        commits, samples, _ = p.totals()
        ctx.report(0.9 * p.repositories_done / total, f"{p.repositories_done}/{total} repositories, "
                   f"{commits} commits, {samples} samples")
        await asyncio.sleep(1.0)


class FilterRunner:
    """Applies the CommitPackFT rules with the filter's domain code; output ``<job id>-filter``."""

    def __init__(self, store_factory: Any, ray_address: str = "") -> None:
        self.store_factory = store_factory
        self.ray_address = ray_address

    async def run(self, ctx: StageContext) -> jobs_pb2.StageOutputs:
        store = await asyncio.to_thread(self.store_factory)
        name = ctx.output_name()
        done = await asyncio.to_thread(existing_version, store, name)
        if done is not None:
            return done
        source = ctx.inputs.get("dataset", "")
        if not source:
            raise FailedPrecondition("filter: no input dataset (spec.filter.input_dataset or a crawl stage)")
        return await asyncio.to_thread(run_filter, store, source, name, ctx)


def run_filter(store: Any, source: str, name: str, ctx: StageContext) -> jobs_pb2.StageOutputs:
    """The filter's domain run (blocking): the CommitPackFT rules from ``source`` into ``name``."""
    from octopack.services.filter.config import parse_config
    from octopack.services.filter.run import FilterRequest, FilterRun

    cfg = ctx.spec.filter
    config = parse_config(cfg.config_yaml, "spec.filter.config_yaml")
    if cfg.tokenizer:
        config.tokenizer = cfg.tokenizer
    if cfg.min_tokens:
        config.token_length.min_tokens = cfg.min_tokens
    if cfg.max_tokens:
        config.token_length.max_tokens = cfg.max_tokens
    run = FilterRun(FilterRequest(source, name, config, description=f"job {ctx.job_id}"), store, run_id=ctx.job_id)
    ctx.report(0.05, f"filtering {run.rows_total} samples of {source}")
    output = run.run()
    stats = run.stats.to_dict()
    kept = int(stats.get("rows_out", 0))
    version = output.split("@", 1)[1] if "@" in output else ""
    details = {"rows_in": str(stats.get("rows_in", 0)), "rows_out": str(kept)}
    for rule in stats.get("rules", []):
        details[f"dropped.{rule['number']:02d}.{rule['name']}"] = str(rule["dropped"])
    return jobs_pb2.StageOutputs(
        datasets=[jobs_pb2.DatasetRef(name=name, version=version, samples=kept)], details=details
    )
