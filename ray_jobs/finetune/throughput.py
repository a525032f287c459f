"""Tokens per second and model FLOP utilisation (MFU).

Training FLOPs per token follow the usual estimate: 6 x parameters for a full
fine-tune (forward 2N, backward 4N), 4 x parameters with LoRA (the frozen weights
need no weight gradients), plus the attention score term 12 x layers x hidden x seq
(PaLM appendix B). MFU = achieved FLOP/s / the accelerator's peak dense bf16 FLOP/s.
"""

from __future__ import annotations

#: Peak dense bf16 TFLOP/s by device-name fragment (vendor data sheets).
PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10G": 70.0, "L4": 121.0}


def peak_tflops(device_name: str) -> float:
    """Data-sheet peak for a CUDA device name; 0 when unknown (then MFU is not reported)."""
    for key, value in PEAK_TFLOPS.items():
        if key in device_name:
            return value
    return 0.0


def flops_per_token(n_params: int, n_layers: int, hidden: int, seq_len: int, lora: bool) -> float:
    dense = (4 if lora else 6) * n_params
    attention = 12 * n_layers * hidden * seq_len
    return float(dense + attention)


def mfu(tokens_per_second: float, flops_token: float, peak: float) -> float | None:
    """Fraction of peak (0..1), or None without a known peak."""
    if peak <= 0:
        return None
    return tokens_per_second * flops_token / (peak * 1e12)
