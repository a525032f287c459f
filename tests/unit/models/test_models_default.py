"""The default model's paths: the tokenizer path needs no torch once the model is converted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from octopack.models.default import default_model_path


def test_tokenizer_path_without_torch(tmp_path: Path) -> None:
    target = tmp_path / "smollm2-135m-instruct"
    target.mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        (target / name).write_text("{}")
    code = (
        "import sys, json\n"
        "from octopack.models.default import default_tokenizer_path\n"
        "p = default_tokenizer_path()\n"
        "print(json.dumps({'path': str(p), 'torch': 'torch' in sys.modules}))\n"
    )
    env = {"OCTOPACK_MODELS_CACHE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    doc = json.loads(out.stdout)
    assert doc == {"path": str(target / "tokenizer.json"), "torch": False}


def test_default_path_follows_settings(tmp_path: Path) -> None:
    from octopack.models.settings import ModelSettings

    settings = ModelSettings(cache_dir=tmp_path, default_name="x")
    assert default_model_path(settings) == tmp_path / "x"
