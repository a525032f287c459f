"""The crawl at scale on Ray: commits/s with 1 and 2 workers, peak memory of the driver and of a worker as the
repository count grows, a worker killed mid-crawl, and the rows of a crawl in one process.

Usage: python benchmarks/crawl_scale.py [--small 100 1000] [--workers 1 2] [--commits 40] [--out FILE.json]

The repositories are the two real histories of ../shared/data/repos (psf/requests, pallets/click; bare
clones of the bundles) plus N generated small repositories (benchmarks/make_repo.py, generation not
timed), listed in a repositories file in S3. Each crawl goes through the crawler's own code path: a run of
the crawler service (CrawlRuns) that submits the crawl driver as a Ray job to a local Ray head started
with W CPUs (W Ray workers crawl at once), on a real local S3 server. Memory is sampled every 0.2 s from
/proc: the driver (the Ray job's process) and each Ray worker process with its git children. "killed": the
largest crawl again with one Ray worker SIGKILLed while it crawls; its rows must equal the undisturbed
crawl's. "one process": the same list crawled with octopack's in-process runner (one worker, no Ray).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
SHARED = ROOT.parent / "shared" / "data" / "repos"
MiB = 1 << 20


class Sampler:
    """Peak RSS of the crawl driver and of the busiest Ray worker (with its git children) under a Ray head."""

    def __init__(self, head_pid: int, interval: float = 0.2) -> None:
        self.head_pid = head_pid
        self.interval = interval
        self.driver = 0
        self.worker = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _tree_rss(proc: Any) -> int:
        import psutil

        total = 0
        for p in [proc, *proc.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
        return total

    def _run(self) -> None:
        import psutil

        head = psutil.Process(self.head_pid)
        while not self._stop.wait(self.interval):
            with contextlib.suppress(psutil.Error):
                for proc in head.children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        cmd = " ".join(proc.cmdline())
                        if "octopack.services.crawler.driver" in cmd and not cmd.startswith("/bin/sh"):
                            self.driver = max(self.driver, proc.memory_info().rss)
                        elif cmd.startswith("ray::") and not cmd.startswith(("ray::JobSupervisor", "ray::_")):
                            self.worker = max(self.worker, self._tree_rss(proc))

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


def kill_one_worker(head_pid: int, after: float, done: threading.Event) -> dict[str, Any]:
    """SIGKILL one Ray worker process while it runs a crawl task (``ray::crawl_task``), ``after`` s in."""
    import psutil

    report: dict[str, Any] = {}

    def run() -> None:
        time.sleep(after)
        while not done.is_set():
            for proc in psutil.Process(head_pid).children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    if proc.cmdline() and proc.cmdline()[0].startswith("ray::crawl_task"):
                        os.kill(proc.pid, signal.SIGKILL)
                        report.update(pid=proc.pid, at=round(time.monotonic(), 1))
                        return
            time.sleep(0.05)

    threading.Thread(target=run, daemon=True).start()
    return report


def prepare(tmp: Path, small: int, commits: int) -> list[str]:
    """The two real histories (bare clones of the bundles) and ``small`` generated repositories."""
    from make_repo import generate

    repos = []
    for name in ("requests", "click"):
        bundle = SHARED / f"{name}.bundle"
        if not bundle.is_file():
            raise SystemExit(f"{bundle} is absent: the real histories live beside the repository in ../shared")
        target = tmp / f"{name}.git"
        if not target.exists():
            subprocess.run(["git", "clone", "-q", "--bare", str(bundle), str(target)], check=True)
        repos.append(str(target))
    for i in range(small):
        path = tmp / "small" / f"r{i:05d}"
        if not path.exists():
            generate(path, commits=commits, files=6, seed=i)
        repos.append(str(path))
    return repos


def crawl_on_ray(
    head: Any, s3: Any, listing: str, dataset: str, run_id: str, kill_after: float | None = None
) -> dict[str, Any]:
    """One crawl as the crawler service runs it (its Ray job on ``head``); counters, seconds, peaks."""
    from octopack.datasets.store import DatasetStore
    from octopack.services.crawler.crawl import CrawlRequest
    from octopack.services.crawler.options import CrawlOptions
    from octopack.services.crawler.runs import CrawlRuns
    from octopack.services.crawler.settings import CrawlerSettings

    store = DatasetStore.from_settings(s3)
    runs = CrawlRuns(CrawlerSettings(ray_address=head.dashboard, poll_seconds=0.3), store)
    request = CrawlRequest([], dataset, CrawlOptions(licenses=()), repositories_file=listing).validate()
    done = threading.Event()
    started = time.perf_counter()
    with Sampler(head.pid) as sampler:
        killed = kill_one_worker(head.pid, kill_after, done) if kill_after is not None else {}
        job = runs.begin(request, run_id)
        while not job.finished:
            time.sleep(0.2)
        done.set()
    seconds = time.perf_counter() - started
    runs.close()
    if job.state != "succeeded":
        raise SystemExit(f"crawl {run_id} ended {job.state}: {job.error}")
    p = job.work.counters
    return {
        "repositories": p.repositories_done, "failed": p.repositories_failed, "commits": p.commits_seen,
        "samples": p.samples_written, "seconds": seconds, "driver_seconds": p.seconds,
        "commits_per_s": p.commits_seen / seconds, "driver_mib": sampler.driver / MiB,
        "worker_mib": sampler.worker / MiB, "output": job.work.outcome(), "killed": killed,
        "launches": job.work.launches,
    }


def crawl_in_process(s3: Any, repos: list[str], dataset: str) -> dict[str, Any]:
    """The same list with the in-process runner, one worker, no Ray (the single-process reference)."""
    from octopack.datasets.store import DatasetStore
    from octopack.services.crawler.crawl import Crawl, CrawlRequest
    from octopack.services.crawler.options import CrawlOptions
    from octopack.services.crawler.runner import LocalRunner

    store = DatasetStore.from_settings(s3)
    request = CrawlRequest(repos, dataset, CrawlOptions(licenses=())).validate()
    crawl = Crawl(request, store.stage(dataset, "one-process"), LocalRunner(1))
    started = time.perf_counter()
    progress = crawl.run()
    seconds = time.perf_counter() - started
    return {"repositories": progress.repositories_done, "commits": progress.commits_seen,
            "samples": progress.samples_written, "seconds": seconds, "commits_per_s": progress.commits_seen / seconds,
            "output": f"{dataset}@{progress.version}"}


def rows(s3: Any, ref: str) -> list[dict[str, Any]]:
    from octopack.datasets.store import DatasetStore

    name, version = ref.split("@")
    return DatasetStore.from_settings(s3).read_table(name, version).to_pylist()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, nargs="+", default=[100, 1000], help="generated repositories per crawl")
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 1],
                        help="Ray workers (CPUs of the head); the killed-worker crawl runs with the first")
    parser.add_argument("--commits", type=int, default=40, help="commits of each generated repository")
    parser.add_argument("--work", type=Path, default=None, help="keep the prepared repositories here (reused)")
    parser.add_argument("--no-kill", action="store_true", help="skip the killed-worker crawl")
    parser.add_argument("--out", type=Path, default=None, help="also write the results as JSON")
    args = parser.parse_args()

    from rich.console import Console

    from octopack.common.objectstore import ObjectStore
    from octopack.common.s3server import LocalS3Server
    from octopack.ray_jobs.cluster import LocalRayHead

    console = Console(width=150)
    results: dict[str, Any] = {"runs": []}
    with tempfile.TemporaryDirectory(prefix="octopack-crawl-scale-") as tmp_name:
        tmp = Path(tmp_name)
        t0 = time.perf_counter()
        repos = prepare(args.work or tmp, max(args.small), args.commits)
        console.print(f"prepared 2 real histories + {max(args.small)} generated repositories in "
                      f"{time.perf_counter() - t0:.0f} s")
        server = LocalS3Server(tmp / "s3").start()
        try:
            s3 = server.settings(bucket="crawlscale")
            objects = ObjectStore(s3)
            objects.ensure_bucket()
            listings = {}
            for n in args.small:
                key = f"lists/repos-{n}.txt"
                text = "# two real histories, then generated repositories\n" + "\n".join(repos[: 2 + n]) + "\n"
                objects.put(key, text.encode())
                listings[n] = key
            for workers in args.workers:
                head = LocalRayHead(num_cpus=workers, temp_dir=Path(f"/tmp/ray-cs{os.getpid()}-{workers}"),
                                    log_path=tmp / f"ray-{workers}.log")
                head.start()
                try:
                    for n in args.small:
                        doc = crawl_on_ray(head, s3, listings[n], f"scale-w{workers}-n{n}", f"w{workers}-n{n}")
                        results["runs"].append({"workers": workers, "small": n, **doc})
                        console.print(f"workers {workers}, {n + 2} repositories: {doc['seconds']:.0f} s, "
                                      f"{doc['commits_per_s']:.0f} commits/s, driver {doc['driver_mib']:.0f} MiB, "
                                      f"worker {doc['worker_mib']:.0f} MiB")
                        save(args.out, results)
                    if not args.no_kill and workers == args.workers[0]:
                        n = max(args.small)
                        doc = crawl_on_ray(head, s3, listings[n], "scale-killed", "killed", kill_after=15.0)
                        same = next(r for r in results["runs"] if r["workers"] == workers and r["small"] == n)
                        doc["same_rows"] = rows(s3, doc["output"]) == rows(s3, same["output"])
                        results["killed"] = {"workers": workers, "small": n, **doc}
                        console.print(f"worker killed mid-crawl: same rows as the undisturbed crawl: {doc['same_rows']}")
                        save(args.out, results)
                finally:
                    head.stop()
            n = max(args.small)
            results["one_process"] = crawl_in_process(s3, repos[: 2 + n], "scale-one")
            reference = rows(s3, results["one_process"]["output"])
            ray_runs = [r for r in results["runs"] if r["small"] == n]
            results["same_rows_as_one_process"] = {
                f"workers {r['workers']}": rows(s3, r["output"]) == reference for r in ray_runs
            }
        finally:
            server.stop()
    render(console, results)
    save(args.out, results)
    return 0


def save(out: Path | None, results: dict[str, Any]) -> None:
    """Write what is measured so far (a long run keeps its finished crawls if it is stopped)."""
    if out:
        out.write_text(json.dumps(results, indent=1, default=str))


def render(console: Any, results: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title="crawl on Ray: the two real histories + N generated repositories (same machine, side by side)")
    for col in ("workers", "repositories", "commits", "samples", "seconds", "commits/s", "vs 1 worker",
                "driver peak MiB", "worker peak MiB"):
        table.add_column(col, justify="right")
    base = {r["small"]: r for r in results["runs"] if r["workers"] == min(x["workers"] for x in results["runs"])}
    for r in results["runs"]:
        ratio = r["commits_per_s"] / base[r["small"]]["commits_per_s"]
        table.add_row(str(r["workers"]), f"{r['repositories']:,}", f"{r['commits']:,}", f"{r['samples']:,}",
                      f"{r['seconds']:.0f}", f"{r['commits_per_s']:.0f}", f"{ratio:.2f}x", f"{r['driver_mib']:.0f}",
                      f"{r['worker_mib']:.0f}")
    one = results["one_process"]
    table.add_row("1 process", f"{one['repositories']:,}", f"{one['commits']:,}", f"{one['samples']:,}",
                  f"{one['seconds']:.0f}", f"{one['commits_per_s']:.0f}", "-", "-", "-")
    console.print(table)
    console.print(f"same rows as the crawl in one process: {results['same_rows_as_one_process']}")
    if "killed" in results:
        k = results["killed"]
        console.print(f"worker killed (pid {k['killed'].get('pid')}) mid-crawl: {k['repositories']:,} repositories, "
                      f"{k['samples']:,} samples, {k['seconds']:.0f} s, driver launches {k['launches']}; "
                      f"same rows as the undisturbed crawl: {k['same_rows']}")


if __name__ == "__main__":
    sys.exit(main())
