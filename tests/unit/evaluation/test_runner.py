"""The scoring path with a scripted executor and generator (no servers)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from octopack.common.errors import FailedPrecondition
from octopack.common.vocabulary import executor_language
from octopack.evaluation import runner
from octopack.evaluation.dataset import Problem, load_problems
from octopack.evaluation.executor_client import Capabilities
from octopack.evaluation.postprocess import postprocess_code, postprocess_description
from octopack.evaluation.programs import Scoring, assemble_programs
from octopack.evaluation.results import to_json
from octopack.evaluation.runner import build_programs, evaluate, select_problems
from octopack.evaluation.sources import (
    GenerationParams,
    GenerationRequest,
    ReferenceGenerator,
    SamplesGenerator,
)
from octopack.executor.v1 import executor_pb2


class ScriptedExecutor:
    """Passes a program when its source contains 'PASS'; fails it with stderr otherwise."""

    address = "scripted"

    def __init__(self, languages: Sequence[str] = ("python", "js", "java", "go", "cpp", "rust")) -> None:
        self.languages = frozenset(executor_language(lang) for lang in languages)
        self.programs: list[executor_pb2.Program] = []

    async def capabilities(self) -> Capabilities:
        return Capabilities(self.languages, 2, 8)

    async def execute(
        self,
        programs: Sequence[executor_pb2.Program],
        window: int | None = None,
        on_result: Callable[[executor_pb2.Result], None] | None = None,
    ) -> dict[str, executor_pb2.Result]:
        self.programs.extend(programs)
        out = {}
        for p in programs:
            ok = "PASS" in p.source
            result = executor_pb2.Result(
                id=p.id,
                status=executor_pb2.STATUS_PASSED if ok else executor_pb2.STATUS_FAILED,
                exit_code=0 if ok else 1,
                stderr="" if ok else "\n".join(f"line {i}" for i in range(30)),
            )
            out[p.id] = result
            if on_result:
                on_result(result)
        return out


class ScriptedModel:
    """A describing generator that records what it was asked."""

    raw = False
    describes = True

    def __init__(self) -> None:
        self.calls: list[tuple[list[GenerationRequest], GenerationParams]] = []

    def generate(self, requests: Sequence[GenerationRequest], params: GenerationParams) -> list[list[str]]:
        self.calls.append((list(requests), params))
        if requests[0].stage == "describe":
            return [[f"Description {i} of {r.task_id}." for i in range(params.n)] for r in requests]
        return [["\n    return 1  # PASS\n\nprint(1)"] * params.n for _ in requests]


async def test_samples_are_postprocessed_run_and_scored() -> None:
    problems = select_problems(["python"], 2)
    body = "\n    return True  # PASS\n\n\ndef main():\n    pass\n"
    samples = SamplesGenerator({"Python/0": [body, "\n    return False\n"], "Python/1": ["\n    return 0\n"]})
    executor = ScriptedExecutor()
    seen: list[str] = []
    totals: list[int] = []
    result = await evaluate(
        "synthesize",
        problems,
        samples,
        executor,
        on_total=totals.append,
        on_result=lambda r: seen.append(r.id),  # type: ignore[arg-type]
    )
    assert totals == [3]
    assert sorted(seen) == ["Python/0#0", "Python/0#1", "Python/1#0"]
    first = executor.programs[0]
    assert first.id == "Python/0#0"
    # The code base is right-stripped, the continuation cut before the next def.
    assert "def main" not in first.source
    lang = result.languages["python"]
    assert [(p.n, p.correct) for p in lang.problems] == [(2, 1), (1, 0)]
    assert lang.pass_at() == {1: pytest.approx((0.5 + 0) / 2)}
    failed = lang.problems[1].verdicts[0]
    assert failed.status == "failed"
    assert failed.stderr.splitlines() == [f"line {i}" for i in range(10)]
    assert lang.problems[0].verdicts[0].stderr == ""


@pytest.fixture
def codes(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The code the runner hands to program assembly, by program id."""
    seen: dict[str, str] = {}

    def recording(
        problem: Problem, codes: Sequence[str], ids: Sequence[str], scoring: Scoring = "harness"
    ) -> list[executor_pb2.Program]:
        seen.update(zip(ids, codes, strict=True))
        return assemble_programs(problem, codes, ids, scoring)

    monkeypatch.setattr(runner, "assemble_programs", recording)
    return seen


async def test_reference_is_appended_raw_to_the_declaration_for_fix(codes: dict[str, str]) -> None:
    problems = select_problems(["python", "rust"], 1)
    flat = [p for ps in problems.values() for p in ps]
    await evaluate("fix", problems, ReferenceGenerator(flat, "canonical"), ScriptedExecutor())  # type: ignore[arg-type]
    py, rust = flat
    assert codes["Python/0#0"] == py.declaration + py.canonical_solution
    assert codes["Rust/0#0"] == "fn main(){}\n" + rust.declaration + rust.canonical_solution


async def test_explain_describes_then_rewrites_each_description() -> None:
    problems = select_problems(["python"], 2)
    model = ScriptedModel()
    result = await evaluate("explain", problems, model, ScriptedExecutor(), GenerationParams(n=3))  # type: ignore[arg-type]
    (describe, params1), (rewrite, params2) = model.calls
    assert [r.stage for r in describe] == ["describe", "describe"]
    assert "Provide a concise natural language description" in describe[0].prompt
    assert params1.n == 3 and params2.n == 1
    assert len(rewrite) == 6
    assert rewrite[0].prompt.startswith(
        "Question: Write functional code in Python according to the description.\nDescription 0 of Python/0.\n"
    )
    assert "\ndef" in rewrite[0].stop and "<|endoftext|>" in rewrite[0].stop
    lang = result.languages["python"]
    assert [(p.n, p.correct) for p in lang.problems] == [(3, 3), (3, 3)]


async def test_explain_from_samples_scores_the_rewritten_code(codes: dict[str, str]) -> None:
    problems = select_problems(["python"], 1)
    samples = SamplesGenerator({"Python/0": ["\n    return True  # PASS\n"]})
    result = await evaluate("explain", problems, samples, ScriptedExecutor())  # type: ignore[arg-type]
    assert result.languages["python"].passed == 1
    assert codes["Python/0#0"] == problems["python"][0].prompt.rstrip() + "\n    return True  # PASS"


async def test_a_language_the_executor_lacks_fails_early() -> None:
    problems = select_problems(["python", "go"], 1)
    flat = [p for ps in problems.values() for p in ps]
    executor = ScriptedExecutor(["python"])
    with pytest.raises(FailedPrecondition, match="cannot run go"):
        await evaluate("fix", problems, ReferenceGenerator(flat), executor)  # type: ignore[arg-type]
    assert executor.programs == []


def test_build_programs_uses_one_id_per_sample() -> None:
    from octopack.evaluation.runner import Sampled

    problem = load_problems("cpp")[0]
    programs = build_programs("fix", [Sampled(problem, ["a}", "b}"], ["p", "p"])], raw=False)
    assert [p.id for p in programs] == ["CPP/0#0", "CPP/0#1"]
    assert programs[0].language == executor_language("cpp")


def test_postprocess_code_joins_base_and_continuation() -> None:
    problem = load_problems("python")[0]
    code = postprocess_code(problem, "fix", "\n    return False\n\nprint(1)")
    assert code == problem.declaration.rstrip() + "\n    return False\n"
    go = load_problems("go")[0]
    code = postprocess_code(go, "synthesize", "\n    return false\n}\n\nfunc main() {\n}\n")
    assert code == go.prompt.rstrip() + "\n    return false\n}"


def test_description_is_cut_and_loses_copied_code_lines() -> None:
    problem = load_problems("python")[0]
    limit = len(problem.docstring)
    copied = "for idx2, elem2 in enumerate(numbers):"
    text = postprocess_description(problem, f"  Checks pairs. {copied} Done.  ")
    assert text == "Checks pairs.  Done."
    assert len(postprocess_description(problem, "x" * 1000)) == limit


class HelperExecutor(ScriptedExecutor):
    """Go/10's canonical solution calls IsPalindrome: it passes only where the program defines it."""

    async def execute(self, programs, window=None, on_result=None):  # type: ignore[no-untyped-def]
        self.programs.extend(programs)
        out = {}
        for p in programs:
            ok = "IsPalindrome(str string)" in p.source or not p.id.startswith("Go/10")
            out[p.id] = executor_pb2.Result(id=p.id, status=executor_pb2.STATUS_PASSED if ok else
                                            executor_pb2.STATUS_COMPILE_ERROR)
        return out


@pytest.mark.parametrize(("scoring", "other"), [("harness", "corrected"), ("corrected", "harness")])
async def test_compare_semantics_reruns_only_programs_that_differ(scoring: Scoring, other: str) -> None:
    go = load_problems("go")
    problems = {"python": load_problems("python")[:1], "go": [go[0], go[10]]}
    flat = [p for ps in problems.values() for p in ps]
    executor = HelperExecutor()
    totals: list[int] = []
    result = await evaluate("fix", problems, ReferenceGenerator(flat), executor, scoring=scoring,  # type: ignore[arg-type]
                            compare=True, on_total=totals.append)
    # Fix builds on the declaration under harness, on the prompt when corrected: every program differs.
    assert sorted(p.id for p in executor.programs) == sorted(
        ["Python/0#0", "Go/0#0", "Go/10#0", "Python/0#0@other", "Go/0#0@other", "Go/10#0@other"])
    assert totals == [6]
    assert result.scoring == scoring and result.comparison is not None and result.comparison.other == other
    passed = {scoring: 0 if scoring == "harness" else 1, other: 0 if other == "harness" else 1}
    assert result.languages["go"].problems[1].correct == passed[scoring]
    doc = to_json(result)["compare_semantics"]
    assert doc["other"] == other and doc["programs_rerun"] == 3
    assert doc["languages"]["python"]["differing_problems"] == []
    assert doc["languages"]["go"]["differing_problems"] == [
        {"task_id": "Go/10", "statuses": {"harness": ["compile_error"], "corrected": ["passed"]}}]
    assert doc["languages"]["go"]["passed"] == {"harness": 1, "corrected": 2}


async def test_the_scoring_is_recorded_and_checked() -> None:
    problems = select_problems(["python"], 1)
    flat = problems["python"]
    result = await evaluate("fix", problems, ReferenceGenerator(flat), ScriptedExecutor())  # type: ignore[arg-type]
    assert to_json(result)["scoring"] == "harness" and "compare_semantics" not in to_json(result)
    from octopack.common.errors import InvalidArgument

    with pytest.raises(InvalidArgument, match="scoring must be one of harness, corrected"):
        await evaluate("fix", problems, ReferenceGenerator(flat), ScriptedExecutor(), scoring="best")  # type: ignore[arg-type]


async def test_compare_semantics_shares_the_verdict_of_identical_programs() -> None:
    """Synthesize in Python assembles the same program under both scorings: it runs once."""
    problems = select_problems(["python"], 2)
    samples = SamplesGenerator({"Python/0": ["\n    return True  # PASS\n"], "Python/1": ["\n    return 0\n"]})
    executor = ScriptedExecutor()
    result = await evaluate("synthesize", problems, samples, executor, compare=True)
    assert sorted(p.id for p in executor.programs) == ["Python/0#0", "Python/1#0"]
    assert result.comparison is not None and result.comparison.programs_rerun == 0
    assert result.comparison.languages["python"].passed == result.languages["python"].passed == 1
