"""Run repository crawls in parallel: Ray tasks when given a Ray address, else local processes."""

from __future__ import annotations

import importlib
import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import (
    FIRST_COMPLETED,
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from pathlib import Path
from typing import Any

from octopack.common.errors import FailedPrecondition
from octopack.services.crawler.task import crawl_task

log = logging.getLogger(__name__)
Done = Callable[[dict], None]
Tick = Callable[[], None]


def run_local(
    sources: list[str], options_json: str, cache_dir: Path, checkpoint_dir: Path, workers: int,
    on_done: Done, on_tick: Tick, cancelled: Callable[[], bool], poll_s: float = 0.5,
) -> None:
    """Crawl ``sources`` in a pool of ``workers`` processes (one: a thread), calling ``on_done`` as each finishes."""
    if not sources:
        return
    workers = max(1, min(workers, len(sources)))
    pool: Executor
    if workers == 1:
        # Nothing to parallelise: a thread spares the process start (git does the heavy work anyway).
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crawl")
    else:
        # forkserver: workers never fork a process that runs gRPC threads (the service's server).
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["octopack.services.crawler.task"])
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    with pool:
        pending: set[Future] = {
            pool.submit(crawl_task, s, options_json, str(cache_dir), str(checkpoint_dir)) for s in sources
        }
        while pending:
            done, pending = wait(pending, timeout=poll_s, return_when=FIRST_COMPLETED)
            for fut in done:
                on_done(fut.result())
            on_tick()
            if cancelled():
                for fut in pending:
                    fut.cancel()
                break


def run_ray(
    sources: list[str], options_json: str, cache_dir: Path, checkpoint_dir: Path, address: str,
    on_done: Done, on_tick: Tick, cancelled: Callable[[], bool], poll_s: float = 0.5,
) -> None:
    """Crawl each repository as one Ray task on the cluster at ``address``.

    The cache and checkpoint folders must be reachable from the workers (one
    machine, or a shared volume in a cluster).
    """
    try:
        # Untyped on purpose: Ray's stubs do not describe Arrow batch functions with keyword arguments.
        ray: Any = importlib.import_module("ray")
    except ImportError as exc:
        raise FailedPrecondition("ray_address needs Ray: pip install 'octopack[train]'") from exc
    from octopack.ray_jobs.cluster import join_cluster

    join_cluster(address)  # refuses an address other than the cluster this process already joined
    remote = ray.remote(num_cpus=1, max_retries=1)(crawl_task)
    refs = {remote.remote(s, options_json, str(cache_dir), str(checkpoint_dir)): s for s in sources}
    pending = list(refs)
    while pending:
        ready, pending = ray.wait(pending, num_returns=1, timeout=poll_s)
        for ref in ready:
            try:
                on_done(ray.get(ref))
            except Exception as exc:  # a dead worker: record it like any repository error
                on_done({"source": refs[ref], "error": f"ray task failed: {exc}"})
        on_tick()
        if cancelled():
            for ref in pending:
                ray.cancel(ref)
            break

