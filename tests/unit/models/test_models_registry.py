"""Model registry on a local storage path: versions, manifests, checksums, interrupted uploads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from octopack.common.errors import DataLoss, InvalidArgument, NotFound
from octopack.models.registry import ModelRef, ModelRegistry, parse_model_ref
from octopack.models.settings import ModelSettings
from octopack.models.storage import LocalStorage


def _model(folder: Path, weights: bytes = b"w1") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (folder / "model.safetensors").write_bytes(weights)
    (folder / "tokenizer.json").write_text("{}")
    return folder


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(LocalStorage(tmp_path / "store"), ModelSettings(cache_dir=tmp_path / "cache"))


def test_versions_increase_and_latest_resolves(registry: ModelRegistry, tmp_path: Path) -> None:
    first = registry.upload("octo-tiny", _model(tmp_path / "a", b"one"), metadata={"run": "r1"})
    second = registry.upload("octo-tiny", _model(tmp_path / "b", b"two"))
    assert (str(first), str(second)) == ("octo-tiny@v1", "octo-tiny@v2")
    assert registry.versions("octo-tiny") == ["v1", "v2"]
    assert registry.resolve("octo-tiny") == ModelRef("octo-tiny", "v2")
    assert registry.manifest("octo-tiny@v1")["metadata"] == {"run": "r1"}
    local = registry.download("octo-tiny@v1")
    assert (local / "model.safetensors").read_bytes() == b"one"
    assert {f["path"] for f in registry.manifest("octo-tiny@v2")["files"]} == {
        "config.json", "model.safetensors", "tokenizer.json"}


def test_version_without_manifest_is_invisible(registry: ModelRegistry, tmp_path: Path) -> None:
    registry.upload("m", _model(tmp_path / "a"))
    # An interrupted upload: files of v2 but no manifest.
    registry.storage.upload_file("m/v2/config.json", tmp_path / "a" / "config.json")
    assert registry.versions("m") == ["v1"]
    assert str(registry.upload("m", _model(tmp_path / "b"))) == "m@v2"


def test_corrupt_file_is_data_loss(registry: ModelRegistry, tmp_path: Path) -> None:
    registry.upload("m", _model(tmp_path / "a"))
    registry.storage.put_bytes("m/v1/model.safetensors", b"tampered")
    with pytest.raises(DataLoss, match="checksum"):
        registry.download("m@v1")


def test_bad_references(registry: ModelRegistry, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="version"):
        parse_model_ref("m@latest-ish")
    with pytest.raises(InvalidArgument, match="name"):
        parse_model_ref("Bad Name")
    with pytest.raises(NotFound, match="no versions"):
        registry.resolve("absent")
    registry.upload("m", _model(tmp_path / "a"))
    with pytest.raises(NotFound, match="v1"):
        registry.resolve("m@v9")
    with pytest.raises(InvalidArgument, match=r"config\.json"):
        registry.upload("m", tmp_path)
