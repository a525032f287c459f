"""Samples files and the reference source: parsing and the errors they give."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from octopack.common.errors import FailedPrecondition, InvalidArgument, NotFound
from octopack.evaluation.dataset import load_problems
from octopack.evaluation.sources import (
    GenerationParams,
    GenerationRequest,
    ReferenceGenerator,
    SamplesGenerator,
    language_of,
    parse_samples,
    read_samples,
)


def line(task_id: str, generations: object) -> str:
    return json.dumps({"task_id": task_id, "generations": generations})


def request(task_id: str, stage: str = "code") -> GenerationRequest:
    return GenerationRequest(task_id, language_of(task_id), "fix", stage, "prompt")  # type: ignore[arg-type]


def test_parses_task_ids_of_every_language() -> None:
    lines = [line(f"{p}/3", [f"g{p}", "h"]) for p in ("Python", "JavaScript", "Java", "Go", "CPP", "Rust")]
    samples = parse_samples([*lines, ""])
    assert samples["CPP/3"] == ["gCPP", "h"]
    assert len(samples) == 6


def test_read_samples_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text(line("Go/0", ["x"]) + "\n" + line("Go/1", ["y", "z"]) + "\n")
    assert read_samples(path) == {"Go/0": ["x"], "Go/1": ["y", "z"]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"task_id": "Python/0"}', r"s.jsonl:1: missing field 'generations'"),
        ('{"generations": ["x"]}', r"s.jsonl:1: missing field 'task_id'"),
        ("not json", r"s.jsonl:1: not valid JSON"),
        ('["Python/0", ["x"]]', r"s.jsonl:1: expected a JSON object"),
        ('{"task_id": "Python/0", "generations": "x"}', "generations must be a non-empty list of strings"),
        ('{"task_id": "Python/0", "generations": []}', "generations must be a non-empty list of strings"),
        ('{"task_id": "Python/0", "generations": [1]}', "generations must be a non-empty list of strings"),
        ('{"task_id": 0, "generations": ["x"]}', "task_id must be a string"),
        ('{"task_id": "Python/164", "generations": ["x"]}', r"unknown task_id 'Python/164'"),
        ('{"task_id": "Kotlin/0", "generations": ["x"]}', r"unknown task_id 'Kotlin/0'"),
        ("", r"no samples"),
    ],
)
def test_bad_lines_give_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        parse_samples([text], "s.jsonl")


def test_error_names_the_line_number() -> None:
    with pytest.raises(InvalidArgument, match=r"s.jsonl:3: unknown task_id 'Rust/999'"):
        parse_samples([line("Rust/0", ["a"]), "", line("Rust/999", ["b"])], "s.jsonl")


def test_duplicate_task_id_is_an_error() -> None:
    with pytest.raises(InvalidArgument, match="appears twice"):
        parse_samples([line("Java/1", ["a"]), line("Java/1", ["b"])])


def test_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="does not exist"):
        read_samples(tmp_path / "nope.jsonl")


def test_samples_generator_answers_by_task_id() -> None:
    gen = SamplesGenerator({"Python/0": ["a", "b"], "Python/1": ["c"]})
    assert gen.generate([request("Python/1"), request("Python/0")], GenerationParams()) == [["c"], ["a", "b"]]
    assert gen.raw is False


def test_samples_generator_reports_selected_problems_it_lacks() -> None:
    gen = SamplesGenerator({"Python/0": ["a"]})
    with pytest.raises(NotFound, match=r"no generations for 1 selected problems \(first: Python/1\)"):
        gen.generate([request("Python/0"), request("Python/1")], GenerationParams())


def test_file_and_reference_sources_cannot_describe() -> None:
    with pytest.raises(FailedPrecondition, match="needs a model"):
        SamplesGenerator({"Python/0": ["a"]}).generate([request("Python/0", "describe")], GenerationParams())
    ref = ReferenceGenerator(load_problems("python")[:1])
    with pytest.raises(FailedPrecondition, match="needs a model"):
        ref.generate([request("Python/0", "describe")], GenerationParams())


def test_reference_generator_gives_canonical_or_buggy_solution() -> None:
    problems = load_problems("js")[:2]
    canonical = ReferenceGenerator(problems, "canonical").generate(
        [request("JavaScript/1")], GenerationParams()
    )
    buggy = ReferenceGenerator(problems, "buggy").generate([request("JavaScript/1")], GenerationParams())
    assert canonical == [[problems[1].canonical_solution]]
    assert buggy == [[problems[1].buggy_solution]]
    assert canonical != buggy
    with pytest.raises(InvalidArgument, match="canonical or buggy"):
        ReferenceGenerator(problems, "fixed")  # type: ignore[arg-type]
