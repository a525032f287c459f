"""Evaluate stage: HumanEvalPack through the executors, generations from the served model.

The model is the serve stage's endpoint (or ``evaluate.endpoint``), an OpenAI-compatible server
(``evaluate.openai_base_url``) or a model run in this process (``evaluate.model_path``); with
``evaluate.baseline_model`` a second model (the base model, in-process) answers the same problems,
and a chart shows both.

Deterministic by job id: results go to ``<results dir>/<job id>/results.json`` (the baseline's to
``baseline/results.json`` beneath); when a file exists (an earlier attempt finished that part) it
is read instead of evaluating again.
"""

from __future__ import annotations

import asyncio
import json
import os
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


def outputs_from(
    doc: dict[str, Any], uri: str, baseline: dict[str, Any] | None = None, baseline_uri: str = "", chart: str = ""
) -> jobs_pb2.StageOutputs:
    """StageOutputs from results.json documents (evaluation's own format), the baseline's beside."""
    ev = _evaluation(doc, uri)
    if baseline is not None:
        ev.baseline.CopyFrom(_evaluation(baseline, baseline_uri))
    ev.chart_uri = chart
    return jobs_pb2.StageOutputs(evaluation=ev)


def _evaluation(doc: dict[str, Any], uri: str) -> jobs_pb2.EvaluationResult:
    ev = jobs_pb2.EvaluationResult(task=str(doc.get("task", "")), results_uri=uri, source=str(doc.get("source", "")))
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
    return ev


def model_source(cfg: jobs_pb2.EvaluateConfig, ctx: StageContext) -> Any:
    """The model the stage evaluates: an OpenAI-compatible server, an in-process model or the gRPC endpoint."""
    from octopack.evaluation.model_source import ModelSource

    concurrency = cfg.concurrency or 32
    if cfg.openai_base_url:
        return ModelSource(openai_base_url=cfg.openai_base_url, model=cfg.model, api_key_env=cfg.api_key_env,
                           concurrency=concurrency)
    if cfg.model_path:
        return ModelSource(model_path=cfg.model_path, concurrency=concurrency)
    endpoint = ctx.inputs.get("endpoint", "")
    if not endpoint:
        raise FailedPrecondition("evaluate: no endpoint (spec.evaluate.endpoint or a serve stage)")
    # The serve stage deploys the Ray Serve application "<job id>": name it, the proxy may serve others.
    return ModelSource(endpoint=endpoint, application="" if cfg.endpoint else ctx.job_id, concurrency=concurrency)


class EvaluateRunner:
    """Scores the model's generations on HumanEvalPack in each language (and the baseline model's)."""

    def __init__(self, settings: ControllerSettings) -> None:
        self.settings = settings

    async def run(self, ctx: StageContext) -> jobs_pb2.StageOutputs:
        import dataclasses

        from octopack.evaluation.model_source import ModelSource

        cfg = ctx.spec.evaluate
        source = model_source(cfg, ctx)
        out = Path(self.settings.results_dir).resolve() / ctx.job_id
        parts = [("model", source, out)]
        if cfg.baseline_model:
            # Both models generate at once, each on half the cores: a Ray Serve replica on this machine
            # decodes on one thread (Ray sets OMP_NUM_THREADS to its CPUs), so the other core would idle.
            half = max(1, (os.cpu_count() or 2) // 2)
            baseline = ModelSource(model_path=cfg.baseline_model, concurrency=cfg.concurrency or 32, threads=half)
            if source.model_path:
                source = dataclasses.replace(source, threads=half)
                parts[0] = ("model", source, out)
            parts.append(("baseline", baseline, out / "baseline"))
        fractions = {label: 0.0 for label, _, _ in parts}

        def report(label: str, fraction: float, message: str) -> None:
            fractions[label] = fraction
            ctx.report(sum(fractions.values()) / len(fractions), message)

        tasks = [asyncio.create_task(self._part(ctx, src, folder, label, report)) for label, src, folder in parts]
        try:
            docs = await asyncio.gather(*tasks)
        except BaseException:  # one part failed or the stage was cancelled: stop the other (its error is the first)
            for task in tasks:
                task.cancel()
            raise
        chart = await asyncio.to_thread(_chart, docs, out, f"baseline: {cfg.baseline_model}") if len(docs) > 1 else ""
        return outputs_from(docs[0], str(out / "results.json"), docs[1] if len(docs) > 1 else None,
                            str(out / "baseline" / "results.json") if len(docs) > 1 else "", chart)

    async def _part(
        self, ctx: StageContext, source: Any, out: Path, label: str, report: Any
    ) -> dict[str, Any]:
        """One model's evaluation (read back when an earlier attempt finished it)."""
        from octopack.evaluation.executor_client import ExecutorClient
        from octopack.evaluation.model_source import open_generator
        from octopack.evaluation.prompts import check_format
        from octopack.evaluation.results import to_json, write_results
        from octopack.evaluation.runner import evaluate, select_problems
        from octopack.evaluation.sources import GenerationParams

        cfg = ctx.spec.evaluate
        done = out / "results.json"
        if done.exists():
            return dict(json.loads(done.read_text()))
        languages = list(cfg.languages) or list(LANGUAGES)
        task = cfg.task or "synthesize"
        fmt = check_format(cfg.prompt_format or "octocoder")
        by_executor: dict[str, list[str]] = {}
        for lang in languages:
            address = executor_for(self.settings.executor_addresses, lang)
            if not address:
                raise FailedPrecondition(f"evaluate: no executor for {lang}; set OCTOPACK_CONTROLLER_EXECUTOR_ADDRESSES")
            by_executor.setdefault(address, []).append(lang)
        params = GenerationParams(
            n=cfg.samples or 1, temperature=cfg.temperature, top_p=0.95, max_new_tokens=cfg.max_new_tokens or 256
        )
        report(label, 0.01, f"{label}: loading {source.describe()}")
        generator = await asyncio.to_thread(open_generator, source)
        merged = None
        total = {"programs": 0, "done": 0}
        try:
            for address, langs in by_executor.items():
                problems = select_problems(langs, cfg.limit or None)

                def on_total(n: int) -> None:
                    total["programs"] += n

                def on_result(_: Any) -> None:
                    total["done"] += 1
                    fraction = 0.5 + 0.5 * total["done"] / max(1, total["programs"])
                    report(label, fraction, f"{label}: {total['done']}/{total['programs']} programs")

                report(label, 0.02, f"{label}: generating for {', '.join(langs)}")
                # The services of one installation share one token (the chart's auth Secret).
                async with ExecutorClient(address, self.settings.auth_token) as client:
                    result = await evaluate(
                        task, problems, generator, client, params, fmt=fmt, source=source.describe(),  # type: ignore[arg-type]
                        on_total=on_total, on_result=on_result, scoring=cfg.scoring or "harness",  # type: ignore[arg-type]
                    )
                if merged is None:
                    merged = result
                else:
                    merged.languages.update(result.languages)
        finally:
            await asyncio.to_thread(generator.close)
        assert merged is not None
        write_results(merged, out)
        return to_json(merged)


def _chart(docs: list[dict[str, Any]], out: Path, baseline: str) -> str:
    """The two models' pass@1 side by side (empty when matplotlib is not installed)."""
    from octopack.evaluation.comparison import Score, plot_comparison

    def scores(doc: dict[str, Any]) -> list[Score]:
        return [Score(lang, int(item.get("problems", 0)), int(item.get("passed", 0)), float(item.get("pass@1") or 0.0))
                for lang, item in (doc.get("languages") or {}).items()]

    try:
        path = plot_comparison(scores(docs[1]), scores(docs[0]), baseline, "evaluated model",
                               str(docs[0].get("task")), out)
    except ImportError:  # the plot extra is not installed
        return ""
    return str(path)
