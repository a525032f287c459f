"""The evaluate stage's model fields: one model source, a model id with an OpenAI server, known prompt formats."""

from __future__ import annotations

import pytest

from octopack.common.errors import InvalidArgument
from octopack.jobs.v1 import jobs_pb2
from octopack.services.controller import spec as specs


def _evaluate(**fields: object) -> jobs_pb2.JobSpec:
    return jobs_pb2.JobSpec(evaluate=jobs_pb2.EvaluateConfig(**fields))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"endpoint": "h:1", "model_path": "default"}, "spec.evaluate.model_path: give one of endpoint"),
        ({"openai_base_url": "http://h/v1"}, "spec.evaluate.model: required with openai_base_url"),
        ({"model_path": "default", "model": "m"}, "spec.evaluate.model: applies to openai_base_url only"),
        ({"model_path": "default", "prompt_format": "alpaca"}, "spec.evaluate.prompt_format: unknown format"),
        ({"model_path": "default", "concurrency": -1}, "spec.evaluate.concurrency"),
    ],
)
def test_bad_evaluate_sources(fields: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message.replace(".", r"\.")):
        specs.validate(_evaluate(**fields))


@pytest.mark.parametrize(
    "fields",
    [
        {"openai_base_url": "http://h:8000/v1", "model": "m", "api_key_env": "KEY", "prompt_format": "chat"},
        {"model_path": "default", "baseline_model": "default"},
        {"endpoint": "h:1", "prompt_format": "wizardcoder", "concurrency": 8},
    ],
)
def test_an_evaluate_stage_alone_needs_one_model(fields: dict[str, object]) -> None:
    specs.validate(_evaluate(**fields))
