"""Fixtures of the chart tests: the real helm binary (installed by scripts/install.sh) and rendered manifests."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, tool

CHART = ROOT / "charts" / "octopack"
CI_VALUES = sorted((CHART / "ci").glob("*.yaml"))
GPU_VALUES = CHART / "ci" / "gpu-values.yaml"
CPU_VALUES = CHART / "ci" / "ci-values.yaml"
EXTERNAL_S3_VALUES = CHART / "ci" / "external-s3-values.yaml"
KIND_VALUES = ROOT / "kind" / "values.yaml"
#: Every values set the chart must render and validate with: default, each CI file, the kind profile's.
VALUE_SETS: dict[str, list[Path]] = {
    "default": [],
    **{f"ci/{p.name}": [p] for p in CI_VALUES},
    "kind": [KIND_VALUES],
}
RELEASE = "octopack"
NAMESPACE = "octopack"

Docs = list[dict[str, Any]]
Render = Callable[..., Docs]


@pytest.fixture(scope="session")
def helm() -> str:
    return tool("helm")


def run_helm(helm: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([helm, *args], capture_output=True, text=True, timeout=120, check=False)


def template_args(values: Sequence[Path] = (), sets: Sequence[str] = (), chart: Path = CHART) -> list[str]:
    args = ["template", RELEASE, str(chart), "--namespace", NAMESPACE]
    for path in values:
        args += ["-f", str(path)]
    for item in sets:
        args += ["--set", item]
    return args


@pytest.fixture(scope="session")
def render(helm: str) -> Render:
    """render(values=[paths], sets=["a.b=c"]) -> the manifests as dicts; cached, so do not mutate the result."""
    cache: dict[tuple[tuple[Path, ...], tuple[str, ...]], Docs] = {}

    def _render(values: Sequence[Path] = (), sets: Sequence[str] = ()) -> Docs:
        key = (tuple(values), tuple(sets))
        if key not in cache:
            proc = run_helm(helm, *template_args(values, sets))
            assert proc.returncode == 0, f"helm template failed:\n{proc.stderr}"
            cache[key] = [d for d in yaml.safe_load_all(proc.stdout) if d]
        return cache[key]

    return _render


def by_kind(docs: Docs, kind: str) -> Docs:
    return [d for d in docs if d["kind"] == kind]


def named(docs: Docs, kind: str, name: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    """name -> value (or the valueFrom mapping) of a container's environment."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}
