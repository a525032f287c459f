"""The two scorings through a real executor: ``harness`` fails what bigcode-evaluation-harness fails.

Real compilers judge the programs. The reference procedure (each program as the harness
writes it, run the harness's way: see docs/evaluation.md) fails the canonical Fix solutions
of Go/10, 32, 38, 50 and C++/38; corrected passes them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from octopack.cli.main import main
from octopack.evaluation.dataset import load_problems
from octopack.evaluation.executor_client import ExecutorClient
from octopack.evaluation.runner import evaluate
from octopack.evaluation.sources import ReferenceGenerator, SamplesGenerator

pytestmark = pytest.mark.integration

#: The canonical Fix solutions the reference procedure fails (declaration + solution does not build).
HARNESS_FAILS = {"Go/10", "Go/32", "Go/38", "Go/50", "CPP/38"}


def _statuses(result, language: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {p.task_id: p.verdicts[0].status for p in result.languages[language].problems}


async def test_canonical_and_buggy_fix_give_the_reference_verdicts(executor_address: str) -> None:
    go, cpp = load_problems("go"), load_problems("cpp")
    problems = {"go": [go[i] for i in (0, 10, 32, 38, 50, 53)], "cpp": [cpp[i] for i in (0, 38)]}
    flat = [p for ps in problems.values() for p in ps]
    async with ExecutorClient(executor_address) as client:
        canonical = await evaluate("fix", problems, ReferenceGenerator(flat, "canonical"), client, compare=True)
        buggy = await evaluate("fix", problems, ReferenceGenerator(flat, "buggy"), client)
    assert canonical.scoring == "harness"
    harness = {**_statuses(canonical, "go"), **_statuses(canonical, "cpp")}
    assert {t for t, s in harness.items() if s != "passed"} == HARNESS_FAILS
    assert {harness[t] for t in HARNESS_FAILS} == {"compile_error"}
    comparison = canonical.comparison
    assert comparison is not None and comparison.other == "corrected"
    corrected = {**_statuses(comparison, "go"), **_statuses(comparison, "cpp")}
    assert set(corrected.values()) == {"passed"}
    differing = comparison.differences(canonical.languages, "harness")
    assert {d.task_id for lang in differing.values() for d in lang} == HARNESS_FAILS
    assert not [t for lang in ("go", "cpp") for t, s in _statuses(buggy, lang).items() if s == "passed"]


async def test_go_synthesize_imports_fail_as_in_the_harness(executor_address: str) -> None:
    """An unused import the prompt declares, and a package the prompt never imported (math/rand)."""
    go = load_problems("go")
    unused = go[27]  # the prompt imports "strings"; the canonical solution does not use it
    rand = go[0]  # the prompt imports "math" only
    samples = SamplesGenerator({
        unused.task_id: ["\n" + unused.canonical_solution],
        rand.task_id: ["\n    _ = rand.Intn(2)\n" + rand.canonical_solution],
    })
    problems = {"go": [unused, rand]}
    async with ExecutorClient(executor_address) as client:
        result = await evaluate("synthesize", problems, samples, client, compare=True)
    assert _statuses(result, "go") == {"Go/27": "compile_error", "Go/0": "compile_error"}
    stderr = {p.task_id: p.verdicts[0].stderr for p in result.languages["go"].problems}
    assert 'imported and not used: "strings"' in stderr["Go/27"]
    assert '"rand"' in stderr["Go/0"], stderr["Go/0"]
    assert result.comparison is not None
    assert _statuses(result.comparison, "go") == {"Go/27": "passed", "Go/0": "passed"}


def test_the_command_line_records_the_scoring_and_the_comparison(tmp_path: Path, executor_address: str,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    args = ["eval", "--task", "fix", "--language", "python", "--reference", "canonical", "--limit", "2",
            "--executor", executor_address, "--no-plot", "--compare-semantics", "--out", str(tmp_path)]
    assert main(args) == 0
    assert "harness scoring" in capsys.readouterr().out
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["scoring"] == "harness" and doc["languages"]["python"]["passed"] == 2
    compared = doc["compare_semantics"]
    assert compared["other"] == "corrected" and compared["programs_rerun"] == 2
    assert compared["languages"]["python"]["passed"] == {"harness": 2, "corrected": 2}
    assert compared["languages"]["python"]["differing_problems"] == []
    out = tmp_path / "corrected"
    assert main([*args[:-2], "--out", str(out), "--scoring", "corrected"]) == 0
    again = json.loads((out / "results.json").read_text())
    assert again["scoring"] == "corrected" and "compare_semantics" in again
