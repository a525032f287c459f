"""The JobService over real gRPC (generated stub and grpcurl): a controller process, the real S3 server,
real crawl stages on a tiny Git repository."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import grpc
import pytest

from octopack.common.objectstore import ObjectStore
from octopack.datasets.store import DatasetStore
from octopack.jobs.v1 import jobs_pb2, jobs_pb2_grpc

pytestmark = pytest.mark.integration
SERVICE = "octopack.jobs.v1.JobService"


def _grpcurl(grpcurl: str, address: str, *args: str, data: dict | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [grpcurl, "-plaintext", "-max-time", "60"]
    if data is not None:
        cmd += ["-d", json.dumps(data)]
    return subprocess.run([*cmd, address, *args], capture_output=True, text=True, timeout=90)


def test_grpcurl_lists_submits_watches_and_cancels(grpcurl: str, controller, tiny_repo: Path, s3_settings) -> None:  # type: ignore[no-untyped-def]
    listed = _grpcurl(grpcurl, controller.address, "list")
    assert SERVICE in listed.stdout.split(), listed.stderr

    spec = {"name": "tiny", "crawl": {"repositories": [str(tiny_repo)]}}
    submitted = _grpcurl(grpcurl, controller.address, f"{SERVICE}/SubmitJob", data={"spec": spec})
    assert submitted.returncode == 0, submitted.stderr
    job_id = json.loads(submitted.stdout)["job"]["id"]

    watched = _grpcurl(grpcurl, controller.address, f"{SERVICE}/WatchJob", data={"job_id": job_id})
    assert watched.returncode == 0, watched.stderr
    events = [json.loads(chunk) for chunk in watched.stdout.replace("}\n{", "}\x00{").split("\x00")]
    assert events[0]["type"] == "EVENT_TYPE_SNAPSHOT"
    final = events[-1]["job"]
    assert final["state"] == "STATE_SUCCEEDED", final
    crawl = final["stages"][0]
    dataset = crawl["outputs"]["datasets"][0]
    assert dataset["name"] == f"{job_id}-crawl" and int(dataset.get("samples", 0)) > 0, json.dumps(crawl)
    store = DatasetStore(ObjectStore(s3_settings))
    assert store.list_versions(f"{job_id}-crawl") == [dataset["version"]]

    stub = jobs_pb2_grpc.JobServiceStub(controller.channel())
    # A missing repository is a permanent error (NOT_FOUND): the stage fails at once, never retried.
    missing = {"crawl": {"repositories": ["/nonexistent/repo"]}, "retry": {"max_attempts": 5}}
    reply = _grpcurl(grpcurl, controller.address, f"{SERVICE}/SubmitJob", data={"spec": missing})
    gone = json.loads(reply.stdout)["job"]["id"]
    for event in stub.WatchJob(jobs_pb2.WatchJobRequest(job_id=gone), timeout=60):
        final_job = event.job
    assert final_job.state == jobs_pb2.STATE_FAILED and final_job.stages[0].attempts == 1
    assert "does not exist" in final_job.stages[0].message

    # A host that does not resolve may resolve later (UNAVAILABLE): the stage waits 60 s for its next
    # attempt; cancel it then.
    failing = {"crawl": {"repositories": ["https://git.nonexistent.invalid/repo.git"]},
               "retry": {"max_attempts": 5, "initial_backoff_seconds": 60}}
    reply = _grpcurl(grpcurl, controller.address, f"{SERVICE}/SubmitJob", data={"spec": failing})
    other = json.loads(reply.stdout)["job"]["id"]
    for event in stub.WatchJob(jobs_pb2.WatchJobRequest(job_id=other), timeout=60):
        if event.job.stages[0].HasField("next_attempt_time"):
            break
    cancelled = _grpcurl(grpcurl, controller.address, f"{SERVICE}/CancelJob", data={"job_id": other})
    assert cancelled.returncode == 0, cancelled.stderr
    job = json.loads(cancelled.stdout)["job"]
    assert job["state"] == "STATE_CANCELLED" and job["stages"][0]["state"] == "STATE_CANCELLED"
    assert stub.GetJob(jobs_pb2.GetJobRequest(job_id=other)).job.stages[0].attempts == 1


def test_bad_specs_unknown_ids_and_idempotency(grpcurl: str, controller, tiny_repo: Path) -> None:  # type: ignore[no-untyped-def]
    stub = jobs_pb2_grpc.JobServiceStub(controller.channel())
    bad = jobs_pb2.JobSpec(train=jobs_pb2.TrainConfig(max_steps=5))
    with pytest.raises(grpc.RpcError) as err:
        stub.SubmitJob(jobs_pb2.SubmitJobRequest(spec=bad))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "spec.train.dataset" in err.value.details()

    shown = _grpcurl(grpcurl, controller.address, f"{SERVICE}/SubmitJob",
                     data={"spec": {"evaluate": {"endpoint": "h:1", "languages": ["cobol"]}}})
    assert "InvalidArgument" in shown.stderr and "spec.evaluate.languages[0]" in shown.stderr

    for call, request in [
        (stub.GetJob, jobs_pb2.GetJobRequest(job_id="job-000000000000")),
        (stub.CancelJob, jobs_pb2.CancelJobRequest(job_id="job-000000000000")),
    ]:
        with pytest.raises(grpc.RpcError) as err:
            call(request)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as err:
        list(stub.WatchJob(jobs_pb2.WatchJobRequest(job_id="job-000000000000")))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND

    spec = jobs_pb2.JobSpec(crawl=jobs_pb2.CrawlConfig(repositories=[str(tiny_repo)]))
    first = stub.SubmitJob(jobs_pb2.SubmitJobRequest(spec=spec, idempotency_key="tiny-once"))
    again = stub.SubmitJob(jobs_pb2.SubmitJobRequest(spec=spec, idempotency_key="tiny-once"))
    assert first.created and not again.created and again.job.id == first.job.id
    listed = stub.ListJobs(jobs_pb2.ListJobsRequest(page_size=10))
    assert [j.id for j in listed.jobs].count(first.job.id) == 1
    other_spec = jobs_pb2.JobSpec(crawl=jobs_pb2.CrawlConfig(repositories=[str(tiny_repo)], max_commits=3))
    with pytest.raises(grpc.RpcError) as err:
        stub.SubmitJob(jobs_pb2.SubmitJobRequest(spec=other_spec, idempotency_key="tiny-once"))
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert first.job.id in err.value.details() and "different spec" in err.value.details()


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"filter": {"input_dataset": "../x"}}, "spec.filter.input_dataset"),
        ({"filter": {"input_dataset": "d", "config_yaml": "token_length: [1"}}, "spec.filter.config_yaml"),
        ({"crawl": {"repositories": ["ext::sh -c id"]}}, "spec.crawl.repositories[0]"),
        ({"crawl": {"repositories": ["/r"], "languages": ["Klingon"]}}, "spec.crawl.languages[0]"),
        ({"crawl": {"repositories": ["/r"], "branch": "main..x"}}, "spec.crawl.branch"),
        ({"train": {"dataset": "d", "learning_rate": "NaN"}}, "spec.train.learning_rate"),
        ({"evaluate": {"endpoint": "h:1", "temperature": "Infinity"}}, "spec.evaluate.temperature"),
        ({"name": "x\ny", "serve": {"model": "m"}}, "spec.name"),
        ({"crawl": {"repositories": ["/r"], "profile": "best"}}, "spec.crawl.profile"),
        ({"evaluate": {"endpoint": "h:1", "scoring": "lenient"}}, "spec.evaluate.scoring"),
    ],
)
def test_submit_refuses_a_bad_spec_naming_the_field(grpcurl: str, controller, spec: dict, field: str) -> None:  # type: ignore[no-untyped-def]
    shown = _grpcurl(grpcurl, controller.address, f"{SERVICE}/SubmitJob", data={"spec": spec})
    assert shown.returncode != 0 and "Code: InvalidArgument" in shown.stderr, shown.stderr
    assert f"Message: {field}" in shown.stderr, shown.stderr
    stub = jobs_pb2_grpc.JobServiceStub(controller.channel())
    assert list(stub.ListJobs(jobs_pb2.ListJobsRequest()).jobs) == []  # nothing was created
