"""How a stage finds its inputs and how evaluation results become stage outputs."""

from __future__ import annotations

from octopack.jobs.v1 import jobs_pb2
from octopack.services.controller.backends.base import resolve_inputs
from octopack.services.controller.backends.local_eval import executor_for, outputs_from

S = jobs_pb2.State
K = jobs_pb2.StageKind


def _job(filter_samples: int, min_samples: int) -> jobs_pb2.Job:
    job = jobs_pb2.Job(spec=jobs_pb2.JobSpec(train=jobs_pb2.TrainConfig(min_samples=min_samples)))
    job.stages.add(kind=K.STAGE_KIND_CRAWL, state=S.STATE_SUCCEEDED).outputs.datasets.add(
        name="j-crawl", version="v1", samples=40)
    job.stages.add(kind=K.STAGE_KIND_FILTER, state=S.STATE_SUCCEEDED).outputs.datasets.add(
        name="j-filter", version="v2", samples=filter_samples)
    return job


def test_train_reads_the_filtered_dataset_or_falls_back_to_the_crawl() -> None:
    assert resolve_inputs(_job(10, 8), K.STAGE_KIND_TRAIN) == {"dataset": "j-filter@v2"}
    assert resolve_inputs(_job(3, 8), K.STAGE_KIND_TRAIN) == {"dataset": "j-crawl@v1", "fallback": "crawl"}
    assert resolve_inputs(_job(0, 0), K.STAGE_KIND_TRAIN) == {"dataset": "j-filter@v2"}


def test_explicit_inputs_win_and_unfinished_stages_give_nothing() -> None:
    job = jobs_pb2.Job(spec=jobs_pb2.JobSpec(evaluate=jobs_pb2.EvaluateConfig(endpoint="h:9")))
    assert resolve_inputs(job, K.STAGE_KIND_EVALUATE) == {"endpoint": "h:9"}
    job = jobs_pb2.Job(spec=jobs_pb2.JobSpec(serve=jobs_pb2.ServeConfig()))
    job.stages.add(kind=K.STAGE_KIND_TRAIN, state=S.STATE_RUNNING).outputs.model.uri = "m@v1"
    assert resolve_inputs(job, K.STAGE_KIND_SERVE) == {"model": ""}


def test_executor_addresses_in_three_spellings() -> None:
    assert executor_for('{"python": "a:1", "go": "b:2"}', "go") == "b:2"
    assert executor_for("python=a:1,rust=c:3", "rust") == "c:3"
    assert executor_for("python=a:1", "java") == ""
    assert executor_for("127.0.0.1:50052", "cpp") == "127.0.0.1:50052"


def test_results_json_becomes_pass_at_1_per_language() -> None:
    doc = {"task": "synthesize", "languages": {
        "python": {"pass@1": 0.5, "problems": 2, "samples": 2, "passed": 1},
        "rust": {"pass@1": 0.0, "problems": 2, "samples": 2, "passed": 0},
    }}
    out = outputs_from(doc, "/r/results.json").evaluation
    assert [(s.language, s.pass_at_1, s.problems) for s in out.scores] == [("python", 0.5, 2), ("rust", 0.0, 2)]
    assert out.average_pass_at_1 == 0.25 and out.results_uri == "/r/results.json"
