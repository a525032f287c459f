"""Evaluate stage: HumanEvalPack through the executors, generations from the served model.

Deterministic by job id: results go to ``<results dir>/<job id>/results.json``; when that file
exists for the same configuration (an earlier attempt finished) it is read instead of evaluating
again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from octopack.common.errors import FailedPrecondition
from octopack.common.vocabulary import LANGUAGES
from octopack.jobs.v1 import jobs_pb2
from octopack.services.controller.backends.base import StageContext
from octopack.services.controller.settings import ControllerSettings


def executor_for(addresses: str, language: str) -> str:
    """The executor of ``language`` from ``{"python": "h:p"}``, ``python=h:p,...`` or one ``h:p``."""
    text = addresses.strip()
    if not text:
        return ""
    if text.startswith("{"):
        return str(json.loads(text).get(language, ""))
    if "=" in text:
        pairs = dict(item.split("=", 1) for item in text.split(",") if "=" in item)
        return pairs.get(language, pairs.get("*", ""))
    return text


def outputs_from(doc: dict[str, Any], uri: str) -> jobs_pb2.StageOutputs:
    """StageOutputs from a results.json document (evaluation's own format)."""
    ev = jobs_pb2.EvaluationResult(task=str(doc.get("task", "")), results_uri=uri)
    scores = []
    for lang, item in (doc.get("languages") or {}).items():
        scores.append(
            jobs_pb2.LanguageScore(
                language=lang,
                pass_at_1=float(item.get("pass@1") or 0.0),
                problems=int(item.get("problems", 0)),
                passed=int(item.get("passed", 0)),
            )
        )
    ev.scores.extend(scores)
    ev.average_pass_at_1 = sum(s.pass_at_1 for s in scores) / len(scores) if scores else 0.0
    return jobs_pb2.StageOutputs(evaluation=ev)


class EvaluateRunner:
    """Scores the endpoint's generations on HumanEvalPack in each language."""

    def __init__(self, settings: ControllerSettings) -> None:
        self.settings = settings

    async def run(self, ctx: StageContext) -> jobs_pb2.StageOutputs:
        from octopack.evaluation.executor_client import ExecutorClient
        from octopack.evaluation.model_generator import ModelGenerator
        from octopack.evaluation.results import to_json, write_results
        from octopack.evaluation.runner import evaluate, select_problems
        from octopack.evaluation.sources import GenerationParams

        cfg = ctx.spec.evaluate
        endpoint = ctx.inputs.get("endpoint", "")
        if not endpoint:
            raise FailedPrecondition("evaluate: no endpoint (spec.evaluate.endpoint or a serve stage)")
        languages = list(cfg.languages) or list(LANGUAGES)
        task = cfg.task or "synthesize"
        out = Path(self.settings.results_dir).resolve() / ctx.job_id
        done = out / "results.json"
        if done.exists():
            return outputs_from(json.loads(done.read_text()), str(done))
        by_executor: dict[str, list[str]] = {}
        for lang in languages:
            address = executor_for(self.settings.executor_addresses, lang)
            if not address:
                raise FailedPrecondition(f"evaluate: no executor for {lang}; set OCTOPACK_CONTROLLER_EXECUTOR_ADDRESSES")
            by_executor.setdefault(address, []).append(lang)
        params = GenerationParams(
            n=cfg.samples or 1, temperature=cfg.temperature, top_p=0.95, max_new_tokens=cfg.max_new_tokens or 256
        )
        generator = ModelGenerator(endpoint)
        merged = None
        total = {"programs": 0, "done": 0}
        try:
            for address, langs in by_executor.items():
                problems = select_problems(langs, cfg.limit or None)

                def on_total(n: int) -> None:
                    total["programs"] += n

                def on_result(_: Any) -> None:
                    total["done"] += 1
                    ctx.report(total["done"] / max(1, total["programs"]), f"{total['done']}/{total['programs']} programs")

                ctx.report(0.01, f"generating for {', '.join(langs)}")
                # The services of one installation share one token (the chart's auth Secret).
                async with ExecutorClient(address, self.settings.auth_token) as client:
                    result = await evaluate(
                        task, problems, generator, client, params, source=f"model:{endpoint}",  # type: ignore[arg-type]
                        on_total=on_total, on_result=on_result, scoring=cfg.scoring or "harness",  # type: ignore[arg-type]
                    )
                if merged is None:
                    merged = result
                else:
                    merged.languages.update(result.languages)
        finally:
            generator.close()
        assert merged is not None
        path = write_results(merged, out)
        return outputs_from(to_json(merged), str(path))
