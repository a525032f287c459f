"""Where a crawl's two phases run: Ray (tasks, then Ray Data) in a Ray job, or a local pool for one machine.

Both phases talk to S3 only: phase 1 runs :func:`~.task.crawl_task` per repository, phase 2 de-duplicates
each partition of commit shas (:mod:`.dedupe`) and writes the version's shards. The caller sees small
dicts (counters, shard records), never rows.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import (
    FIRST_COMPLETED,
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from octopack.common.errors import FailedPrecondition
from octopack.datasets.staging import StagingArea
from octopack.services.crawler import dedupe
from octopack.services.crawler.sources import Source
from octopack.services.crawler.task import REPOS, crawl_task

log = logging.getLogger(__name__)
Done = Callable[[dict[str, Any]], None]
Cancelled = Callable[[], bool]


class Runner(Protocol):
    """Runs the phases of one crawl."""

    def crawl(
        self, sources: Iterable[Source], options_json: str, area: StagingArea, on_done: Done, cancelled: Cancelled
    ) -> None:
        """Phase 1: every repository through :func:`crawl_task`, ``on_done`` with each result."""
        ...

    def dedupe(self, area: StagingArea, parts: int) -> list[dict[str, Any]]:
        """Phase 2: the shard records of every partition (:func:`dedupe.write_partition`)."""
        ...


def _bounded(
    submit: Callable[[Source], Any], sources: Iterable[Source], window: int, wait_some: Callable[[list[Any]], tuple[list[Any], list[Any]]],
    result_of: Callable[[Any, Source], dict[str, Any]], on_done: Done, cancelled: Cancelled,
) -> list[Any]:
    """Keep at most ``window`` repositories in flight, reading the list lazily; return what is left when cancelled."""
    pending: dict[Any, Source] = {}
    todo: Iterator[Source] = iter(sources)
    exhausted = False
    while True:
        while not exhausted and len(pending) < window and not cancelled():
            source = next(todo, None)
            if source is None:
                exhausted = True
                break
            pending[submit(source)] = source
        if not pending:
            return []
        done, _ = wait_some(list(pending))
        for handle in done:
            on_done(result_of(handle, pending.pop(handle)))
        if cancelled():
            return list(pending)


class LocalRunner:
    """Phase 1 in a pool of ``workers`` processes (one: a thread), phase 2 one partition after the other."""

    def __init__(self, workers: int = 2, cache_dir: str = "", poll_s: float = 0.5) -> None:
        self.workers = max(1, workers)
        self.cache_dir = cache_dir
        self.poll_s = poll_s

    def crawl(
        self, sources: Iterable[Source], options_json: str, area: StagingArea, on_done: Done, cancelled: Cancelled
    ) -> None:
        pool: Executor
        if self.workers == 1:
            # Nothing to parallelise: a thread spares the process start (git does the heavy work anyway).
            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crawl")
        else:
            # forkserver: workers never fork a process that runs gRPC threads.
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["octopack.services.crawler.task"])
            pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context)

        def wait_some(handles: list[Future[dict[str, Any]]]) -> tuple[list[Any], list[Any]]:
            done, rest = wait(handles, timeout=self.poll_s, return_when=FIRST_COMPLETED)
            return list(done), list(rest)

        with pool:
            left = _bounded(
                lambda s: pool.submit(crawl_task, s, options_json, area, self.cache_dir), sources,
                2 * self.workers, wait_some, lambda fut, _s: fut.result(), on_done, cancelled,
            )
            for fut in left:
                fut.cancel()

    def dedupe(self, area: StagingArea, parts: int) -> list[dict[str, Any]]:
        return dedupe_here(area, parts)


def dedupe_here(area: StagingArea, parts: int) -> list[dict[str, Any]]:
    """Phase 2 in this process: each partition read from every intermediate object in turn."""
    keys = sorted(o.key for o in area.store.objects.list(area.key(REPOS)) if o.key.endswith(".parquet"))
    fs = area.s3.pyarrow_filesystem()
    records: list[dict[str, Any]] = []
    for part in range(parts):
        pieces = []
        for key in keys:
            with fs.open_input_file(f"{area.s3.bucket}/{key}") as f:
                for batch in pq.ParquetFile(f).iter_batches(4096):
                    table = pa.Table.from_batches([batch])
                    if parts > 1:
                        table = table.filter(pc.equal(dedupe.partition_of(table, parts), part))
                    if table.num_rows:
                        pieces.append(table)
        table = pa.concat_tables(pieces) if pieces else _empty()
        records += dedupe.write_partition(table, part, area)
    return records


def _empty() -> pa.Table:
    from octopack.services.crawler.samples import INTERMEDIATE_SCHEMA

    return INTERMEDIATE_SCHEMA.empty_table()


def _ray() -> Any:
    try:
        # Untyped on purpose: Ray's stubs do not describe these calls precisely.
        return importlib.import_module("ray")
    except ImportError as exc:
        raise FailedPrecondition("crawling on Ray needs Ray: pip install 'octopack[train]'") from exc


class RayRunner:
    """Phase 1 as one Ray task per repository (retried when its worker dies), phase 2 with Ray Data.

    Runs in a Ray job's driver (``ray.init()`` joins the job's cluster); ``address`` joins another one.
    """

    def __init__(self, address: str = "", max_retries: int = 3, window: int = 0, poll_s: float = 0.5) -> None:
        self.address = address
        self.max_retries = max_retries
        self.window = window
        self.poll_s = poll_s

    def _init(self) -> Any:
        ray = _ray()
        if self.address:
            from octopack.ray_jobs.cluster import join_cluster

            join_cluster(self.address)  # refuses an address other than the cluster this process already joined
        elif not ray.is_initialized():
            ray.init(ignore_reinit_error=True, log_to_driver=False)
        return ray

    def crawl(
        self, sources: Iterable[Source], options_json: str, area: StagingArea, on_done: Done, cancelled: Cancelled
    ) -> None:
        ray = self._init()
        # A worker killed mid-task (node lost, OOM) is retried: the task rewrites the same keys.
        remote = ray.remote(num_cpus=1, max_retries=self.max_retries)(crawl_task)
        # Enough repositories waiting that an autoscaler (KubeRay's) sees the demand and adds workers;
        # each waiting one costs a few hundred bytes here, so memory stays flat however long the list is.
        window = self.window or max(256, 4 * int(ray.cluster_resources().get("CPU", 1)))

        def wait_some(refs: list[Any]) -> tuple[list[Any], list[Any]]:
            ready, rest = ray.wait(refs, num_returns=1, timeout=self.poll_s)
            return list(ready), list(rest)

        def result_of(ref: Any, source: Source) -> dict[str, Any]:
            try:
                return dict(ray.get(ref))
            except Exception as exc:  # out of retries: record it like any repository error
                return {"source": source.url, "error": f"ray task failed: {exc}"}

        left = _bounded(lambda s: remote.remote(s, options_json, area), sources, window, wait_some, result_of,
                        on_done, cancelled)
        for ref in left:
            ray.cancel(ref)

    def dedupe(self, area: StagingArea, parts: int) -> list[dict[str, Any]]:
        ray = self._init()
        if parts == 1:
            # One partition holds everything: one task, no shuffle (Ray Data's start-up costs more here).
            return list(ray.get(ray.remote(num_cpus=1, max_retries=self.max_retries)(dedupe_here).remote(area, 1)))
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        ds = ray.data.read_parquet(
            area.uri(REPOS), filesystem=area.s3.pyarrow_filesystem(), file_extensions=["parquet"],
        )
        grouped = ds.map_batches(dedupe.with_partition, fn_kwargs={"parts": parts}, batch_format="pyarrow")
        out = grouped.groupby(dedupe.PART).map_groups(_write_group, fn_kwargs={"area": area}, batch_format="pyarrow")
        return [dict(row) for row in out.take_all()]


def _write_group(group: pa.Table, area: StagingArea) -> pa.Table:
    """Ray Data ``map_groups`` function: one whole partition in, its shard records out."""
    part = int(group.column(dedupe.PART)[0].as_py())
    return pa.Table.from_pylist(dedupe.write_partition(group, part, area))
