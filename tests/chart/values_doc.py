"""The values table of charts/octopack/README.md, generated from the `# --` comments of values.yaml.

Regenerate after changing values.yaml:
    .venv/bin/python -m tests.chart.values_doc --write
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[2] / "charts" / "octopack"
MARKER = "## Values\n"


def documented(text: str) -> list[tuple[str, str]]:
    """(dotted key, description) of every value with a `# --` comment, in file order."""
    rows: list[tuple[str, str]] = []
    stack: list[tuple[int, str]] = []
    comment: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("# --"):
            comment = [stripped[4:].strip()]
            continue
        if stripped.startswith("#") and comment:
            comment.append(stripped[1:].strip())
            continue
        if not stripped or stripped.startswith("#") or stripped.startswith("- "):
            continue
        indent = len(line) - len(line.lstrip())
        while stack and stack[-1][0] >= indent:
            stack.pop()
        key = stripped.split(":", 1)[0]
        if comment:
            rows.append((".".join([*(k for _, k in stack), key]), " ".join(comment)))
            comment = []
        if stripped.endswith(":"):
            stack.append((indent, key))
    return rows


def _default(values: Any, dotted: str) -> str:
    node = values
    for part in dotted.split("."):
        node = node[part]
    shown = json.dumps(node)
    return shown if len(shown) <= 60 else "see values.yaml"


def table(text: str) -> str:
    values = yaml.safe_load(text)
    out = ["| Key | Default | Description |", "|---|---|---|"]
    for key, description in documented(text):
        default = _default(values, key).replace("|", "\\|")
        out.append(f"| `{key}` | `{default}` | {description} |")
    return "\n".join(out) + "\n"


def readme_with_table() -> str:
    readme = (CHART / "README.md").read_text()
    head = readme.split(MARKER)[0]
    note = "Generated from the `# --` comments of values.yaml: `python -m tests.chart.values_doc --write`.\n"
    return f"{head}{MARKER}\n{note}\n{table((CHART / 'values.yaml').read_text())}"


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        (CHART / "README.md").write_text(readme_with_table())
    else:
        sys.stdout.write(table((CHART / "values.yaml").read_text()))
