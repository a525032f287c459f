"""Rendered manifests against the Kubernetes API schemas (kubernetes-validate, strict: unknown fields fail),
for the oldest Kubernetes the chart supports and the newest the validator knows. The pods inside the
KubeRay resources are validated as Pods; the CRD kinds themselves are checked in test_kuberay.py."""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate  # the dev extra (scripts/install.sh); a missing install fails here, not skips
import pytest
from kubernetes_validate.utils import SchemaNotFoundError, ValidationError

from tests.chart import policy
from tests.chart.conftest import CHART, VALUE_SETS, Docs, Render, named


@pytest.fixture(scope="module", autouse=True)
def cached_schemas() -> Iterator[None]:
    """kubernetes-validate parses the multi-megabyte _definitions.json on every call; parse each file once."""
    utils = kubernetes_validate.utils
    patch = pytest.MonkeyPatch()
    patch.setattr(utils, "schema_contents", functools.lru_cache(maxsize=None)(utils.schema_contents))
    patch.setattr(utils, "all_versions", functools.lru_cache(maxsize=1)(utils.all_versions))
    yield
    patch.undo()


#: Kinds from CRDs (KubeRay, KEDA, Prometheus operator): no bundled schema.
CRD_KINDS = {"RayService", "RayJob", "RayCluster", "ScaledObject", "ServiceMonitor"}


def _supported() -> list[str]:
    """The chart's minimum (Chart.yaml kubeVersion) and the newest version the validator bundles."""
    chart = (CHART / "Chart.yaml").read_text()
    floor = re.search(r'kubeVersion: ">=(\d+\.\d+)', chart)
    assert floor is not None
    newest = kubernetes_validate.utils.latest_version()
    return sorted({f"{floor.group(1)}.0", newest if newest.count(".") == 2 else f"{newest}.0"})


VERSIONS = _supported()


def validate_all(docs: Docs, version: str) -> tuple[list[str], set[str]]:
    """(errors, kinds without a schema) for the documents and the pods embedded in custom resources."""
    errors: list[str] = []
    unknown: set[str] = set()
    targets: list[tuple[str, dict[str, Any]]] = [(f"{d['kind']}/{d['metadata']['name']}", d) for d in docs]
    for where, template in policy.pod_templates(docs):
        if " " in where:  # a pod embedded in a RayService, RayCluster or RayJob
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "embedded", **template.get("metadata", {})},
                "spec": template["spec"],
            }
            targets.append((where, pod))
    for where, doc in targets:
        try:
            kubernetes_validate.validate(doc, version, True)
        except SchemaNotFoundError:
            unknown.add(doc["kind"])
        except ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            errors.append(f"{where} ({version}): {path}: {exc.message}")
    return errors, unknown


#: Every values set against the oldest supported and the newest known schemas.
CASES = [(name, version) for name in sorted(VALUE_SETS) for version in VERSIONS]


@pytest.mark.parametrize(("name", "version"), CASES)
def test_manifests_match_the_kubernetes_schemas(render: Render, name: str, version: str) -> None:
    values: list[Path] = VALUE_SETS[name]
    errors, unknown = validate_all(render(values), version)
    assert errors == []
    assert unknown <= CRD_KINDS, f"no schema for {unknown - CRD_KINDS}: a misspelt kind or apiVersion?"


def test_validator_rejects_an_unknown_field_and_a_wrong_type(render: Render) -> None:
    docs = copy.deepcopy(render())
    dep = named(docs, "Deployment", "octopack-filter")
    dep["spec"]["template"]["spec"]["containers"][0]["resource"] = {}
    named(docs, "Deployment", "octopack-crawler")["spec"]["replicas"] = "two"
    svc = named(docs, "RayService", "octopack-inference")
    svc["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"][0]["ports"][0][
        "containerPort"
    ] = "x"
    errors, _ = validate_all(docs, VERSIONS[-1])
    assert any(e.startswith("Deployment/octopack-filter") and "resource" in e for e in errors)
    assert any(e.startswith("Deployment/octopack-crawler") and "replicas" in e for e in errors)
    assert any(e.startswith("RayService/octopack-inference head") and "containerPort" in e for e in errors)
