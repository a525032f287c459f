"""One fine-tuning run's configuration, with the paper's hyperparameters as defaults.

OctoCoder (see docs/training.md): LoRA r=16, alpha=32, dropout 0.05 on the attention
projections, lr 5e-4 with a cosine schedule and 5 warm-up steps, weight decay 0.05,
bf16, sequences packed to 2048 tokens, loss on the answer only.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, model_validator

from octopack.common.errors import InvalidArgument


class FinetuneConfig(BaseModel):
    """Everything that defines a run; the run's name defaults to a hash of the fields that shape it."""

    model_config = {"extra": "forbid"}

    dataset: str = Field(
        description="Dataset 'name[@vN]' in the dataset store, or a local .jsonl file of records."
    )
    base_model: str = Field("default", description="'default', a local HF folder or 'name[@vN]'.")
    out: str = Field(description="Name under which the final model is registered (next version).")
    run_name: str | None = Field(None, description="Run id for checkpoints; default: out + config hash.")
    max_samples: int = Field(0, ge=0, description="Use at most this many records (0 = all).")

    lora: bool = Field(True, description="LoRA adapters (True) or full fine-tuning (False).")
    lora_r: int = Field(16, ge=1)
    lora_alpha: int = Field(32, ge=1)
    lora_dropout: float = Field(0.05, ge=0, lt=1)
    lora_targets: list[str] = Field(
        ["q_proj", "k_proj", "v_proj", "o_proj"], description="Attention projections that get adapters."
    )

    max_steps: int = Field(50, ge=1, description="Optimizer steps.")
    seq_len: int = Field(2048, ge=16, description="Packed sequence length in tokens.")
    micro_batch_size: int = Field(1, ge=1, description="Packed sequences per worker per forward pass.")
    grad_accum: int = Field(1, ge=1, description="Micro-batches per optimizer step.")
    lr: float = Field(5e-4, gt=0)
    warmup_steps: int = Field(5, ge=0)
    min_lr_ratio: float = Field(0.0, ge=0, le=1, description="Cosine floor as a fraction of lr.")
    weight_decay: float = Field(0.05, ge=0)
    max_grad_norm: float = Field(1.0, gt=0)
    seed: int = 0
    precision: Literal["auto", "bf16", "fp32"] = Field(
        "auto", description="auto: bf16 on GPU, fp32 on CPU."
    )

    checkpoint_every: int = Field(10, ge=1, description="Save a checkpoint every this many steps.")
    keep_checkpoints: int = Field(2, ge=1, description="Checkpoints kept (older ones are deleted).")
    log_every: int = Field(1, ge=1)
    storage: str = Field(
        "s3", description="'s3' (the object store, prefix runs/) or a local folder (a storage path)."
    )

    num_workers: int = Field(1, ge=1, description="Ray Train workers (DDP ranks).")
    cpus_per_worker: float = Field(1.0, gt=0, description="With 2 CPUs and 2 workers use 0.5.")
    use_gpu: bool = False
    strategy: Literal["ddp", "fsdp"] = "ddp"
    max_failures: int = Field(2, ge=-1, description="Worker-group restarts Ray Train attempts.")
    torch_threads: int = Field(0, ge=0, description="torch intra-op threads per worker (0 = torch default).")
    peak_tflops: float = Field(
        0.0, ge=0, description="Accelerator peak bf16 TFLOP/s for MFU; 0 = guess from the device name."
    )

    @model_validator(mode="after")
    def _check(self) -> FinetuneConfig:
        if self.warmup_steps > self.max_steps:
            self.warmup_steps = self.max_steps
        return self

    def shaping(self) -> dict[str, Any]:
        """Fields that change what is trained (not where or how fast)."""
        skip = {"run_name", "num_workers", "cpus_per_worker", "use_gpu", "max_failures", "log_every",
                "torch_threads", "peak_tflops"}
        return {k: v for k, v in self.model_dump().items() if k not in skip}

    def resolved_run_name(self) -> str:
        if self.run_name:
            return self.run_name
        digest = hashlib.sha256(json.dumps(self.shaping(), sort_keys=True).encode()).hexdigest()
        return f"{self.out}-{digest[:10]}"


def load_config(path: Path, overrides: dict[str, Any] | None = None) -> FinetuneConfig:
    """Read a YAML or JSON file, apply ``overrides`` (None values are ignored)."""
    if not path.exists():
        raise InvalidArgument(f"config file {path} does not exist")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise InvalidArgument(f"config file {path} must hold a mapping of fields")
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return FinetuneConfig(**data)
