"""The plain training loop (no Ray): loss falls, checkpoints and the merged model are stored, resume is exact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from octopack.models.registry import ModelRegistry
from octopack.models.storage import LocalStorage
from octopack.ray_jobs.finetune.runstore import RunStore

pytestmark = pytest.mark.ray


def _config(model: Path, data: Path, storage: Path, **kw: Any) -> dict[str, Any]:
    cfg = dict(dataset=str(data), base_model=str(model), out="tiny-octo", storage=str(storage), seq_len=64,
               micro_batch_size=2, max_steps=24, checkpoint_every=8, lr=3e-3, warmup_steps=2)
    cfg.update(kw)
    return cfg


def test_lora_loss_falls_and_model_is_registered(tiny_model: Path, commits_file: Path, tmp_path: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    from octopack.ray_jobs.finetune.loop import train_loop

    torch.set_num_threads(1)
    rows: list[dict[str, Any]] = []
    result = train_loop(_config(tiny_model, commits_file, tmp_path, run_name="lora"), reporter=rows.append)
    losses = [r["loss"] for r in rows]
    assert len(losses) == 24
    # A random tiny model's frozen embeddings limit what adapters can learn: a small but real drop.
    # (Full fine-tuning below and SmolLM2 in the integration suite fall much further.)
    assert sum(losses[-4:]) / 4 < 0.97 * sum(losses[:4]) / 4
    assert all(r["tokens_per_s"] > 0 for r in rows)
    run = RunStore(LocalStorage(tmp_path / "runs"), "lora")
    assert run.checkpoint_steps() == [16, 24]  # keep_checkpoints=2
    assert [m["step"] for m in run.read_metrics()] == list(range(1, 25))
    assert result["model"] == "tiny-octo@v1" and run.read_json("result.json") == result
    folder = ModelRegistry(LocalStorage(tmp_path / "models")).download("tiny-octo@v1", tmp_path / "dl")
    merged = AutoModelForCausalLM.from_pretrained(folder)
    assert not any("lora" in name for name, _ in merged.named_parameters())
    # A finished run returns its result without training again.
    assert train_loop(_config(tiny_model, commits_file, tmp_path, run_name="lora")) == result


class Crash(RuntimeError):
    pass


def test_resume_after_a_crash_continues_from_the_last_checkpoint(
    tiny_model: Path, commits_file: Path, tmp_path: Path
) -> None:
    from octopack.ray_jobs.finetune.loop import train_loop

    common = dict(lora=False, max_steps=8, checkpoint_every=4, keep_checkpoints=3)
    straight = train_loop(_config(tiny_model, commits_file, tmp_path, run_name="straight", **common))
    seen: list[int] = []

    def crash_at_6(row: dict[str, Any]) -> None:
        seen.append(row["step"])
        if row["step"] == 6:
            raise Crash("killed")

    cfg = _config(tiny_model, commits_file, tmp_path, run_name="crashy", **common)
    with pytest.raises(Crash):
        train_loop(cfg, reporter=crash_at_6)
    resumed: list[int] = []
    result = train_loop(cfg, reporter=lambda row: resumed.append(row["step"]))
    assert seen == [1, 2, 3, 4, 5, 6] and resumed == [5, 6, 7, 8]
    runs = LocalStorage(tmp_path / "runs")
    a = [m["loss"] for m in RunStore(runs, "straight").read_metrics()]
    b = [m["loss"] for m in RunStore(runs, "crashy").read_metrics()]
    assert b == pytest.approx(a, rel=1e-4)
    assert a[-1] < 0.9 * a[0]  # full fine-tuning learns fast
    assert straight["model"] != result["model"]  # two runs, two versions
