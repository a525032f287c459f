"""``octopack train``: instruction-tune a base model on a dataset version (Ray Train or plain PyTorch)."""

from __future__ import annotations

import argparse
import threading
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="fine-tune a model on a dataset version and register the result",
        description="Runs the OctoCoder recipe (LoRA r=16 by default, lr 5e-4 cosine, 5 warm-up steps) "
        "through Ray Train. Rerunning the same command resumes from the last checkpoint.",
    )
    p.add_argument("--dataset", required=True, metavar="NAME[@V]", help="dataset version (or a .jsonl file)")
    p.add_argument("--base-model", default="default", metavar="M", help="'default', a folder or NAME[@vN]")
    p.add_argument("--out", required=True, metavar="MODEL", help="register the result as MODEL@v<next>")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--lora", dest="lora", action="store_true", default=None, help="LoRA adapters (default)")
    mode.add_argument("--full", dest="lora", action="store_false", help="full fine-tuning")
    p.add_argument("--steps", type=int, dest="max_steps", metavar="N", help="optimizer steps (default 50)")
    p.add_argument("--seq-len", type=int, metavar="T", help="packed sequence length (default 2048)")
    p.add_argument("--batch", type=int, dest="micro_batch_size", metavar="B", help="sequences per worker step")
    p.add_argument("--grad-accum", type=int, metavar="K", help="micro-batches per optimizer step")
    p.add_argument("--lr", type=float, help="peak learning rate (default 5e-4)")
    p.add_argument("--max-samples", type=int, metavar="N", help="use at most N records")
    p.add_argument("--checkpoint-every", type=int, metavar="N", help="steps between checkpoints (default 10)")
    p.add_argument("--workers", type=int, dest="num_workers", metavar="N", help="Ray Train workers (default 1)")
    p.add_argument("--cpus-per-worker", type=float, metavar="C", help="CPUs per worker (0.5 on 2 cores)")
    p.add_argument("--gpu", dest="use_gpu", action="store_true", default=None, help="one GPU per worker")
    p.add_argument("--strategy", choices=("ddp", "fsdp"), help="multi-worker strategy (default ddp)")
    p.add_argument("--storage", metavar="s3|DIR", help="checkpoints/runs/models: object store or a folder")
    p.add_argument("--run-name", metavar="ID", help="run id (default: MODEL + hash of the config)")
    p.add_argument("--config", type=Path, metavar="FILE", help="YAML with any FinetuneConfig fields")
    p.add_argument("--no-ray", action="store_true", help="run the plain loop in this process")
    p.set_defaults(func=run)


_FIELDS = ("dataset", "base_model", "out", "lora", "max_steps", "seq_len", "micro_batch_size", "grad_accum",
           "lr", "max_samples", "checkpoint_every", "num_workers", "cpus_per_worker", "use_gpu", "strategy",
           "storage", "run_name")


def _watch(run: Any, total: int, stop: threading.Event, progress: Any, bar: Any) -> None:
    """Follow rank 0's progress.json (workers run in other processes under Ray)."""
    while not stop.wait(1.0):
        try:
            doc = run.read_json("progress.json")
        except Exception:  # storage hiccups only delay the bar
            continue
        if doc:
            progress.update(bar, completed=doc["step"],
                            description=f"loss {doc['loss']:.4f}  {doc['tokens_per_s']:.0f} tok/s")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from octopack.ray_jobs.finetune.config import FinetuneConfig, load_config
    from octopack.ray_jobs.finetune.data import pin_dataset
    from octopack.ray_jobs.finetune.runstore import RunStore, open_storage

    values = {k: getattr(args, k) for k in _FIELDS if getattr(args, k, None) is not None}
    config = load_config(args.config, values) if args.config else FinetuneConfig(**values)
    config = config.model_copy(update={"dataset": pin_dataset(config.dataset)})
    runs, models = open_storage(config.storage)
    if config.base_model in ("default",):
        from octopack.models.registry import ModelRegistry
        from octopack.models.resolve import register_default_model

        ref = register_default_model(ModelRegistry(models))
        config = config.model_copy(update={"base_model": str(ref)})
    console = Console()
    name = config.resolved_run_name()
    console.print(f"run [bold]{name}[/]: {config.dataset} on {config.base_model} -> {config.out} "
                  f"({'LoRA' if config.lora else 'full'}, {config.max_steps} steps)")
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    stop = threading.Event()
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task("starting", total=config.max_steps)
        watcher = threading.Thread(target=_watch, args=(RunStore(runs, name), config.max_steps, stop, progress, bar),
                                   daemon=True)
        watcher.start()
        try:
            if args.no_ray:
                from octopack.ray_jobs.finetune.loop import train_loop

                result = train_loop(config.model_dump())
            else:
                from octopack.ray_jobs.finetune.trainer import run_with_ray

                result = run_with_ray(config)
        finally:
            stop.set()
        progress.update(bar, completed=config.max_steps)
    console.print(f"loss {result.get('first_loss')} -> {result.get('final_loss')}; "
                  f"model [bold]{result['model']}[/] registered (run {result['run']})")
    return 0
