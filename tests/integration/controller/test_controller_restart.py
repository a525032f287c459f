"""``kill -9`` of the controller in the middle of a job, then a restart: the restarted controller adopts
the running crawl or filter run (the same attempt, the same run id), no stage runs twice and no output
is duplicated. Real controller, crawler and filter processes, real S3, real Ray jobs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from controller_procs import ControllerProcess, make_repo, service_runs

from octopack.common.objectstore import ObjectStore
from octopack.datasets.store import DatasetStore
from octopack.jobs.v1 import jobs_pb2, jobs_pb2_grpc

pytestmark = [pytest.mark.integration, pytest.mark.ray]
S = jobs_pb2.State



def _wait(stub: jobs_pb2_grpc.JobServiceStub, job_id: str, ready, timeout: float = 120) -> jobs_pb2.Job:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = stub.GetJob(jobs_pb2.GetJobRequest(job_id=job_id)).job
        if ready(job):
            return job
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} never reached the expected state")


def test_kill_9_in_the_middle_of_a_crawl_then_restart(
    controller_env: dict[str, str], tmp_path: Path, s3_settings
) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo(tmp_path, 60)  # long enough to be killed while crawling
    first = ControllerProcess(controller_env, tmp_path / "first.log").start()
    try:
        stub = jobs_pb2_grpc.JobServiceStub(first.channel())
        spec = jobs_pb2.JobSpec(crawl=jobs_pb2.CrawlConfig(repositories=[str(repo)]))
        job_id = stub.SubmitJob(jobs_pb2.SubmitJobRequest(spec=spec, idempotency_key="restart-test")).job.id
        running = _wait(stub, job_id, lambda j: j.stages[0].state == S.STATE_RUNNING and "crawl" in j.stages[0].message)
        first.kill()
    finally:
        first.stop()
    assert running.state == S.STATE_RUNNING

    second = ControllerProcess(controller_env, tmp_path / "second.log").start()
    try:
        stub = jobs_pb2_grpc.JobServiceStub(second.channel())
        final = _wait(stub, job_id, lambda j: j.state in (S.STATE_SUCCEEDED, S.STATE_FAILED))
        assert final.state == S.STATE_SUCCEEDED, final.stages[0].message
        assert final.stages[0].attempts == 1  # the interrupted attempt was adopted, not started again
        store = DatasetStore(ObjectStore(s3_settings))
        versions = store.list_versions(f"{job_id}-crawl")
        assert versions == [final.stages[0].outputs.datasets[0].version], "the crawl output was duplicated"
        assert service_runs(store.objects, "crawler", job_id) == {f"{job_id}-crawl-1": 1}
        # The same idempotency key after the restart still names the same job.
        again = stub.SubmitJob(jobs_pb2.SubmitJobRequest(spec=spec, idempotency_key="restart-test"))
        assert not again.created and again.job.id == job_id
    finally:
        second.stop()


def test_kill_9_after_a_finished_stage_never_reruns_it(
    controller_env: dict[str, str], tmp_path: Path, s3_settings
) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo(tmp_path, 60)
    first = ControllerProcess(controller_env, tmp_path / "first.log").start()
    try:
        stub = jobs_pb2_grpc.JobServiceStub(first.channel())
        spec = jobs_pb2.JobSpec(
            crawl=jobs_pb2.CrawlConfig(repositories=[str(repo)]),
            filter=jobs_pb2.FilterConfig(config_yaml="token_length: {enabled: false}"),
        )
        job_id = stub.SubmitJob(jobs_pb2.SubmitJobRequest(spec=spec)).job.id
        at_kill = _wait(stub, job_id, lambda j: j.stages[1].state == S.STATE_RUNNING)
        first.kill()
    finally:
        first.stop()
    crawled = at_kill.stages[0].outputs.datasets[0]

    second = ControllerProcess(controller_env, tmp_path / "second.log").start()
    try:
        stub = jobs_pb2_grpc.JobServiceStub(second.channel())
        final = _wait(stub, job_id, lambda j: j.state in (S.STATE_SUCCEEDED, S.STATE_FAILED))
        assert final.state == S.STATE_SUCCEEDED, [st.message for st in final.stages]
        assert final.stages[0].attempts == 1, "the finished crawl ran again"
        assert final.stages[0].outputs.datasets[0] == crawled
        assert final.stages[1].attempts == 1
        store = DatasetStore(ObjectStore(s3_settings))
        assert store.list_versions(f"{job_id}-crawl") == [crawled.version]
        assert len(store.list_versions(f"{job_id}-filter")) == 1
        assert service_runs(store.objects, "crawler", job_id) == {f"{job_id}-crawl-1": 1}
        assert service_runs(store.objects, "filter", job_id) == {f"{job_id}-filter-1": 1}
    finally:
        second.stop()
