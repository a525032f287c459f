"""Tiny models built from a config, with a byte-level BPE tokenizer trained on the spot.

They load in milliseconds and make the training and serving tests fast; their
special tokens match SmolLM2's end-of-text token so the same code paths run.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

EOS_TOKEN = "<|endoftext|>"
PAD_TOKEN = "<|pad|>"

#: A few lines of code and commit-like text: enough for a BPE vocabulary of a few hundred tokens.
_CORPUS = [
    "def add(a, b):\n    return a + b\n",
    "def greet(name):\n    print('hello ' + name)\n",
    "Question: Fix the off-by-one error in the loop\n\nAnswer: for i in range(len(xs)):\n",
    "class Stack:\n    def __init__(self):\n        self.items = []\n",
    "function sum(xs) { return xs.reduce((a, b) => a + b, 0); }\n",
    "Add a docstring to the parser module and rename variables\n",
    "import os\nimport sys\n\nif __name__ == '__main__':\n    main()\n",
]


def train_tokenizer(out_dir: Path, texts: Iterable[str] | None = None, vocab_size: int = 512) -> Path:
    """Train a byte-level BPE tokenizer and save it as a transformers fast tokenizer in ``out_dir``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS_TOKEN, PAD_TOKEN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(list(texts) if texts is not None else _CORPUS * 20, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS_TOKEN, pad_token=PAD_TOKEN)
    out_dir.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(out_dir)
    return out_dir


def build_tiny_model(
    out_dir: Path,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    vocab_size: int = 512,
    max_positions: int = 1024,
    seed: int = 0,
    texts: Iterable[str] | None = None,
) -> Path:
    """A randomly initialised Llama-shaped model plus tokenizer, saved as an HF directory."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    train_tokenizer(out_dir, texts, vocab_size)
    tokenizer = AutoTokenizer.from_pretrained(out_dir)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 4,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_heads,
        max_position_embeddings=max_positions,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.save_pretrained(out_dir, safe_serialization=True)
    return out_dir
