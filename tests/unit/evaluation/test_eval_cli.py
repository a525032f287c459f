"""``octopack eval`` argument and input errors (they stop before any executor starts)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from octopack.cli.main import main


def run_eval(tmp_path: Path, *extra: str) -> int:
    return main(["eval", "--task", "fix", "--language", "python", "--out", str(tmp_path / "out"), *extra])


def test_unknown_task_id_in_samples(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps({"task_id": "Python/0", "generations": ["x"]}) + "\n")
    samples.write_text(
        samples.read_text() + json.dumps({"task_id": "Python/500", "generations": ["x"]}) + "\n"
    )
    assert run_eval(tmp_path, "--samples", str(samples)) == 2
    err = capsys.readouterr().err
    assert "error: " in err and "s.jsonl:2: unknown task_id 'Python/500'" in err
    assert not (tmp_path / "out" / "results.json").exists()


def test_missing_field_in_samples(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps({"task_id": "Python/0"}) + "\n")
    assert run_eval(tmp_path, "--samples", str(samples)) == 2
    assert "s.jsonl:1: missing field 'generations'" in capsys.readouterr().err


def test_missing_samples_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_eval(tmp_path, "--samples", str(tmp_path / "none.jsonl")) == 2
    assert "does not exist" in capsys.readouterr().err


def test_raw_needs_samples(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_eval(tmp_path, "--reference", "canonical", "--raw") == 2
    assert "--raw applies to --samples only" in capsys.readouterr().err


def test_bad_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_eval(tmp_path, "--reference", "canonical", "--limit", "0") == 2
    assert "--limit must be at least 1" in capsys.readouterr().err


def test_exactly_one_source_is_required(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        run_eval(tmp_path)
    assert exc.value.code == 2
    with pytest.raises(SystemExit):
        run_eval(tmp_path, "--reference", "canonical", "--samples", "x.jsonl")
