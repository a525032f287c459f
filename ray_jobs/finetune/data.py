"""Training text: the OctoCoder template, answer-only labels and packing with EOS separators.

Template (the paper's ``Question: {prompt}\\n\\nAnswer: {completion}``):

- CommitPackFT sample: instruction = ``subject``, context = ``old_contents``, answer =
  ``new_contents``; the context goes on the line after the instruction and the code
  answer starts on a new line, as HumanEvalPack prompts do::

      Question: {subject}\\n{old_contents}\\n\\nAnswer:\\n{new_contents}<eos>

  (without old contents: ``Question: {subject}\\n\\nAnswer:\\n{new_contents}<eos>``)
- Plain pair: ``Question: {prompt}\\n\\nAnswer: {completion}<eos>``.

Only the answer and its EOS carry a loss; the question is context. Samples are
concatenated in a seeded order and cut into blocks of ``seq_len`` tokens (a sample
may span two blocks); the last partial block is padded with ignored positions.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from octopack.common.errors import InvalidArgument

IGNORE = -100


@dataclass(frozen=True)
class Pair:
    """A question (no loss) and its answer (loss)."""

    prompt: str
    answer: str


def format_record(record: dict[str, Any]) -> Pair:
    """The template above for a CommitPackFT record or a prompt/completion record."""
    if "new_contents" in record and "subject" in record:
        context = record.get("old_contents") or ""
        question = f"Question: {record['subject']}" + (f"\n{context}" if context else "")
        return Pair(question + "\n\nAnswer:", "\n" + str(record["new_contents"]))
    if "prompt" in record and "completion" in record:
        return Pair(f"Question: {record['prompt']}\n\nAnswer:", " " + str(record["completion"]))
    raise InvalidArgument(
        "a training record needs subject/old_contents/new_contents (CommitPackFT) or prompt/completion; "
        f"got fields {sorted(record)}"
    )


def tokenize_pairs(pairs: Iterable[Pair], tokenizer: Any) -> list[tuple[list[int], list[int]]]:
    """Token ids and labels per sample: question masked, answer + EOS learned."""
    eos = tokenizer.eos_token_id
    if eos is None:
        raise InvalidArgument("the tokenizer has no EOS token; packing needs one as separator")
    out = []
    for pair in pairs:
        q = tokenizer(pair.prompt, add_special_tokens=False)["input_ids"]
        a = tokenizer(pair.answer, add_special_tokens=False)["input_ids"] + [eos]
        out.append((q + a, [IGNORE] * len(q) + a))
    return out


@dataclass
class PackedData:
    """Fixed-length blocks of ids and labels."""

    input_ids: list[list[int]]
    labels: list[list[int]]
    pad_id: int

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def loss_tokens(self) -> int:
        return sum(1 for row in self.labels for t in row if t != IGNORE)


def pack(samples: Sequence[tuple[list[int], list[int]]], seq_len: int, pad_id: int, seed: int) -> PackedData:
    """Concatenate samples (seeded order) and cut into ``seq_len`` blocks."""
    order = list(range(len(samples)))
    random.Random(seed).shuffle(order)
    ids: list[int] = []
    labels: list[int] = []
    for i in order:
        ids.extend(samples[i][0])
        labels.extend(samples[i][1])
    if not ids:
        raise InvalidArgument("the dataset is empty: nothing to train on")
    blocks_ids, blocks_labels = [], []
    for start in range(0, len(ids), seq_len):
        chunk, chunk_labels = ids[start : start + seq_len], labels[start : start + seq_len]
        if all(t == IGNORE for t in chunk_labels):
            # A block of question only (a context longer than seq_len) teaches nothing: an optimizer
            # step on it would be a zero-gradient step that still advances the schedule.
            continue
        pad = seq_len - len(chunk)
        blocks_ids.append(chunk + [pad_id] * pad)
        blocks_labels.append(chunk_labels + [IGNORE] * pad)
    if not blocks_ids:
        raise InvalidArgument(f"no answer token falls in any {seq_len}-token block: raise the sequence length")
    return PackedData(blocks_ids, blocks_labels, pad_id)


def block_indices(n_blocks: int, step: int, micro: int, grad_accum: int, rank: int, world: int,
                  micro_batch: int, seed: int) -> list[int]:
    """Which blocks rank ``rank`` trains on at (step, micro): a pure function, so resuming is exact.

    The global sample stream is a seeded permutation of the blocks per epoch.
    """
    out = []
    base = ((step * grad_accum + micro) * world + rank) * micro_batch
    for i in range(micro_batch):
        idx = base + i
        epoch, pos = divmod(idx, n_blocks)
        perm = list(range(n_blocks))
        random.Random(seed * 1_000_003 + epoch).shuffle(perm)
        out.append(perm[pos])
    return out


def read_jsonl(path: Path, limit: int = 0) -> Iterator[dict[str, Any]]:
    with path.open() as fh:
        for n, line in enumerate(fh):
            if limit and n >= limit:
                return
            if line.strip():
                yield json.loads(line)


def pin_dataset(dataset: str, s3: Any = None) -> str:
    """``name`` -> ``name@vN`` (its newest version now), so a resumed run reads the same data."""
    path = Path(dataset).expanduser()
    if path.suffix == ".jsonl" or path.is_file():
        return str(path.resolve())
    from octopack.common.objectstore import S3Settings
    from octopack.datasets.store import DatasetStore, parse_ref

    name, version = parse_ref(dataset)
    return str(DatasetStore.from_settings(s3 or S3Settings()).get_manifest(name, version).ref)


def load_records(dataset: str, limit: int = 0, s3: Any = None) -> list[dict[str, Any]]:
    """Records of a local .jsonl file or of a dataset version ``name[@vN]`` in the dataset store."""
    path = Path(dataset).expanduser()
    if path.suffix == ".jsonl" or path.is_file():
        if not path.is_file():
            raise InvalidArgument(f"dataset file {path} does not exist")
        return list(read_jsonl(path, limit))
    from octopack.common.objectstore import S3Settings
    from octopack.datasets.store import DatasetStore, parse_ref

    name, version = parse_ref(dataset)
    store = DatasetStore.from_settings(s3 or S3Settings())
    out = []
    for record in store.iter_records(name, version=version):
        out.append(dict(record))
        if limit and len(out) >= limit:
            break
    return out
