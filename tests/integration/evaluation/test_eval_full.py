"""Acceptance: every HumanEvalPack Fix reference in all six languages (984 programs per run).

Heavy (several minutes each on 2 cores): runs only with OCTOPACK_FULL_TESTS=1.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from octopack.cli.main import main

pytestmark = [pytest.mark.integration, pytest.mark.full]

#: Canonical solutions that may fail: Go/95 iterates a map in random order (about 1 run in 6).
FLAKY_CANONICAL = {"Go/95"}
#: Canonical solutions the harness scoring fails: declaration + solution does not build (docs/evaluation.md).
HARNESS_FAILS = {"Go/10", "Go/32", "Go/38", "Go/50", "CPP/38"}
#: Buggy solutions that pass: C++/23's test calls the C library's strlen, not the buggy one.
PASSING_BUGGY = {"CPP/23"}


def run_reference(out: Path, reference: str, scoring: str = "corrected") -> dict[str, dict]:
    args = ["eval", "--task", "fix", "--language", "all", "--reference", reference, "--out", str(out),
            "--scoring", scoring]
    assert main(args) == 0
    return json.loads((out / "results.json").read_text())["languages"]


def outcomes(languages: dict[str, dict]) -> dict[str, str]:
    return {r["task_id"]: r["verdicts"][0]["status"] for lang in languages.values() for r in lang["results"]}


def test_every_canonical_solution_passes_when_corrected(tmp_path: Path) -> None:
    languages = run_reference(tmp_path, "canonical")
    assert all(lang["problems"] == 164 for lang in languages.values())
    failed = {task_id: s for task_id, s in outcomes(languages).items() if s != "passed"}
    assert set(failed) <= FLAKY_CANONICAL, failed


def test_harness_fails_the_canonical_solutions_the_reference_procedure_fails(tmp_path: Path) -> None:
    languages = run_reference(tmp_path, "canonical", "harness")
    failed = {task_id: s for task_id, s in outcomes(languages).items() if s != "passed"}
    assert HARNESS_FAILS <= set(failed) <= HARNESS_FAILS | FLAKY_CANONICAL, failed


@pytest.mark.parametrize("scoring", ["harness", "corrected"])
def test_no_buggy_solution_passes(tmp_path: Path, scoring: str) -> None:
    languages = run_reference(tmp_path, "buggy", scoring)
    assert all(lang["problems"] == 164 for lang in languages.values())
    passed = {task_id for task_id, s in outcomes(languages).items() if s == "passed"}
    assert passed <= PASSING_BUGGY, passed
