"""``octopack eval`` end to end: real executors on loopback ports, real toolchains."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from octopack.cli.main import main

pytestmark = pytest.mark.integration

LANGUAGES = ("python", "js", "java", "go", "cpp", "rust")


def eval_json(out: Path, *args: str) -> dict[str, Any]:
    assert main(["eval", *args, "--out", str(out)]) == 0
    return json.loads((out / "results.json").read_text())


@pytest.mark.parametrize(("reference", "expected"), [("canonical", 3), ("buggy", 0)])
def test_references_in_every_language(tmp_path: Path, reference: str, expected: int) -> None:
    doc = eval_json(tmp_path, "--task", "fix", "--language", "all", "--reference", reference, "--limit", "3")
    assert list(doc["languages"]) == list(LANGUAGES)
    for name, lang in doc["languages"].items():
        statuses = [v["status"] for r in lang["results"] for v in r["verdicts"]]
        assert lang["problems"] == 3, name
        assert lang["passed"] == expected, (name, statuses)
        assert lang["pass@1"] == expected / 3
        assert "pass@10" not in lang
    assert (tmp_path / "pass_at_1_fix.png").read_bytes()[:4] == b"\x89PNG"
    if reference == "buggy":
        stderr = [v["stderr"] for r in doc["languages"]["python"]["results"] for v in r["verdicts"]]
        assert any("AssertionError" in s for s in stderr)


def test_samples_against_a_running_executor(tmp_path: Path, executor_address: str) -> None:
    """A samples file with real-looking generations, scored by an executor the command did not start."""
    wrong = "\n    return sum(1 for x in numbers if x > 0) >= 0\n\n\ndef main():\n    print(1)\n"
    body = (
        "\n    for i, a in enumerate(numbers):\n        for j, b in enumerate(numbers):\n"
        "            if i != j and abs(a - b) < threshold:\n                return True\n"
        "    return False\n\n\nif __name__ == '__main__':\n    print(has_close_elements([1.0], 0.5))\n"
    )
    js = "\n  return a + b;\n}\n\nconsole.log(add(1, 2));\n"
    lines = [
        {"task_id": "Python/0", "generations": [body, wrong]},
        {"task_id": "JavaScript/0", "generations": [js, "<|endoftext|>"]},
    ]
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps(line) + "\n" for line in lines))
    doc = eval_json(
        tmp_path / "out",
        *("--task", "synthesize", "--language", "python", "--language", "js", "--limit", "1"),
        *("--samples", str(samples), "--executor", executor_address),
    )
    assert doc["executor"] == executor_address
    python, js_lang = doc["languages"]["python"], doc["languages"]["js"]
    assert [v["status"] for v in python["results"][0]["verdicts"]] == ["passed", "failed"]
    assert python["pass@1"] == 0.5
    assert js_lang["passed"] == 0
    assert doc["generation"]["raw"] is False


def test_canonical_through_a_running_executor(tmp_path: Path, executor_address: str) -> None:
    doc = eval_json(
        tmp_path,
        *("--task", "synthesize", "--language", "go", "--language", "cpp", "--limit", "2"),
        *("--reference", "canonical", "--executor", executor_address, "--no-plot"),
    )
    assert {name: lang["passed"] for name, lang in doc["languages"].items()} == {"go": 2, "cpp": 2}
    assert not list(tmp_path.glob("*.png"))


def test_unreachable_executor_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as sock:  # a free port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = [
        "--reference",
        "canonical",
        "--limit",
        "1",
        "--executor",
        f"127.0.0.1:{port}",
        "--connect-timeout",
        "1",
    ]
    code = main(["eval", "--task", "fix", "--language", "python", *args, "--out", str(tmp_path)])
    assert code == 2
    assert f"executor at 127.0.0.1:{port}" in capsys.readouterr().err
