"""A corpus of bad requests (:mod:`tests.integration.bad_corpus`, generated from the proto descriptors), sent
to every RPC of every service.

The servers are the real ones on loopback (the controller with a backend whose stages finish at once, the
real dataset store on the S3 server, the real executor, the inference service with a tiny model). No answer
may be INTERNAL or UNKNOWN: bad input is the caller's fault, and the answer must say so (INVALID_ARGUMENT,
NOT_FOUND, ...).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message

from octopack.common.server import RunningServer, Service, start_server
from octopack.crawler.v1 import crawler_pb2
from octopack.datasets.v1 import datasets_pb2
from octopack.executor.v1 import executor_pb2
from octopack.filter.v1 import filter_pb2
from octopack.inference.v1 import inference_pb2
from octopack.jobs.v1 import jobs_pb2
from tests.integration.bad_corpus import FORBIDDEN, Case, corpus, send

pytestmark = [pytest.mark.integration, pytest.mark.ray]

# ---- the servers ---------------------------------------------------------------------------------------


class Instant:
    """A controller backend whose every stage succeeds at once (what reaches it passed validation)."""

    name = "instant"

    async def run(self, ctx: Any) -> jobs_pb2.StageOutputs:
        return jobs_pb2.StageOutputs(details={"stage": ctx.stage})

    async def cleanup(self, job: Any) -> None:
        return None

    async def close(self) -> None:
        return None


async def _servers(tmp_path: Path, s3_settings: Any, tiny_model: Path) -> dict[str, RunningServer]:
    from octopack.ray_jobs.serve.server import inference_service
    from octopack.ray_jobs.serve.settings import ServeSettings
    from octopack.services.controller.server import controller_service
    from octopack.services.controller.settings import ControllerSettings
    from octopack.services.controller.store import MemoryStore
    from octopack.services.crawler.server import crawler_service
    from octopack.services.crawler.settings import CrawlerSettings
    from octopack.services.datasets.server import datasets_service
    from octopack.services.datasets.settings import DatasetsSettings
    from octopack.services.executor.server import executor_service
    from octopack.services.executor.settings import ExecutorSettings
    from octopack.services.filter.server import filter_service
    from octopack.services.filter.settings import FilterSettings

    loopback = {"host": "127.0.0.1", "port": 0}
    built: dict[str, tuple[Any, Service]] = {}
    settings: Any = ControllerSettings(**loopback)
    built["controller"] = (settings, controller_service(settings, MemoryStore(), Instant()))  # type: ignore[arg-type]
    settings = DatasetsSettings(**loopback)
    built["datasets"] = (settings, datasets_service(settings, s3_settings))
    settings = CrawlerSettings(**loopback, work_dir=tmp_path / "crawler", workers=1)
    built["crawler"] = (settings, crawler_service(settings, s3_settings))
    settings = FilterSettings(**loopback)
    built["filter"] = (settings, filter_service(settings, s3_settings))
    settings = ExecutorSettings(**loopback, language="python", concurrency=2)
    built["executor"] = (settings, executor_service(settings))
    settings = ServeSettings(**loopback, model=str(tiny_model), device="cpu", torch_threads=1, batch_wait_ms=1)
    built["inference"] = (settings, inference_service(settings))
    return {name: await start_server(s, [svc]) for name, (s, svc) in built.items()}


def _bases(writer_id: str, repo: Path) -> dict[str, tuple[Any, dict[str, list[Message]]]]:
    """Per service: its proto service and a valid request per RPC (the empty one where none is given)."""
    program = executor_pb2.Program(language=executor_pb2.LANGUAGE_PYTHON, source="print(1)", id="p1")
    params = inference_pb2.SamplingParams(max_new_tokens=2)
    return {
        "controller": (jobs_pb2.DESCRIPTOR.services_by_name["JobService"], {
            "SubmitJob": [jobs_pb2.SubmitJobRequest(spec=jobs_pb2.JobSpec(
                crawl=jobs_pb2.CrawlConfig(repositories=[str(repo)]), filter=jobs_pb2.FilterConfig(),
                train=jobs_pb2.TrainConfig(), serve=jobs_pb2.ServeConfig(),
                evaluate=jobs_pb2.EvaluateConfig(languages=["python"]), retry=jobs_pb2.RetryPolicy()))],
            "GetJob": [jobs_pb2.GetJobRequest(job_id="job-000000000000")],
            "CancelJob": [jobs_pb2.CancelJobRequest(job_id="job-000000000000")],
            "WatchJob": [jobs_pb2.WatchJobRequest(job_id="job-000000000000")],
        }),
        "datasets": (datasets_pb2.DESCRIPTOR.services_by_name["DatasetService"], {
            "CreateVersion": [datasets_pb2.CreateVersionRequest(name="corpus", parents=["corpus-parent"])],
            "WriteRecords": [datasets_pb2.WriteRecordsRequest(
                writer_id=writer_id, json=datasets_pb2.JsonRecords(records=['{"a": 1}']))],
            "CommitVersion": [datasets_pb2.CommitVersionRequest(writer_id="0" * 32)],
            "AbortVersion": [datasets_pb2.AbortVersionRequest(writer_id="0" * 32)],
            "GetDataset": [datasets_pb2.GetDatasetRequest(name="corpus-parent", version="v1")],
            "ListVersions": [datasets_pb2.ListVersionsRequest(name="corpus-parent")],
            "ReadRecords": [datasets_pb2.ReadRecordsRequest(name="corpus-parent", columns=["a"], batch_size=1)],
            "DeleteVersion": [datasets_pb2.DeleteVersionRequest(name="corpus-gone", version="v1")],
        }),
        "crawler": (crawler_pb2.DESCRIPTOR.services_by_name["CrawlerService"], {
            "StartCrawl": [crawler_pb2.StartCrawlRequest(spec=crawler_pb2.CrawlSpec(
                repositories=[str(repo)], dataset="corpus-crawl", max_commits=1))],
            "GetCrawl": [crawler_pb2.GetCrawlRequest(crawl_id="nope-000000000000")],
            "WatchCrawl": [crawler_pb2.WatchCrawlRequest(crawl_id="nope-000000000000")],
            "CancelCrawl": [crawler_pb2.CancelCrawlRequest(crawl_id="nope-000000000000")],
        }),
        "filter": (filter_pb2.DESCRIPTOR.services_by_name["FilterService"], {
            "StartFilter": [filter_pb2.StartFilterRequest(spec=filter_pb2.FilterSpec(
                source="corpus-parent", out="corpus-ft", config_yaml="token_length: {enabled: false}\n"))],
            "GetFilter": [filter_pb2.GetFilterRequest(run_id="0123456789ab")],
            "WatchFilter": [filter_pb2.WatchFilterRequest(run_id="0123456789ab")],
        }),
        "executor": (executor_pb2.DESCRIPTOR.services_by_name["ExecutorService"], {
            "Execute": [executor_pb2.ExecuteRequest(program=program)],
            "ExecuteBatch": [executor_pb2.ExecuteBatchRequest(programs=[program])],
            "ExecuteStream": [executor_pb2.ExecuteStreamRequest(program=program)],
        }),
        "inference": (inference_pb2.DESCRIPTOR.services_by_name["InferenceService"], {
            "Generate": [inference_pb2.GenerateRequest(prompts=["def f():"], params=params)],
            "GenerateStream": [inference_pb2.GenerateStreamRequest(prompts=["def f():"], params=params)],
        }),
    }


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from octopack.models.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-corpus"))


async def test_no_rpc_answers_internal_or_unknown_to_a_generated_corpus_of_bad_requests(
    tmp_path: Path, s3_settings: Any, tiny_model: Path
) -> None:
    from octopack.datasets.store import DatasetStore
    from tests.unit.crawler.gitrepo import Repo

    store = DatasetStore.from_settings(s3_settings)
    writer = store.create_version("corpus-parent")
    writer.write([{"a": 1}, {"a": 2}])
    writer.commit()
    repo = Repo(tmp_path / "repo")
    repo.commit("Initial commit", a_DOT_py="x = 1\n")
    servers = await _servers(tmp_path, s3_settings, tiny_model)
    sent: dict[str, Counter[str]] = defaultdict(Counter)
    bad: list[str] = []
    try:
        channels = {name: grpc.aio.insecure_channel(s.address) for name, s in servers.items()}
        open_writer = await channels["datasets"].unary_unary(
            "/octopack.datasets.v1.DatasetService/CreateVersion",
            datasets_pb2.CreateVersionRequest.SerializeToString, datasets_pb2.CreateVersionResponse.FromString,
        )(datasets_pb2.CreateVersionRequest(name="corpus-writes"))
        cases = list(corpus(_bases(open_writer.writer_id, repo.path)))
        semaphore = asyncio.Semaphore(8)

        async def one(service: str, case: Case) -> None:
            async with semaphore:
                code = await send(channels[service], case)
            sent[service][code] += 1
            if code in FORBIDDEN:
                bad.append(f"{service} {case.method.name} [{case.label}]: {code}")

        await asyncio.gather(*(one(service, case) for service, case in cases))
        for channel in channels.values():
            await channel.close()
        # The servers still serve after the corpus.
        for name, server in servers.items():
            async with grpc.aio.insecure_channel(server.address) as channel:
                from grpc_health.v1 import health_pb2, health_pb2_grpc

                reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
                assert reply.status == health_pb2.HealthCheckResponse.SERVING, name
    finally:
        for server in servers.values():
            await server.stop(0)
    summary = {service: dict(sorted(codes.items())) for service, codes in sorted(sent.items())}
    print("\nrequests per service and the codes they got:\n" + json.dumps(summary, indent=1))
    assert set(summary) == {"controller", "datasets", "crawler", "filter", "executor", "inference"}
    assert sum(sum(c.values()) for c in sent.values()) > 1000
    for service, codes in sent.items():
        assert codes["INVALID_ARGUMENT"] > 0, service
    assert bad == []
