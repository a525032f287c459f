"""All 984 canonical and all 984 buggy HumanEvalPack Fix programs (OCTOPACK_FULL_TESTS=1)."""

from __future__ import annotations

import pytest

from octopack.common.vocabulary import LANGUAGES
from octopack.evaluation.dataset import load_problems
from octopack.evaluation.programs import build_program
from octopack.executor.v1 import executor_pb2
from tests.integration.executor.executor_server import ExecutorServer, fix_code

pytestmark = [pytest.mark.integration, pytest.mark.full]

S = executor_pb2
#: Go/95's canonical solution looks at only two keys of a map, in Go's random iteration order;
#: Rust/32's Newton iteration does not converge on some of its test's unseeded random
#: polynomials. Both fail in some runs whatever the harness does (see docs/executor.md).
FLAKY_CANONICAL = {"Go/95", "Rust/32"}
#: C++/23's test calls strlen on literals, which resolves to the C library: the buggy strlen passes.
BUGGY_PASSES = {"CPP/23"}


def _run(executor: ExecutorServer, language: str, which: str) -> dict[str, int]:
    problems = load_problems(language)
    programs = [build_program(p, fix_code(p, getattr(p, f"{which}_solution")), p.task_id, "corrected") for p in problems]
    stub = executor.stub()
    statuses: dict[str, int] = {}
    for start in range(0, len(programs), 32):
        reply = stub.ExecuteBatch(S.ExecuteBatchRequest(programs=programs[start : start + 32]), timeout=1800)
        statuses.update({r.id: r.status for r in reply.results})
    return statuses


@pytest.mark.timeout(3600)
@pytest.mark.parametrize("language", LANGUAGES)
def test_all_canonical_pass(executor: ExecutorServer, language: str) -> None:
    statuses = _run(executor, language, "canonical")
    failed = {tid: S.Status.Name(s) for tid, s in statuses.items() if s != S.STATUS_PASSED}  # type: ignore[arg-type]
    assert set(failed) <= FLAKY_CANONICAL, failed


@pytest.mark.timeout(3600)
@pytest.mark.parametrize("language", LANGUAGES)
def test_all_buggy_fail(executor: ExecutorServer, language: str) -> None:
    statuses = _run(executor, language, "buggy")
    passed = {tid for tid, s in statuses.items() if s == S.STATUS_PASSED}
    assert passed <= BUGGY_PASSES, passed
    assert S.STATUS_SANDBOX_ERROR not in statuses.values()
