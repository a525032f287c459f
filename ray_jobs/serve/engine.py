"""Plain PyTorch text generation with a KV cache, left padding and batches that rows join and leave.

A :class:`DecodeBatch` holds the rows being generated: their KV cache (left-padded
to one length), attention mask, next input token and position. ``prefill`` starts
rows from prompts, ``merge`` joins two batches (the shorter cache is padded on the
left and masked), ``step`` runs one shared forward pass and drops finished rows.
That is all a continuous batcher needs, and ``generate`` runs a fixed list of rows
to the end. No Ray here: this runs anywhere torch and transformers do.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from octopack.ray_jobs.serve import kvcache
from octopack.ray_jobs.serve.params import Sampling, function_complete

#: Called with (new text, finish reason or None) as a row's text grows; runs on the engine's thread.
Sink = Callable[[str, str | None], None]


@dataclass
class RowSpec:
    """One sequence to generate."""

    prompt_ids: list[int]
    sampling: Sampling
    seed: int | None = None
    sink: Sink | None = None
    tag: Any = None


@dataclass
class RowResult:
    text: str
    finish_reason: str
    num_tokens: int
    prompt_tokens: int
    tag: Any = None


@dataclass
class _Row:
    spec: RowSpec
    generator: torch.Generator | None
    ids: list[int] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)
    text: str = ""
    emitted: int = 0
    hold: int = 0


@dataclass
class DecodeBatch:
    rows: list[_Row]
    cache: Any
    mask: torch.Tensor  # [B, T] 1 = real token
    next_tokens: torch.Tensor  # [B]
    positions: torch.Tensor  # [B] position id of next_tokens

    def __len__(self) -> int:
        return len(self.rows)


class GenerationEngine:
    """Batched sampling over one causal LM (greedy, temperature, top-p, stop strings, seeds)."""

    def __init__(self, model: Any, tokenizer: Any, device: torch.device | str = "cpu") -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.device = torch.device(device)
        eos = {tokenizer.eos_token_id}
        gen_eos = getattr(model.generation_config, "eos_token_id", None)
        eos.update(gen_eos if isinstance(gen_eos, list) else [gen_eos])
        end_of_text = tokenizer.convert_tokens_to_ids("<|endoftext|>")
        if isinstance(end_of_text, int) and end_of_text != tokenizer.unk_token_id:
            eos.add(end_of_text)
        self.eos_ids = {int(e) for e in eos if e is not None}
        pad = tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else tokenizer.eos_token_id)
        self.max_positions = int(getattr(model.config, "max_position_embeddings", 2048))
        # transformers >= 5.2x names the KV cache argument ``cache``; earlier ones ``past_key_values``.
        params = inspect.signature(model.forward).parameters
        self._cache_arg = "cache" if "cache" in params else "past_key_values"

    @classmethod
    def load(cls, path: Path | str, device: str | None = None, dtype: torch.dtype | None = None) -> GenerationEngine:
        """Load an HF directory; bf16 on GPU, fp32 on CPU unless ``dtype`` says otherwise."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        dtype = dtype or (torch.bfloat16 if dev.type == "cuda" else torch.float32)
        model: Any = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
        model = model.to(dev)
        return cls(model, AutoTokenizer.from_pretrained(path), dev)

    def encode(self, prompt: str) -> list[int]:
        return list(self.tokenizer(prompt, add_special_tokens=False)["input_ids"])

    def chat_prompt(
        self, messages: Sequence[dict[str, str]], add_generation_prompt: bool = True,
        continue_final_message: bool = False,
    ) -> str:
        """``messages`` through the tokenizer's chat template, as text (FailedPrecondition without one)."""
        from octopack.common.errors import FailedPrecondition, InvalidArgument

        if not getattr(self.tokenizer, "chat_template", None):
            raise FailedPrecondition(
                "this model's tokenizer has no chat template: use /v1/completions (or the octocoder prompt "
                "format) instead of the chat API"
            )
        try:
            text = self.tokenizer.apply_chat_template(
                list(messages), tokenize=False, add_generation_prompt=add_generation_prompt,
                continue_final_message=continue_final_message,
            )
        except Exception as exc:  # jinja2 errors and the template's own raise_exception()
            raise InvalidArgument(f"the model's chat template rejected the messages: {exc}") from exc
        return str(text)

    @torch.inference_mode()
    def prefill(self, specs: Sequence[RowSpec]) -> tuple[DecodeBatch | None, list[RowResult]]:
        """Run the prompts (left-padded) and sample each row's first token."""
        longest = max(len(s.prompt_ids) for s in specs)
        ids = torch.full((len(specs), longest), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(specs), longest), dtype=torch.long)
        for i, spec in enumerate(specs):
            n = len(spec.prompt_ids)
            ids[i, longest - n :] = torch.tensor(spec.prompt_ids)
            mask[i, longest - n :] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        # Only the last position's logits are needed: [B, L, vocab] would cost GBs for long prompts.
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True,
                         logits_to_keep=1)
        rows = [_Row(s, self._generator(s.seed)) for s in specs]
        for row in rows:
            row.hold = max((len(s) for s in row.spec.sampling.stop), default=1) - 1
        batch = DecodeBatch(rows, _cache_of(out), mask, ids[:, -1], mask.sum(-1))
        return self._advance(batch, out.logits[:, -1, :])

    @torch.inference_mode()
    def step(self, batch: DecodeBatch) -> tuple[DecodeBatch | None, list[RowResult]]:
        """One shared forward pass for every row; returns the remaining batch and finished rows."""
        mask = torch.cat([batch.mask, batch.mask.new_ones((len(batch), 1))], dim=1)
        out = self.model(
            input_ids=batch.next_tokens[:, None],
            attention_mask=mask,
            position_ids=batch.positions[:, None],
            use_cache=True,
            **{self._cache_arg: batch.cache},
        )
        batch.mask, batch.cache = mask, _cache_of(out)
        batch.positions = batch.positions + 1
        return self._advance(batch, out.logits[:, -1, :])

    def merge(self, a: DecodeBatch | None, b: DecodeBatch | None) -> DecodeBatch | None:
        """One batch with the rows of both (caches left-padded to the same length)."""
        if a is None or b is None:
            return a or b
        width = max(a.mask.shape[1], b.mask.shape[1])
        cache = kvcache.concat(
            [kvcache.left_pad(a.cache, width - a.mask.shape[1]), kvcache.left_pad(b.cache, width - b.mask.shape[1])]
        )
        mask = torch.cat([_left_pad(a.mask, width), _left_pad(b.mask, width)], dim=0)
        return DecodeBatch(
            a.rows + b.rows,
            cache,
            mask,
            torch.cat([a.next_tokens, b.next_tokens]),
            torch.cat([a.positions, b.positions]),
        )

    def generate(self, specs: Sequence[RowSpec], max_batch: int = 64) -> list[RowResult]:
        """Generate every row to the end (chunks of ``max_batch`` rows); results in input order."""
        results: list[RowResult] = []
        for start in range(0, len(specs), max_batch):
            chunk = [RowSpec(s.prompt_ids, s.sampling, s.seed, s.sink, start + i)
                     for i, s in enumerate(specs[start : start + max_batch])]
            batch, done = self.prefill(chunk)
            while batch is not None:
                batch, finished = self.step(batch)
                done.extend(finished)
            results.extend(sorted(done, key=lambda r: r.tag))
        for r, s in zip(results, specs, strict=True):
            r.tag = s.tag
        return results

    def _generator(self, seed: int | None) -> torch.Generator | None:
        if seed is None:
            return None
        gen = torch.Generator(device=self.device)
        gen.manual_seed(seed)
        return gen

    def _sample(self, logits: torch.Tensor, rows: list[_Row]) -> torch.Tensor:
        logits = logits.float()
        greedy_pick = logits.argmax(-1)
        temps = torch.tensor([r.spec.sampling.temperature for r in rows], device=logits.device)
        if bool((temps == 0).all()):
            return greedy_pick
        scaled = logits / temps.clamp(min=1e-5)[:, None]
        top_p = torch.tensor([r.spec.sampling.top_p for r in rows], device=logits.device)
        if bool((top_p < 1).any()):
            ordered, order = scaled.sort(dim=-1, descending=True)
            probs = ordered.softmax(-1)
            drop = (probs.cumsum(-1) - probs) > top_p[:, None]  # keeps at least the top token
            ordered = ordered.masked_fill(drop, float("-inf"))
            scaled = torch.full_like(scaled, float("-inf")).scatter(1, order, ordered)
        probs = scaled.softmax(-1)
        sampled = torch.multinomial(probs, 1).squeeze(1)
        for i, row in enumerate(rows):
            if row.generator is not None:
                sampled[i] = torch.multinomial(probs[i], 1, generator=row.generator)[0]
        return torch.where(temps == 0, greedy_pick, sampled)

    def _advance(self, batch: DecodeBatch, logits: torch.Tensor) -> tuple[DecodeBatch | None, list[RowResult]]:
        tokens = self._sample(logits, batch.rows)
        keep, finished = [], []
        for i, (row, token) in enumerate(zip(batch.rows, tokens.tolist(), strict=True)):
            reason = self._push(row, int(token))
            if reason is None:
                keep.append(i)
            else:
                finished.append(self._finish(row, reason))
        if not keep:
            return None, finished
        if len(keep) < len(batch):
            index = torch.tensor(keep, device=batch.mask.device)
            batch.rows = [batch.rows[i] for i in keep]
            batch.cache = kvcache.select(batch.cache, index)
            batch.mask = batch.mask[index]
            batch.positions = batch.positions[index]
            tokens = tokens[index]
        batch.next_tokens = tokens
        return batch, finished

    def _push(self, row: _Row, token: int) -> str | None:
        """Add a token to a row; the finish reason when the row is done."""
        sampling = row.spec.sampling
        if token in self.eos_ids:
            return "eos"
        row.ids.append(token)
        row.pending.append(token)
        piece = self.tokenizer.decode(row.pending)
        if not piece.endswith("\ufffd"):  # a multi-byte character is complete: commit the text
            start = max(0, len(row.text) - row.hold)
            row.text += piece
            row.pending = []
            for stop in sampling.stop:
                at = row.text.find(stop, start)
                if at != -1:
                    row.text = row.text[:at]
                    return "stop"
            if sampling.function_end and function_complete(row.text, sampling.function_end):
                return "stop"
            if row.spec.sink is not None and len(row.text) - row.hold > row.emitted:
                upto = len(row.text) - row.hold
                row.spec.sink(row.text[row.emitted : upto], None)
                row.emitted = upto
        if len(row.ids) >= sampling.max_new_tokens:
            return "length"
        if len(row.spec.prompt_ids) + len(row.ids) >= self.max_positions:
            return "length"
        return None

    def _finish(self, row: _Row, reason: str) -> RowResult:
        if row.pending and reason != "stop":
            row.text += self.tokenizer.decode(row.pending)
        if row.spec.sink is not None:
            row.spec.sink(row.text[row.emitted :], reason)
        return RowResult(row.text, reason, len(row.ids), len(row.spec.prompt_ids), row.spec.tag)


def _cache_of(out: Any) -> Any:
    if "cache" in out:  # transformers >= 5.2x
        return out["cache"]
    return out.past_key_values


def _left_pad(mask: torch.Tensor, width: int) -> torch.Tensor:
    pad = width - mask.shape[1]
    return torch.cat([mask.new_zeros((mask.shape[0], pad)), mask], dim=1) if pad else mask
