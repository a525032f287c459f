"""`helm lint --strict` with the default values, each CI values file and the kind profile's values."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chart import values_doc
from tests.chart.conftest import CHART, VALUE_SETS, run_helm


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_helm_lint_strict(helm: str, name: str) -> None:
    values: list[Path] = VALUE_SETS[name]
    args = ["lint", "--strict", str(CHART)]
    for path in values:
        args += ["-f", str(path)]
    proc = run_helm(helm, *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 chart(s) failed" in proc.stdout


def test_every_value_is_documented() -> None:
    """Each value of values.yaml has a `# --` comment above it, or sits inside a documented mapping
    (e.g. resources.requests.cpu under a documented `resources:`), as helm-docs and kuberay do."""
    assert undocumented_keys((CHART / "values.yaml").read_text()) == []


def test_documentation_check_finds_an_undocumented_value() -> None:
    text = "a:\n  # -- documented\n  b: 1\n  c: 2\n# -- a block\nd:\n  e: 1\n"
    assert undocumented_keys(text) == ["a.c"]


def undocumented_keys(text: str) -> list[str]:
    lines = text.splitlines()
    missing = []
    stack: list[tuple[int, str, bool]] = []  # (indent, key, documented) of the enclosing mappings
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped.startswith("- "):
            continue
        indent = len(line) - len(line.lstrip())
        while stack and stack[-1][0] >= indent:
            stack.pop()
        key, _, rest = stripped.partition(":")
        documented = _comment_above(lines, i)
        if rest.strip() == "" and _has_child_mapping(lines, i, indent):
            stack.append((indent, key, documented))
            continue
        if not documented and not any(doc for _, _, doc in stack):
            missing.append(".".join([*(k for _, k, _ in stack), key]))
    return missing


def _comment_above(lines: list[str], index: int) -> bool:
    for previous in reversed(lines[:index]):
        stripped = previous.strip()
        if not stripped.startswith("#"):
            return False
        if stripped.startswith("# --"):
            return True
    return False


def _has_child_mapping(lines: list[str], index: int, indent: int) -> bool:
    for following in lines[index + 1 :]:
        stripped = following.strip()
        if not stripped or stripped.startswith("#"):
            continue
        return len(following) - len(following.lstrip()) > indent and not stripped.startswith("- ")
    return False


def test_readme_values_table_is_up_to_date() -> None:
    """charts/octopack/README.md lists every documented value: `python -m tests.chart.values_doc --write`."""
    assert (CHART / "README.md").read_text() == values_doc.readme_with_table()
