"""The controller's evaluate stage with a baseline: both models on the same problems, a chart, resumable."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from octopack.jobs.v1 import jobs_pb2
from octopack.services.controller.backends.base import StageContext
from octopack.services.controller.backends.local_eval import EvaluateRunner, model_source
from octopack.services.controller.settings import ControllerSettings

pytestmark = [pytest.mark.integration, pytest.mark.ray]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from octopack.models.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-eval-stage"))


def _ctx(cfg: jobs_pb2.EvaluateConfig, inputs: dict[str, str] | None = None) -> StageContext:
    spec = jobs_pb2.JobSpec(evaluate=cfg)
    return StageContext("job-0123456789ab", jobs_pb2.STAGE_KIND_EVALUATE, spec, 1, inputs or {})


def test_model_and_baseline_on_the_same_problems(executor_address: str, tiny_model: Path, tmp_path: Path) -> None:
    settings = ControllerSettings(executor_addresses=executor_address, results_dir=tmp_path, work_dir=tmp_path / "w")
    cfg = jobs_pb2.EvaluateConfig(model_path=str(tiny_model), baseline_model=str(tiny_model), languages=["python", "js"],
                                  limit=2, max_new_tokens=8, prompt_format="completion")
    outputs = asyncio.run(EvaluateRunner(settings).run(_ctx(cfg)))
    ev = outputs.evaluation
    out = tmp_path / "job-0123456789ab"
    assert ev.results_uri == str(out / "results.json") and ev.baseline.results_uri == str(out / "baseline" / "results.json")
    assert [s.language for s in ev.scores] == [s.language for s in ev.baseline.scores] == ["python", "js"]
    assert all(s.problems == 2 for s in [*ev.scores, *ev.baseline.scores])
    assert ev.source == ev.baseline.source == f"model {tiny_model} (in-process)"
    # The same greedy model twice: the same verdicts.
    tuned, base = (json.loads(Path(u).read_text()) for u in (ev.results_uri, ev.baseline.results_uri))
    assert [r["verdicts"][0]["status"] for r in tuned["languages"]["python"]["results"]] == [
        r["verdicts"][0]["status"] for r in base["languages"]["python"]["results"]]
    assert tuned["prompt_format"] == "completion"
    assert Path(ev.chart_uri).read_bytes()[:4] == b"\x89PNG"
    # A retried attempt reads both parts back instead of evaluating again.
    (out / "results.json").write_text(json.dumps({**tuned, "source": "read back"}))
    again = asyncio.run(EvaluateRunner(settings).run(_ctx(cfg))).evaluation
    assert again.source == "read back" and again.baseline.source == ev.baseline.source


def test_the_stage_names_its_serve_application() -> None:
    from_serve = model_source(jobs_pb2.EvaluateConfig(), _ctx(jobs_pb2.EvaluateConfig(), {"endpoint": "127.0.0.1:9000"}))
    assert from_serve.endpoint == "127.0.0.1:9000" and from_serve.application == "job-0123456789ab"
    given = jobs_pb2.EvaluateConfig(endpoint="10.0.0.1:9000")
    assert model_source(given, _ctx(given, {"endpoint": "10.0.0.1:9000"})).application == ""
    openai = jobs_pb2.EvaluateConfig(openai_base_url="http://h:8000/v1", model="m", api_key_env="KEY", concurrency=4)
    source = model_source(openai, _ctx(openai))
    assert (source.openai_base_url, source.model, source.api_key_env, source.concurrency) == ("http://h:8000/v1", "m", "KEY", 4)
