"""Model set-up for training: dtype, LoRA adapters, DDP/FSDP wrapping, trainable state and merging."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from octopack.ray_jobs.finetune.config import FinetuneConfig


def pick_dtype(config: FinetuneConfig, device: torch.device) -> torch.dtype:
    """bf16 on GPU, fp32 on CPU (CPU bf16 matmuls are slow and lossy here), unless set."""
    if config.precision == "bf16":
        return torch.bfloat16
    if config.precision == "fp32":
        return torch.float32
    return torch.bfloat16 if device.type == "cuda" else torch.float32


def load_model(config: FinetuneConfig, model_dir: Path, device: torch.device) -> Any:
    from transformers import AutoModelForCausalLM

    model: Any = AutoModelForCausalLM.from_pretrained(model_dir, dtype=pick_dtype(config, device))
    model.config.use_cache = False
    if config.lora:
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(
            r=config.lora_r,
            lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout,
            target_modules=list(config.lora_targets),
            task_type="CAUSAL_LM",
        )
        model = get_peft_model(model, lora)
    return model.to(device)


def wrap(model: Any, config: FinetuneConfig, device: torch.device, world: int) -> Any:
    """DDP (or FSDP) when more than one rank trains; the bare model otherwise."""
    if world <= 1:
        return model
    if config.strategy == "fsdp":
        from torch.distributed.fsdp import FullyShardedDataParallel

        return FullyShardedDataParallel(
            model, use_orig_params=True, device_id=device if device.type == "cuda" else None
        )
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def unwrap(model: Any) -> Any:
    return model.module if hasattr(model, "module") else model


def optimizer_for(model: Any, config: FinetuneConfig) -> torch.optim.Optimizer:
    """AdamW; no weight decay on biases and norms (1-D tensors)."""
    decay: list[torch.Tensor] = []
    no_decay: list[torch.Tensor] = []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.95), eps=1e-8)


def cosine_with_warmup(config: FinetuneConfig) -> Any:
    """Multiplier of lr at a step: linear warm-up, then cosine down to ``min_lr_ratio``."""

    def factor(step: int) -> float:
        if step < config.warmup_steps:
            return (step + 1) / (config.warmup_steps + 1)
        span = max(1, config.max_steps - config.warmup_steps)
        progress = min(1.0, (step - config.warmup_steps) / span)
        cosine = 0.5 * (1 + math.cos(math.pi * progress))
        return config.min_lr_ratio + (1 - config.min_lr_ratio) * cosine

    return factor


def _is_fsdp(model: Any) -> bool:
    return type(model).__name__ == "FullyShardedDataParallel"


def _full_options() -> Any:
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    return StateDictOptions(full_state_dict=True, cpu_offload=True, strict=False)


def trainable_state(model: Any, config: FinetuneConfig) -> dict[str, torch.Tensor]:
    """Full (gathered) tensors of the trainable parameters, on CPU. Collective under FSDP."""
    if _is_fsdp(model):
        from torch.distributed.checkpoint.state_dict import get_model_state_dict

        full = get_model_state_dict(model, options=_full_options())
        names = {n for n, p in unwrap(model).named_parameters() if p.requires_grad}
        return {k: v for k, v in full.items() if k in names and isinstance(v, torch.Tensor)}
    return {
        n: p.detach().to("cpu", copy=True).contiguous()
        for n, p in unwrap(model).named_parameters()
        if p.requires_grad
    }


def load_trainable_state(model: Any, state: dict[str, torch.Tensor]) -> None:
    if _is_fsdp(model):
        from torch.distributed.checkpoint.state_dict import set_model_state_dict

        set_model_state_dict(model, dict(state), options=_full_options())  # type: ignore[arg-type]
        return
    params = dict(unwrap(model).named_parameters())
    missing = [n for n, p in params.items() if p.requires_grad and n not in state]
    if missing:
        raise RuntimeError(f"checkpoint lacks trainable parameters: {missing[:3]}...")
    with torch.no_grad():
        for name, tensor in state.items():
            params[name].copy_(tensor.to(params[name].device, params[name].dtype))


def optimizer_state(model: Any, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """The optimizer's state to save (gathered under FSDP, where it is collective)."""
    if _is_fsdp(model):
        from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

        return dict(get_optimizer_state_dict(model, optimizer, options=_full_options()))
    return optimizer.state_dict()


def load_optimizer_state(model: Any, optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    if _is_fsdp(model):
        from torch.distributed.checkpoint.state_dict import set_optimizer_state_dict

        set_optimizer_state_dict(model, optimizer, state, options=_full_options())
        return
    optimizer.load_state_dict(state)


def parameter_count(model: Any) -> int:
    """Parameters of the base model (LoRA adapters excluded: they add little compute)."""
    return sum(p.numel() for n, p in unwrap(model).named_parameters() if "lora_" not in n)


def save_final(
    config: FinetuneConfig, model_dir: Path, state: dict[str, torch.Tensor], tokenizer: Any, out: Path
) -> Path:
    """A plain HF directory: a fresh base model with the trained state, LoRA adapters merged.

    Rebuilding from the base folder on CPU works the same after DDP, FSDP or a single process.
    """
    model = load_model(config.model_copy(update={"precision": "fp32"}), model_dir, torch.device("cpu"))
    load_trainable_state(model, state)
    if config.lora:
        model = model.merge_and_unload()  # type: ignore[operator]
    model.config.use_cache = True
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out
