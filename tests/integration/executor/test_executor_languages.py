"""HumanEvalPack programs in all six languages through the server: canonical passes, buggy fails."""

from __future__ import annotations

import pytest

from octopack.common.vocabulary import LANGUAGES
from octopack.evaluation.dataset import load_problems
from octopack.evaluation.programs import build_program
from octopack.executor.v1 import executor_pb2
from tests.integration.executor.executor_server import ExecutorServer, fix_code

pytestmark = pytest.mark.integration

S = executor_pb2
#: A few problems per language, including ones the plain declaration gets wrong
#: (Go/10: helper only in the prompt; C++/38: half a body in the declaration; Rust/50: rand 0.4 API).
SAMPLE = {"python": [0, 1], "js": [0, 1], "java": [0, 1], "go": [0, 10], "cpp": [0, 38], "rust": [0, 50]}


@pytest.mark.parametrize("language", LANGUAGES)
def test_canonical_passes_and_buggy_fails(executor: ExecutorServer, language: str) -> None:
    problems = [load_problems(language)[i] for i in SAMPLE[language]]
    programs = [
        build_program(p, fix_code(p, p.canonical_solution), f"{p.task_id}#canonical", "corrected") for p in problems
    ]
    programs += [build_program(p, fix_code(p, p.buggy_solution), f"{p.task_id}#buggy", "corrected") for p in problems]
    reply = executor.stub().ExecuteBatch(S.ExecuteBatchRequest(programs=programs), timeout=600)
    for result in reply.results:
        if result.id.endswith("#canonical"):
            assert result.status == S.STATUS_PASSED, result
        else:
            assert result.status not in (S.STATUS_PASSED, S.STATUS_SANDBOX_ERROR), result
