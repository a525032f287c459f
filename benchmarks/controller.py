"""Controller under load: concurrent clients submit, get and watch jobs over gRPC.

Starts a real S3 server (weed mini) and a controller process (S3 job documents, local backend),
makes a tiny Git repository, then runs ``--clients`` asyncio clients, each doing ``--rounds`` of:
SubmitJob (a crawl of the tiny repository) -> GetJob x3 -> ListJobs -> WatchJob until the job ends.
Prints latency percentiles per RPC next to the baseline (the standard health Check RPC on the same
server: the cost of gRPC itself), their ratio, errors, and peak memory.

    .venv/bin/python benchmarks/controller.py [--clients 50] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration" / "controller"))

from controller_procs import ControllerProcess, make_repo  # noqa: E402

from octopack.common.s3server import LocalS3Server  # noqa: E402
from octopack.jobs.v1 import jobs_pb2, jobs_pb2_grpc  # noqa: E402

TERMINAL = {jobs_pb2.STATE_SUCCEEDED, jobs_pb2.STATE_FAILED, jobs_pb2.STATE_CANCELLED}


async def client(n: int, address: str, rounds: int, repo: str, lat: dict[str, list[float]], errors: list[str],
                 finals: list[int]) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = jobs_pb2_grpc.JobServiceStub(channel)
        health = health_pb2_grpc.HealthStub(channel)

        async def timed(name: str, call):  # type: ignore[no-untyped-def]
            start = time.perf_counter()
            try:
                return await call
            except grpc.aio.AioRpcError as exc:
                errors.append(f"{name}: {exc.code().name} {exc.details()}")
                return None
            finally:
                lat[name].append(time.perf_counter() - start)

        for r in range(rounds):
            await timed("Health/Check (baseline)", health.Check(health_pb2.HealthCheckRequest()))
            spec = jobs_pb2.JobSpec(name=f"bench-{n}-{r}", crawl=jobs_pb2.CrawlConfig(repositories=[repo]))
            reply = await timed("SubmitJob", stub.SubmitJob(
                jobs_pb2.SubmitJobRequest(spec=spec, idempotency_key=f"bench-{os.getpid()}-{n}-{r}")))
            if reply is None:
                continue
            for _ in range(3):
                await timed("GetJob", stub.GetJob(jobs_pb2.GetJobRequest(job_id=reply.job.id)))
            await timed("ListJobs", stub.ListJobs(jobs_pb2.ListJobsRequest(page_size=20)))
            start = time.perf_counter()
            first = None
            last = None
            try:
                async for event in stub.WatchJob(jobs_pb2.WatchJobRequest(job_id=reply.job.id)):
                    if first is None:
                        first = time.perf_counter() - start
                    last = event.job
            except grpc.aio.AioRpcError as exc:
                errors.append(f"WatchJob: {exc.code().name} {exc.details()}")
            if first is not None:
                lat["WatchJob (first event)"].append(first)
            lat["job submit -> final state"].append(time.perf_counter() - start)
            if last is None or last.state not in TERMINAL:
                errors.append(f"WatchJob of {reply.job.id} ended before a final state")
            else:
                finals.append(last.state)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] * 1000


def peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--max-running-jobs", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="octopack-bench-") as tmp, LocalS3Server(Path(tmp) / "s3") as s3:
        work = Path(tmp)
        repo = make_repo(work, 3)
        settings = s3.settings(bucket="bench")
        env = {
            "OCTOPACK_S3_ENDPOINT": settings.endpoint, "OCTOPACK_S3_ACCESS_KEY": settings.access_key,
            "OCTOPACK_S3_SECRET_KEY": settings.secret_key, "OCTOPACK_S3_BUCKET": settings.bucket,
            "OCTOPACK_CONTROLLER_STORE": "s3", "OCTOPACK_CONTROLLER_WORK_DIR": str(work / "work"),
            "OCTOPACK_CONTROLLER_MAX_RUNNING_JOBS": str(args.max_running_jobs), "OCTOPACK_LOG_LEVEL": "WARNING",
        }
        ctl = ControllerProcess(env, work / "controller.log").start()
        try:
            lat: dict[str, list[float]] = defaultdict(list)
            errors: list[str] = []
            finals: list[int] = []
            started = time.perf_counter()

            async def everyone() -> None:
                await asyncio.gather(*(client(i, ctl.address, args.rounds, str(repo), lat, errors, finals)
                                       for i in range(args.clients)))

            asyncio.run(everyone())
            wall = time.perf_counter() - started
            assert ctl.proc is not None
            controller_peak = peak_kib(ctl.proc.pid)
        finally:
            ctl.stop()
    base = statistics.median(lat["Health/Check (baseline)"]) * 1000
    print(f"\n{args.clients} clients x {args.rounds} rounds, {len(finals)} jobs finished "
          f"({sum(1 for s in finals if s == jobs_pb2.STATE_SUCCEEDED)} succeeded) in {wall:.1f} s, "
          f"errors: {len(errors)}")
    print(f"{'RPC':30} {'n':>5} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9} {'p50 / baseline p50':>20}")
    for name in ["Health/Check (baseline)", "SubmitJob", "GetJob", "ListJobs", "WatchJob (first event)",
                 "job submit -> final state"]:
        values = lat[name]
        if values:
            print(f"{name:30} {len(values):5d} {pct(values, 50):9.1f} {pct(values, 95):9.1f} {pct(values, 99):9.1f} "
                  f"{pct(values, 50) / base:20.1f}")
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak memory: controller {controller_peak / 1024:.0f} MiB, benchmark clients {me / 1024:.0f} MiB")
    for line in errors[:10]:
        print("error:", line)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
