"""Training throughput: the same loop through Ray Train (1 worker) vs in this process without Ray.

    .venv/bin/python benchmarks/train.py [--model default|tiny|PATH] [--steps 8] [--seq-len 256]

Both runs use the same model, data, LoRA settings, thread count and a local storage
path; tokens/s is the median over steps after the first two (warm-up). Goal: the Ray
run keeps >= 0.9 of the plain loop's throughput.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from peak_memory import PeakMemory


def commit_jsonl(path: Path, n: int = 64) -> Path:
    """A CommitPackFT-like file of small Python edits."""
    rows = []
    for i in range(n):
        old = "".join(f"def f{i}_{j}(x):\n    return x + {j}\n\n" for j in range(6))
        rows.append({"subject": f"Change helper {i} to multiply", "old_contents": old,
                     "new_contents": old.replace("+", "*"), "lang": "Python"})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def table(header: list[str], rows: list[list[Any]]) -> str:
    cells = [header] + [[f"{c:.2f}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _median_tps(storage: Path, run: str) -> float:
    from octopack.models.storage import LocalStorage
    from octopack.ray_jobs.finetune.runstore import RunStore

    rows = RunStore(LocalStorage(storage / "runs"), run).read_metrics()
    return statistics.median(r["tokens_per_s"] for r in rows[2:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default", help="'default' (SmolLM2-135M), 'tiny' or a folder")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    from octopack.common.logging import setup_logging
    from octopack.ray_jobs.cluster import RaySettings
    from octopack.ray_jobs.finetune.config import FinetuneConfig
    from octopack.ray_jobs.finetune.loop import train_loop
    from octopack.ray_jobs.finetune.trainer import run_with_ray

    setup_logging()
    tmp = Path(tempfile.mkdtemp(prefix="octopack-bench-train-"))
    model = args.model
    if model == "tiny":
        from octopack.models.tiny import build_tiny_model

        model = str(build_tiny_model(tmp / "tiny"))
    data = commit_jsonl(tmp / "commits.jsonl")
    base = dict(dataset=str(data), base_model=model, out="bench", storage=str(tmp / "store"), lora=True,
                max_steps=args.steps, seq_len=args.seq_len, micro_batch_size=args.batch,
                checkpoint_every=10_000, torch_threads=args.threads, cpus_per_worker=args.threads)
    results = []
    with PeakMemory() as mem:
        t = time.perf_counter()
        train_loop(FinetuneConfig(**base, run_name="plain").model_dump())
        plain_wall = time.perf_counter() - t
    results.append(["plain loop", _median_tps(tmp / "store", "plain"), plain_wall, mem.gib])
    with PeakMemory() as mem:
        t = time.perf_counter()
        run_with_ray(FinetuneConfig(**base, run_name="ray"), ray_settings=RaySettings(num_cpus=args.threads))
        ray_wall = time.perf_counter() - t
    results.append(["Ray Train (1 worker)", _median_tps(tmp / "store", "ray"), ray_wall, mem.gib])
    print(f"\nmodel {args.model}, LoRA r=16, {args.steps} steps x {args.batch} x {args.seq_len} tokens, "
          f"{args.threads} threads")
    print(table(["path", "tokens/s", "wall s (incl. start-up)", "peak RSS GiB (tree)"], results))
    print(f"ratio Ray / plain: {results[1][1] / results[0][1]:.3f} (goal >= 0.9)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
