"""What 'octopack run' prints at the end: base vs tuned, and a summary of every stage."""

from __future__ import annotations

import io

from rich.console import Console

from octopack.cli.run import comparison, read_repos_file, summary
from octopack.jobs.v1 import jobs_pb2

K = jobs_pb2.StageKind


def _job(fallback: bool = True) -> jobs_pb2.Job:
    spec = jobs_pb2.JobSpec(crawl=jobs_pb2.CrawlConfig(repositories=["/src/octopack"]),
                            train=jobs_pb2.TrainConfig(min_samples=8), serve=jobs_pb2.ServeConfig())
    tuned = jobs_pb2.EvaluationResult(task="synthesize", results_uri="/r/job/results.json", source="model at h:9000",
                                      chart_uri="/r/job/pass_at_1_synthesize_compare.png")
    tuned.scores.extend([jobs_pb2.LanguageScore(language="python", pass_at_1=0.1, problems=20, passed=2),
                         jobs_pb2.LanguageScore(language="rust", pass_at_1=0.0, problems=20, passed=0)])
    tuned.average_pass_at_1 = 0.05
    tuned.baseline.CopyFrom(jobs_pb2.EvaluationResult(task="synthesize", results_uri="/r/job/baseline/results.json",
                                                      source="model default (in-process)", average_pass_at_1=0.075))
    tuned.baseline.scores.extend([jobs_pb2.LanguageScore(language="python", pass_at_1=0.15, problems=20, passed=3),
                                  jobs_pb2.LanguageScore(language="rust", pass_at_1=0.0, problems=20, passed=0)])
    train_details = {"steps": "8", "first_loss": "3.9", "final_loss": "2.1", "dataset": "job-crawl@v1"}
    if fallback:
        train_details["dataset_fallback"] = "crawl"
    stages = [
        jobs_pb2.Stage(kind=K.STAGE_KIND_CRAWL, outputs=jobs_pb2.StageOutputs(
            datasets=[jobs_pb2.DatasetRef(name="job-crawl", version="v1", samples=4)],
            details={"commits_seen": "31", "skipped.merge": "2"})),
        jobs_pb2.Stage(kind=K.STAGE_KIND_FILTER, outputs=jobs_pb2.StageOutputs(
            datasets=[jobs_pb2.DatasetRef(name="job-filter", version="v1", samples=0)],
            details={"rows_in": "4", "rows_out": "0", "dropped.01.message_length": "3", "dropped.07.token_length": "1"})),
        jobs_pb2.Stage(kind=K.STAGE_KIND_TRAIN, outputs=jobs_pb2.StageOutputs(
            model=jobs_pb2.ModelRef(name="job-model", uri="job-model@v1"), details=train_details)),
        jobs_pb2.Stage(kind=K.STAGE_KIND_SERVE, outputs=jobs_pb2.StageOutputs(
            endpoint="127.0.0.1:9000", details={"application": "job-1"})),
        jobs_pb2.Stage(kind=K.STAGE_KIND_EVALUATE, outputs=jobs_pb2.StageOutputs(evaluation=tuned)),
    ]
    return jobs_pb2.Job(id="job-1", spec=spec, stages=stages)


def _text(renderable: object) -> str:
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(renderable)
    return out.getvalue()


def test_the_comparison_table_has_both_models_and_the_difference() -> None:
    text = _text(comparison(_job()))
    assert "base model vs tuned model" in text
    python = next(line for line in text.splitlines() if "Python" in line)
    assert all(cell in python for cell in ("20", "3", "15.0", "2", "10.0", "-5.0"))
    average = next(line for line in text.splitlines() if "average" in line)
    assert "7.5" in average and "5.0" in average and "-2.5" in average


def test_the_summary_names_every_stage() -> None:
    text = "\n".join(_text(line) for line in summary(_job()))
    for expected in ("1 repositories (/src/octopack): 31 commits seen, 4 samples", "skipped: merge 2",
                     "4 samples in, 0 kept", "01 message_length", "07 token_length",
                     "8 steps on job-crawl@v1: loss 3.9 -> 2.1; model job-model@v1",
                     "too small to train on (0 samples, fewer than train.minSamples=8)", "--repo URL",
                     "--repos-file FILE", "gRPC 127.0.0.1:9000, Ray Serve application job-1",
                     "baseline model default (in-process): 7.5% (-2.5 points)", "/r/job/results.json",
                     "/r/job/baseline/results.json", "pass_at_1_synthesize_compare.png"):
        assert expected in text, expected


def test_no_baseline_no_comparison() -> None:
    job = _job(fallback=False)
    job.stages[-1].outputs.evaluation.ClearField("baseline")
    assert comparison(job) is None
    assert "too small" not in "\n".join(summary(job))


def test_repos_file(tmp_path) -> None:
    path = tmp_path / "repos.txt"
    path.write_text("# mine\nhttps://github.com/pallets/click\n\n./local  # a checkout\n")
    assert read_repos_file(path) == ["https://github.com/pallets/click", "./local"]
