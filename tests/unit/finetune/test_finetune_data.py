"""Training text: template, answer-only labels, packing and the resumable data order."""

from __future__ import annotations

import pytest

from octopack.common.errors import InvalidArgument
from octopack.ray_jobs.finetune.config import FinetuneConfig
from octopack.ray_jobs.finetune.data import IGNORE, block_indices, format_record, pack, tokenize_pairs


class CharTokenizer:
    """One token per character; EOS = 0."""

    eos_token_id = 0

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict[str, list[int]]:
        return {"input_ids": [ord(c) for c in text]}


def test_commitpackft_template_puts_context_after_instruction() -> None:
    pair = format_record({"subject": "Fix the loop", "old_contents": "for i in x: pass", "new_contents": "pass"})
    assert pair.prompt == "Question: Fix the loop\nfor i in x: pass\n\nAnswer:"
    assert pair.answer == "\npass"
    bare = format_record({"subject": "Add a test", "old_contents": "", "new_contents": "x = 1"})
    assert bare.prompt == "Question: Add a test\n\nAnswer:"


def test_prompt_completion_template() -> None:
    pair = format_record({"prompt": "What is 2+2?", "completion": "4"})
    assert pair.prompt + pair.answer == "Question: What is 2+2?\n\nAnswer: 4"


def test_unknown_record_is_rejected() -> None:
    with pytest.raises(InvalidArgument, match="prompt/completion"):
        format_record({"text": "hello"})


def test_loss_only_on_answer_and_eos() -> None:
    pair = format_record({"prompt": "q", "completion": "ab"})
    [(ids, labels)] = tokenize_pairs([pair], CharTokenizer())
    question = len(pair.prompt)
    assert labels[:question] == [IGNORE] * question
    assert labels[question:] == [ord(" "), ord("a"), ord("b"), 0]
    assert ids[-1] == 0  # EOS separates packed samples


def test_packing_fills_blocks_and_pads_the_last() -> None:
    samples = [([1] * 5, [1] * 5), ([2] * 4, [IGNORE] * 2 + [2] * 2), ([3] * 3, [3] * 3)]
    packed = pack(samples, seq_len=5, pad_id=9, seed=0)
    flat = [t for row in packed.input_ids for t in row]
    assert len(packed) == 3 and all(len(r) == 5 for r in packed.input_ids)
    assert sorted(t for t in flat if t != 9) == sorted([1] * 5 + [2] * 4 + [3] * 3)
    assert packed.input_ids[-1][-1] == 9 and packed.labels[-1][-1] == IGNORE
    assert packed.loss_tokens == 10


def test_packing_skips_blocks_without_an_answer_token() -> None:
    # A 7-token question before a 2-token answer: the first 5-token block is question only.
    samples = [([4] * 7 + [5] * 2, [IGNORE] * 7 + [5] * 2)]
    packed = pack(samples, seq_len=5, pad_id=9, seed=0)
    assert packed.input_ids == [[4, 4, 5, 5, 9]]
    assert packed.loss_tokens == 2
    with pytest.raises(InvalidArgument, match="raise the sequence length"):
        pack([([4] * 7, [IGNORE] * 7)], seq_len=5, pad_id=9, seed=0)


def test_data_order_is_a_function_of_the_step() -> None:
    seen = [block_indices(10, step, 0, 1, rank, 2, 2, seed=3) for step in range(5) for rank in range(2)]
    flat = [i for row in seen for i in row]
    assert sorted(flat[:10]) == list(range(10))  # one epoch covers every block once
    assert block_indices(10, 3, 0, 1, 1, 2, 2, seed=3) == seen[7]


def test_run_name_depends_on_what_shapes_training() -> None:
    a = FinetuneConfig(dataset="d@v1", out="m", max_steps=10)
    assert a.resolved_run_name() == FinetuneConfig(dataset="d@v1", out="m", max_steps=10,
                                                   num_workers=4).resolved_run_name()
    assert a.resolved_run_name() != FinetuneConfig(dataset="d@v1", out="m", max_steps=11).resolved_run_name()
    assert a.resolved_run_name().startswith("m-")
    assert (a.lr, a.warmup_steps, a.weight_decay, a.lora_r, a.lora_alpha) == (5e-4, 5, 0.05, 16, 32)
