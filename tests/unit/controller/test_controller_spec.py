"""Job specification validation names the offending field."""

from __future__ import annotations

import pytest

from octopack.common.errors import InvalidArgument
from octopack.common.vocabulary import stage_name
from octopack.jobs.v1 import jobs_pb2
from octopack.services.controller import spec as specs


def _spec(**stages: object) -> jobs_pb2.JobSpec:
    return jobs_pb2.JobSpec(**stages)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (_spec(), "spec: select at least one stage"),
        (_spec(crawl=jobs_pb2.CrawlConfig()), "spec.crawl.repositories"),
        (_spec(crawl=jobs_pb2.CrawlConfig(repositories=[" "])), "spec.crawl.repositories[0]"),
        (_spec(crawl=jobs_pb2.CrawlConfig(repositories=["."], repositories_file="l.txt")), "spec.crawl.repositories"),
        (_spec(crawl=jobs_pb2.CrawlConfig(repositories=["."], max_commits=-1)), "spec.crawl.max_commits"),
        (_spec(crawl=jobs_pb2.CrawlConfig(repositories=["."], profile="best")), "spec.crawl.profile"),
        (_spec(evaluate=jobs_pb2.EvaluateConfig(endpoint="h:1", scoring="strict")), "spec.evaluate.scoring"),
        (_spec(filter=jobs_pb2.FilterConfig()), "spec.filter.input_dataset"),
        (_spec(train=jobs_pb2.TrainConfig()), "spec.train.dataset"),
        (_spec(train=jobs_pb2.TrainConfig(dataset="d", max_steps=-5)), "spec.train.max_steps"),
        (_spec(serve=jobs_pb2.ServeConfig()), "spec.serve.model"),
        (_spec(evaluate=jobs_pb2.EvaluateConfig()), "spec.evaluate.endpoint"),
        (
            _spec(evaluate=jobs_pb2.EvaluateConfig(endpoint="h:1", languages=["python", "cobol"])),
            "spec.evaluate.languages[1]",
        ),
        (_spec(evaluate=jobs_pb2.EvaluateConfig(endpoint="h:1", task="poem")), "spec.evaluate.task"),
        (_spec(evaluate=jobs_pb2.EvaluateConfig(endpoint="h:1", limit=165)), "spec.evaluate.limit"),
        (
            _spec(filter=jobs_pb2.FilterConfig(input_dataset="d"), retry=jobs_pb2.RetryPolicy(multiplier=0.5)),
            "spec.retry.multiplier",
        ),
        (
            _spec(filter=jobs_pb2.FilterConfig(input_dataset="d"), labels={"bad key!": "x"}),
            "spec.labels",
        ),
    ],
)
def test_bad_specs_name_the_field(spec: jobs_pb2.JobSpec, field: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        specs.validate(spec)
    assert err.value.message.startswith(field), err.value.message


def test_gap_in_the_pipeline_needs_an_explicit_input() -> None:
    spec = _spec(crawl=jobs_pb2.CrawlConfig(repositories=["."]), train=jobs_pb2.TrainConfig())
    with pytest.raises(InvalidArgument, match=r"spec\.train\.dataset"):
        specs.validate(spec)


def test_full_pipeline_is_valid_and_ordered() -> None:
    spec = _spec(
        evaluate=jobs_pb2.EvaluateConfig(languages=["python", "rust"]),
        crawl=jobs_pb2.CrawlConfig(repositories=["."]),
        serve=jobs_pb2.ServeConfig(),
        filter=jobs_pb2.FilterConfig(),
        train=jobs_pb2.TrainConfig(),
    )
    specs.validate(spec)
    assert [stage_name(k) for k in specs.selected(spec)] == ["crawl", "filter", "train", "serve", "evaluate"]


def test_backoff_is_exponential_and_capped() -> None:
    spec = _spec(retry=jobs_pb2.RetryPolicy(initial_backoff_seconds=2, multiplier=3, max_backoff_seconds=30))
    assert [specs.backoff(spec, n) for n in (1, 2, 3, 4)] == [2, 6, 18, 30]
