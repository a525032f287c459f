"""A tiny Llama-shaped model with its own BPE tokenizer, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from octopack.models.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-serve"))


@pytest.fixture(scope="session")
def engine(tiny_model: Path):
    import torch

    from octopack.ray_jobs.serve.engine import GenerationEngine

    torch.set_num_threads(1)
    return GenerationEngine.load(tiny_model, device="cpu")
