"""results.json schema, the rich table and the chart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from octopack.evaluation.results import (
    SCHEMA_VERSION,
    EvaluationResult,
    LanguageResult,
    ProblemResult,
    Verdict,
    plot_pass_at_1,
    results_table,
    stderr_head,
    to_json,
    write_results,
)


def problem(task_id: str, statuses: list[str]) -> ProblemResult:
    return ProblemResult(
        task_id, tuple(Verdict(i, s, 0 if s == "passed" else 1) for i, s in enumerate(statuses))
    )


def sample_result() -> EvaluationResult:
    ten = ["passed"] * 3 + ["failed"] * 7
    python = LanguageResult("python", (problem("Python/0", ten), problem("Python/1", ["timeout"] * 10)))
    go = LanguageResult("go", (problem("Go/0", ["passed"]), problem("Go/1", ["compile_error"])))
    return EvaluationResult(
        task="fix",
        source="samples s.jsonl",
        prompt_format="octocoder",
        languages={"python": python, "go": go},
        generation={"n": 10, "temperature": 0.2},
        executor="127.0.0.1:1",
        wall_seconds=1.23456,
    )


def test_results_json_schema(tmp_path: Path) -> None:
    path = write_results(sample_result(), tmp_path / "out")
    doc = json.loads(path.read_text())
    assert path.name == "results.json"
    assert set(doc) == {
        "schema_version",
        "task",
        "source",
        "prompt_format",
        "scoring",
        "generation",
        "executor",
        "wall_seconds",
        "average_pass@1",
        "languages",
    }
    assert doc["scoring"] == "harness"
    assert doc["schema_version"] == SCHEMA_VERSION
    assert doc["task"] == "fix"
    assert doc["wall_seconds"] == 1.235
    python, go = doc["languages"]["python"], doc["languages"]["go"]
    assert python["problems"] == 2 and python["samples"] == 20 and python["passed"] == 3
    assert python["pass@1"] == pytest.approx((0.3 + 0) / 2)
    assert python["pass@10"] == pytest.approx((1 + 0) / 2)
    assert "pass@10" not in go  # one sample per problem: only pass@1
    assert go["pass@1"] == 0.5
    assert doc["average_pass@1"] == pytest.approx((0.15 + 0.5) / 2)
    row = python["results"][1]
    assert row["task_id"] == "Python/1" and row["n"] == 10 and row["correct"] == 0
    assert set(row["verdicts"][0]) == {"sample", "status", "exit_code", "detail", "stderr", "seconds"}
    assert row["verdicts"][0]["status"] == "timeout"


def test_table_shows_pass_at_k_and_the_paper(tmp_path: Path) -> None:
    console = Console(record=True, width=140)
    console.print(results_table(sample_result()))
    text = console.export_text()
    assert "Python" in text and "Go" in text and "average" in text
    assert "15.0" in text  # python pass@1
    assert "50.0" in text  # python pass@10 and go pass@1
    assert "30.4" in text  # OctoCoder Fix Python in the paper


def test_chart_is_a_png(tmp_path: Path) -> None:
    path = plot_pass_at_1(sample_result(), tmp_path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.name == "pass_at_1_fix.png"


def test_stderr_head_keeps_the_first_lines() -> None:
    assert stderr_head("a\nb\nc") == "a\nb\nc"
    assert stderr_head("\n".join(str(i) for i in range(100))).splitlines() == [str(i) for i in range(10)]
    assert len(stderr_head("x" * 10_000)) == 2000


def test_problems_without_samples_report_no_scores() -> None:
    assert LanguageResult("python", ()).pass_at() == {}
    empty = EvaluationResult("fix", "s", "octocoder")
    assert to_json(empty)["average_pass@1"] is None
