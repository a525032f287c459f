"""The per-worker training loop: plain PyTorch, the same under Ray Train, torchrun or alone.

Each rank reads the dataset, packs it the same way and trains on its own slice of
every optimizer step (see :func:`data.block_indices`), so the data position is a pure
function of the step and resuming needs no loader state. Rank 0 writes progress,
checkpoints (every ``checkpoint_every`` steps, with a completion marker), the metrics
and finally the merged model as a new registry version.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from safetensors.torch import load_file, save_file

from octopack.models.registry import ModelRegistry
from octopack.models.resolve import resolve_model
from octopack.ray_jobs.finetune import modeling
from octopack.ray_jobs.finetune.config import FinetuneConfig
from octopack.ray_jobs.finetune.data import (
    IGNORE,
    block_indices,
    format_record,
    load_records,
    pack,
    tokenize_pairs,
)
from octopack.ray_jobs.finetune.runstore import RunStore, open_storage
from octopack.ray_jobs.finetune.throughput import flops_per_token, mfu, peak_tflops

log = logging.getLogger(__name__)

Reporter = Callable[[dict[str, Any]], None]


def _dist() -> tuple[int, int, torch.device]:
    rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
    world = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
    if torch.cuda.is_available():
        local = rank % max(1, torch.cuda.device_count())
        torch.cuda.set_device(local)
        return rank, world, torch.device("cuda", local)
    return rank, world, torch.device("cpu")


def _mean(value: float, world: int, device: torch.device) -> float:
    if world <= 1:
        return value
    t = torch.tensor([value], device=device, dtype=torch.float64)
    dist.all_reduce(t)
    return float(t.item()) / world


def _barrier(world: int) -> None:
    if world > 1:
        dist.barrier()


def train_loop(cfg: dict[str, Any], s3: Any = None, reporter: Reporter | None = None) -> dict[str, Any]:
    """Train one run to ``max_steps`` (resuming from its last checkpoint) and register the model.

    ``cfg`` is a :class:`FinetuneConfig` as a dict; ``s3`` an S3Settings (or None for the
    environment's); ``reporter`` receives each logged step's metrics (Ray Train's report).
    Returns the run's result (``model``: the registered ``name@vN``).
    """
    config = FinetuneConfig(**cfg)
    if config.torch_threads:
        torch.set_num_threads(config.torch_threads)
    rank, world, device = _dist()
    runs, models = open_storage(config.storage, s3)
    run = RunStore(runs, config.resolved_run_name())
    done = run.read_json("result.json")
    if done is not None:
        log.info("run %s is already complete: %s", run.run, done["model"])
        return dict(done)

    from transformers import AutoTokenizer

    registry = ModelRegistry(models)
    model_dir, base_name = resolve_model(config.base_model, registry)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    records = load_records(config.dataset, config.max_samples, s3)
    packed = pack(tokenize_pairs(map(format_record, records), tokenizer), config.seq_len, pad_id, config.seed)

    torch.manual_seed(config.seed)
    model = modeling.load_model(config, model_dir, device)
    n_params = modeling.parameter_count(model)
    model = modeling.wrap(model, config, device, world)
    optimizer = modeling.optimizer_for(model, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, modeling.cosine_with_warmup(config))

    start, history = 0, []
    steps = run.checkpoint_steps()
    if steps:
        folder = run.load_checkpoint(steps[-1])
        modeling.load_trainable_state(model, load_file(str(folder / "trainable.safetensors")))
        modeling.load_optimizer_state(model, optimizer, torch.load(folder / "optimizer.pt", weights_only=False))
        scheduler.load_state_dict(torch.load(folder / "scheduler.pt", weights_only=False))
        start = json.loads((folder / "state.json").read_text())["step"]
        history = [row for row in run.read_metrics() if row["step"] <= start]
        shutil.rmtree(folder, ignore_errors=True)
        log.info("rank %d resumes run %s from step %d", rank, run.run, start)
    elif rank == 0:
        run.write_json("config.json", {"config": config.model_dump(), "base_model": base_name,
                                       "blocks": len(packed), "loss_tokens": packed.loss_tokens})

    hf_config = modeling.unwrap(model).config
    flops_token = flops_per_token(n_params, hf_config.num_hidden_layers, hf_config.hidden_size,
                                  config.seq_len, config.lora)
    peak = config.peak_tflops or (peak_tflops(torch.cuda.get_device_name(device)) if device.type == "cuda" else 0)
    model.train()
    for step in range(start, config.max_steps):
        torch.manual_seed(config.seed + 7919 * step + rank)  # dropout masks independent of restarts
        t0 = time.perf_counter()
        loss_sum = 0.0
        for micro in range(config.grad_accum):
            idx = block_indices(len(packed), step, micro, config.grad_accum, rank, world,
                                config.micro_batch_size, config.seed)
            ids = torch.tensor([packed.input_ids[i] for i in idx], device=device)
            labels = torch.tensor([packed.labels[i] for i in idx], device=device)
            sync = micro == config.grad_accum - 1 or world == 1 or not hasattr(model, "no_sync")
            ctx = model.no_sync() if not sync else torch.enable_grad()  # type: ignore[operator]
            with ctx:
                loss = _answer_loss(model(input_ids=ids).logits, labels) / config.grad_accum
                loss.backward()
            loss_sum += float(loss.detach())
        grad_norm = torch.nn.utils.clip_grad_norm_(
            [p for p in model.parameters() if p.requires_grad], config.max_grad_norm
        )
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - t0
        tokens = config.micro_batch_size * config.seq_len * config.grad_accum * world
        loss_avg = _mean(loss_sum, world, device)
        row = {
            "step": step + 1,
            "loss": round(loss_avg, 5),
            "lr": scheduler.get_last_lr()[0],
            "grad_norm": round(float(grad_norm), 4),
            "tokens_per_s": round(tokens / seconds, 1),
            "step_s": round(seconds, 3),
        }
        util = mfu(tokens / seconds, flops_token, peak)
        if util is not None:
            row["mfu"] = round(util, 4)
        history.append(row)
        if reporter is not None:
            reporter(row)
        if rank == 0 and (step + 1) % config.log_every == 0:
            log.info("step %d/%d loss %.4f %.0f tok/s", step + 1, config.max_steps, loss_avg, tokens / seconds)
            run.write_json("progress.json", {**row, "max_steps": config.max_steps})
        if (step + 1) % config.checkpoint_every == 0 or step + 1 == config.max_steps:
            state = modeling.trainable_state(model, config)
            optim_state = modeling.optimizer_state(model, optimizer)
            if rank == 0:
                _save_checkpoint(run, step + 1, state, optim_state, scheduler, config, history)
            _barrier(world)

    result: dict[str, Any] = {}
    state = modeling.trainable_state(model, config)
    if rank == 0:
        result = _register(run, registry, config, model_dir, base_name, state, tokenizer, history, start)
    _barrier(world)
    return result or dict(run.read_json("result.json") or {})


def _answer_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean next-token loss over answer tokens; 0 (not NaN) for a block that holds only questions."""
    target = labels[:, 1:].reshape(-1)
    total = torch.nn.functional.cross_entropy(
        logits[:, :-1].float().reshape(target.numel(), -1), target, ignore_index=IGNORE, reduction="sum"
    )
    return total / (target != IGNORE).sum().clamp(min=1)


def _save_checkpoint(run: RunStore, step: int, state: dict[str, torch.Tensor], optim_state: dict[str, Any],
                     scheduler: Any, config: FinetuneConfig, history: list[dict[str, Any]]) -> None:
    folder = Path(tempfile.mkdtemp(prefix="octopack-save-"))
    try:
        save_file(state, str(folder / "trainable.safetensors"))
        torch.save(optim_state, folder / "optimizer.pt")
        torch.save(scheduler.state_dict(), folder / "scheduler.pt")
        (folder / "state.json").write_text(json.dumps({"step": step, "run": run.run}))
        run.write_metrics(history)  # before the marker: a complete checkpoint always has its metrics
        where = run.save_checkpoint(step, folder, config.keep_checkpoints)
        log.info("checkpoint at step %d: %s", step, where)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _register(run: RunStore, registry: ModelRegistry, config: FinetuneConfig, model_dir: Path,
              base_name: str, state: dict[str, torch.Tensor], tokenizer: Any,
              history: list[dict[str, Any]], resumed_from: int) -> dict[str, Any]:
    """Merge, save and register the final model once (a rerun finds its own version and reuses it)."""
    ref = None
    for version in reversed(registry.versions(config.out)):
        if registry.manifest(f"{config.out}@{version}")["metadata"].get("run") == run.run:
            ref = f"{config.out}@{version}"
            break
    if ref is None:
        folder = Path(tempfile.mkdtemp(prefix="octopack-final-"))
        try:
            modeling.save_final(config, model_dir, state, tokenizer, folder)
            meta = {"run": run.run, "base_model": base_name, "dataset": config.dataset,
                    "config": config.model_dump(), "final": history[-1] if history else {}}
            ref = str(registry.upload(config.out, folder, metadata=meta))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    run.write_metrics(history)
    result: dict[str, Any] = {"model": ref, "run": run.run, "steps": config.max_steps,
              "first_loss": history[0]["loss"] if history else None,
              "final_loss": history[-1]["loss"] if history else None, "resumed_from": resumed_from}
    run.write_json("result.json", result)
    return result
