"""Fixtures of the filter's unit tests: a sample row that passes every rule, and a tiny BPE tokenizer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

EOS = "<|endoftext|>"
OLD = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n" * 3
NEW = OLD.replace("return a - b", "return a - b  # difference")


def sample(**overrides: Any) -> dict[str, Any]:
    """A CommitPack row that every rule keeps (with the tiny tokenizer); override fields to break one rule."""
    row = {
        "commit": "0123456789abcdef0123456789abcdef01234567",
        "old_file": "src/arith.py",
        "new_file": "src/arith.py",
        "old_contents": OLD,
        "new_contents": NEW,
        "subject": "Add a comment to the subtraction helper",
        "message": "Add a comment to the subtraction helper\n\nIt explains the result.",
        "lang": "Python",
        "license": "mit",
        "repos": ["https://example.com/r.git"],
    }
    row.update(overrides)
    if "new_file" in overrides and "old_file" not in overrides:
        row["old_file"] = overrides["new_file"]
    return row


def train_tokenizer(path: Path) -> Path:
    """A byte-level BPE tokenizer (vocabulary 400) trained in well under a second, saved as tokenizer.json."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=[EOS],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    corpus = [OLD, NEW, "def main():\n    print('hello world')\n", "class A:\n    pass\n"] * 20
    tok.train_from_iterator(corpus, trainer)
    path.parent.mkdir(parents=True, exist_ok=True)
    tok.save(str(path))
    return path


@pytest.fixture(scope="session")
def tokenizer_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(train_tokenizer(tmp_path_factory.mktemp("tok") / "tokenizer.json"))
