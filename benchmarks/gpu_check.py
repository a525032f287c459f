"""GPU check: training and generation throughput of the plain (Ray-free) code paths.

Self-contained: torch + transformers only (no Ray, no object store, no downloads);
random weights. On a GPU it reports, for the SmolLM2-135M shape and a ~1B Llama
shape (bf16, seq 2048): training tokens/s and MFU (6N + attention FLOPs per token,
against the data-sheet peak and a measured bf16 matmul peak); then generation
tokens/s of OctoPack's engine (continuous-batching code, KV cache, left padding) vs
plain HF ``generate`` at batch 1 and 128, 256 new tokens. Finishes in a few minutes.

    python benchmarks/gpu_check.py            # on a GPU machine
    python benchmarks/gpu_check.py --quick    # tiny shapes on CPU (smoke test)
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SHAPES = {
    "smollm2-135m": dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                         num_key_value_heads=3, vocab_size=49152, tie_word_embeddings=True),
    "llama-1b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
                     num_key_value_heads=8, vocab_size=32000, tie_word_embeddings=False),
    "tiny": dict(hidden_size=64, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=4, vocab_size=512, tie_word_embeddings=True),
}
PEAK = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "L4": 121.0}


class StubTokenizer:
    """Enough of a tokenizer for the engine: ids <-> letters (random weights emit any id)."""

    eos_token_id = 0
    pad_token_id = 0
    unk_token_id = None

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict[str, list[int]]:
        return {"input_ids": [1 + (ord(c) % 500) for c in text]}

    def decode(self, ids: list[int]) -> str:
        return "".join(chr(97 + i % 26) for i in ids)

    def convert_tokens_to_ids(self, token: str) -> None:
        return None


def model_for(shape: str, device: torch.device, dtype: torch.dtype, seq: int):
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(**SHAPES[shape], max_position_embeddings=max(seq, 2048) + 512)
    torch.manual_seed(0)
    with device:
        model = LlamaForCausalLM(config).to(dtype)
    return model


def matmul_peak(device: torch.device, quick: bool) -> float:
    if device.type != "cuda":
        return 0.0
    n = 8192
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(20):
        a @ b
    torch.cuda.synchronize()
    return 2 * n**3 * 20 / (time.perf_counter() - t) / 1e12


def train_check(shape: str, device: torch.device, dtype: torch.dtype, seq: int, batch: int, steps: int) -> dict:
    """The plain loop's step: packed causal-LM batch, AdamW, warm-up + cosine, grad clipping."""
    model = model_for(shape, device, dtype, seq)
    model.config.use_cache = False
    model.train()
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4, betas=(0.9, 0.95), weight_decay=0.05)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / 6 if s < 5 else 0.5 * (1 + math.cos(math.pi * min(1, (s - 5) / steps))))
    vocab = model.config.vocab_size
    ids = torch.randint(1, vocab, (batch, seq), device=device)
    warm = 2
    for i in range(warm + steps):
        if i == warm:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t = time.perf_counter()
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t
    tps = batch * seq * steps / seconds
    cfg = model.config
    flops_token = 6 * n_params + 12 * cfg.num_hidden_layers * cfg.hidden_size * seq
    peak_mem = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else 0.0
    del model, opt
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    return {"shape": shape, "params_m": n_params / 1e6, "tokens_per_s": tps, "flops": tps * flops_token,
            "loss": float(loss.detach()), "peak_gib": peak_mem}


def generation_check(device: torch.device, dtype: torch.dtype, batch: int, new_tokens: int, shape: str) -> list[tuple]:
    from octopack.ray_jobs.serve.engine import GenerationEngine, RowSpec
    from octopack.ray_jobs.serve.params import Sampling

    model = model_for(shape, device, dtype, 2048).eval()
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = 0
    prompt_len = 64
    rows = []

    def hf(b: int) -> float:
        ids = torch.randint(1, 500, (b, prompt_len), device=device)
        mask = torch.ones_like(ids)
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=new_tokens,
                                 min_new_tokens=new_tokens, do_sample=True, temperature=0.2, top_p=0.95)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return (out.shape[1] - prompt_len) * b / (time.perf_counter() - t)

    engine = GenerationEngine(model, StubTokenizer(), device)
    engine.eos_ids = set()  # random weights: generate the full length, as HF with min_new_tokens
    sampling = Sampling(max_new_tokens=new_tokens, temperature=0.2, top_p=0.95, n=1, stop=(), seed=None)

    def ours(b: int) -> float:
        specs = [RowSpec(torch.randint(1, 500, (prompt_len,)).tolist(), sampling) for _ in range(b)]
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        results = engine.generate(specs, max_batch=b)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return sum(r.num_tokens for r in results) / (time.perf_counter() - t)

    hf(2)  # warm-up (kernels, allocator)
    ours(2)
    base1 = hf(1)
    rows.append(("HF generate", 1, base1))
    rows.append(("HF generate", batch, hf(batch)))
    rows.append(("octopack engine", batch, ours(batch)))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny shapes, few steps (CPU smoke test)")
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    quick = args.quick or device.type != "cuda"
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    peak_sheet = next((v for k, v in PEAK.items() if k in name), 0.0)
    start = time.perf_counter()
    measured = matmul_peak(device, quick)
    print(f"device: {name}  torch {torch.__version__}  dtype {dtype}")
    print(f"bf16 matmul: {measured:.0f} TFLOP/s measured, {peak_sheet:.0f} data sheet")
    plan = ([("tiny", 128, 4, 3)] if quick else [("smollm2-135m", 2048, 8, 10), ("llama-1b", 2048, 4, 8)])
    print("\ntraining (plain loop step, full fine-tune, random weights)")
    print(f"{'shape':14} {'params':>8} {'seq':>5} {'batch':>5} {'tokens/s':>10} {'MFU sheet':>9} {'MFU meas':>9} {'peak GiB':>8}")
    for shape, seq, batch, steps in plan:
        r = train_check(shape, device, dtype, seq, batch, steps)
        mfu_sheet = r["flops"] / (peak_sheet * 1e12) if peak_sheet else float("nan")
        mfu_meas = r["flops"] / (measured * 1e12) if measured else float("nan")
        print(f"{shape:14} {r['params_m']:7.0f}M {seq:5d} {batch:5d} {r['tokens_per_s']:10.0f} "
              f"{mfu_sheet:9.1%} {mfu_meas:9.1%} {r['peak_gib']:8.1f}", flush=True)
    batch, new_tokens, shape = (8, 16, "tiny") if quick else (128, 256, "smollm2-135m")
    print(f"\ngeneration ({shape}, prompt 64, {new_tokens} new tokens, temperature 0.2, top_p 0.95)")
    rows = generation_check(device, dtype, batch, new_tokens, shape)
    base = rows[0][2]
    print(f"{'path':16} {'batch':>5} {'tokens/s':>10} {'x HF b1':>8}")
    for path, b, tps in rows:
        print(f"{path:16} {b:5d} {tps:10.0f} {tps / base:8.1f}")
    print(f"ratio engine / HF generate at batch {batch}: {rows[2][2] / rows[1][2]:.2f}")
    if device.type == "cuda":
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated(device) / 2**30:.1f} GiB")
    print(f"total wall: {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
