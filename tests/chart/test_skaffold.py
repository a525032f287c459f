"""Structure of skaffold.yaml (no skaffold binary here): every artifact builds from a Dockerfile that
exists, the Helm release deploys charts/octopack, every image value it sets names a built artifact, and
the kind profile's patches apply to the document."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.conftest import CHART, KIND_VALUES, ROOT

SKAFFOLD = ROOT / "skaffold.yaml"
LANGUAGES = ["python", "js", "java", "go", "cpp", "rust"]
SERVICES = ["controller", "datasets", "crawler", "filter"]


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return yaml.safe_load(SKAFFOLD.read_text())


def apply_patches(doc: dict[str, Any], patches: list[dict[str, Any]]) -> dict[str, Any]:
    """The JSON-patch subset skaffold profiles use here: add, remove, replace."""
    doc = copy.deepcopy(doc)
    for patch in patches:
        *parents, last = [p for p in patch["path"].split("/") if p]
        node: Any = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            index = len(node) if last == "-" else int(last)
            if patch["op"] == "add":
                node.insert(index, patch["value"])
            elif patch["op"] == "remove":
                del node[index]
            else:
                node[index] = patch["value"]
        elif patch["op"] == "remove":
            del node[last]
        else:
            node[last] = patch["value"]
    return doc


def template_vars(release: dict[str, Any]) -> set[str]:
    return {
        v for t in release["setValueTemplates"].values() for v in re.findall(r"\.IMAGE_(?:REPO|TAG)_(\w+)", t)
    }


def artifact_var(image: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", image)


def test_schema_version_and_every_artifact_dockerfile_exists(config: dict[str, Any]) -> None:
    assert re.fullmatch(r"skaffold/v4beta\d+", config["apiVersion"])
    assert config["kind"] == "Config"
    artifacts = config["build"]["artifacts"]
    images = [a["image"] for a in artifacts]
    assert len(images) == len(set(images))
    expected = {"octopack-base", "octopack-ray", *(f"octopack-{s}" for s in SERVICES)}
    expected |= {f"octopack-executor-{lang}" for lang in LANGUAGES}
    assert set(images) == expected
    for artifact in artifacts:
        context = ROOT / artifact.get("context", ".")
        dockerfile = context / artifact["docker"]["dockerfile"]
        assert dockerfile.is_file(), f"{artifact['image']}: {dockerfile} is missing"
        text = dockerfile.read_text()
        for arg in artifact["docker"].get("buildArgs", {}):
            assert re.search(rf"^ARG {arg}\b", text, re.M), f"{dockerfile} takes no {arg}"
        for required in artifact.get("requires", []):
            assert required["image"] in images
            assert re.search(rf"^ARG {required['alias']}\b", text, re.M)
            assert f"FROM ${{{required['alias']}}}" in text


def test_executor_artifacts_pass_their_language(config: dict[str, Any]) -> None:
    executors = {
        a["image"]: a for a in config["build"]["artifacts"] if a["image"].startswith("octopack-executor-")
    }
    for lang in LANGUAGES:
        assert executors[f"octopack-executor-{lang}"]["docker"]["buildArgs"] == {"LANGUAGE": lang}


def test_helm_release_deploys_the_chart_with_every_built_image(config: dict[str, Any]) -> None:
    releases = config["deploy"]["helm"]["releases"]
    assert len(releases) == 1
    release = releases[0]
    assert (ROOT / release["chartPath"]).resolve() == CHART.resolve()
    images = {artifact_var(a["image"]) for a in config["build"]["artifacts"]} - {"octopack_base"}
    assert template_vars(release) == images
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for key in release["setValueTemplates"]:
        node = values
        for part in key.split(".")[:-1]:
            node = node.get(part) or {}
        assert isinstance(node, dict), f"{key} does not point into values.yaml"
    assert release["setValues"]["image.registry"] == ""


def test_kind_profile_builds_locally_and_only_deploys_what_it_builds(config: dict[str, Any]) -> None:
    profiles = {p["name"]: p for p in config["profiles"]}
    assert "kind" in profiles
    kind = profiles["kind"]
    assert {"kubeContext": "kind-octopack"} in kind["activation"]
    patched = apply_patches(config, kind["patches"])
    assert patched["build"]["local"]["push"] is False
    release = patched["deploy"]["helm"]["releases"][0]
    assert [ROOT / f for f in release["valuesFiles"]] == [KIND_VALUES]
    built = {artifact_var(a["image"]) for a in patched["build"]["artifacts"]}
    assert "octopack_ray" not in built
    assert template_vars(release) <= built
    kind_values = yaml.safe_load(KIND_VALUES.read_text())
    assert kind_values["inference"]["enabled"] is False  # no Ray image on kind


def test_kind_cluster_config(config: dict[str, Any]) -> None:
    cluster = yaml.safe_load((ROOT / "kind" / "cluster.yaml").read_text())
    assert cluster["kind"] == "Cluster" and cluster["apiVersion"].startswith("kind.x-k8s.io/")
    assert f"kind-{cluster['name']}" in {
        a["kubeContext"] for p in config["profiles"] for a in p["activation"]
    }
    assert not cluster.get("networking", {}).get("disableDefaultCNI"), "kindnet enforces the NetworkPolicies"


def test_patch_helper_applies_add_remove_replace() -> None:
    doc = {"a": [1, 2, 3], "b": {"c": 1}}
    out = apply_patches(
        doc,
        [
            {"op": "remove", "path": "/a/0"},
            {"op": "add", "path": "/a/-", "value": 4},
            {"op": "replace", "path": "/b/c", "value": 2},
        ],
    )
    assert out == {"a": [2, 3, 4], "b": {"c": 2}}
    assert doc["a"] == [1, 2, 3]


def test_dockerfiles_run_as_non_root_and_services_carry_no_torch() -> None:
    files = [ROOT / "docker" / "base.Dockerfile", ROOT / "docker" / "ray.Dockerfile"]
    files += [ROOT / "services" / s / "Dockerfile" for s in [*SERVICES, "executor"]]
    for path in files:
        text = path.read_text()
        users = re.findall(r"^USER (\S+)", text, re.M)
        assert users and users[-1].split(":")[0] not in ("root", "0"), f"{path} ends as root"
    base: Path = ROOT / "docker" / "base.Dockerfile"
    assert 'pip install ".[data]"' in base.read_text()
    for path in files[2:]:
        assert "torch" not in path.read_text().lower() and "[train]" not in path.read_text()
    assert "[train,data]" in (ROOT / "docker" / "ray.Dockerfile").read_text()
    assert "install_toolchains.sh ${LANGUAGE}" in (ROOT / "services" / "executor" / "Dockerfile").read_text()
