"""Token counts for rule 8 with the light ``tokenizers`` library (no torch)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from octopack.common.errors import FailedPrecondition, InvalidArgument

#: Largest tokenizer file loaded (the largest public vocabularies are about 20 MiB).
MAX_TOKENIZER_BYTES = 256 << 20
_EOS_CANDIDATES = ("<|endoftext|>", "</s>", "<|im_end|>", "<eos>", "<|end_of_text|>")


def default_tokenizer_path() -> str:
    """The default model's tokenizer when ``octopack.models.default`` provides one, else ''."""
    try:
        from octopack.models.default import default_tokenizer_path as model_default  # type: ignore[import-not-found]
    except ImportError:
        return ""
    return str(model_default())


def _resolve(path: str) -> tuple[Path, Path | None]:
    """(tokenizer.json, tokenizer_config.json or None) for a file or an HF model folder."""
    p = Path(path).expanduser()
    if p.is_dir():
        p = p / "tokenizer.json"
    if not p.is_file():
        raise InvalidArgument(f"tokenizer: {path} is neither a tokenizer.json nor a folder holding one")
    config = p.with_name("tokenizer_config.json")
    return p, config if config.is_file() else None


class TokenCounter:
    """Counts tokens of ``old + eos + new`` in batches (``encode_batch`` runs on every core)."""

    def __init__(self, path: str, eos_token: str = "") -> None:
        file, config = _resolve(path)
        try:
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise FailedPrecondition("the token-length rule needs 'tokenizers': pip install 'octopack[data]'") from exc
        self.path = str(file)
        if file.stat().st_size > MAX_TOKENIZER_BYTES:
            raise InvalidArgument(f"tokenizer: {path} is larger than {MAX_TOKENIZER_BYTES >> 20} MiB")
        try:
            self.tokenizer: Any = Tokenizer.from_file(self.path)
        except Exception as exc:  # the library raises a bare Exception for any file it cannot parse
            raise InvalidArgument(f"tokenizer: {path} is not a tokenizers JSON file ({type(exc).__name__})") from None
        # The same ids without character offsets, where this tokenizers version has it.
        self._batch = getattr(self.tokenizer, "encode_batch_fast", self.tokenizer.encode_batch)
        self.eos = eos_token or self._eos_from(config)
        self.eos_splits = False
        self.max_token_bytes = 0
        self._inspect()

    def _eos_from(self, config: Path | None) -> str:
        if config is not None:
            try:
                eos = json.loads(config.read_text()).get("eos_token")
            except (ValueError, AttributeError):
                raise InvalidArgument(f"tokenizer: {config} is not a JSON object") from None
            if isinstance(eos, dict):
                eos = eos.get("content")
            if isinstance(eos, str) and eos:
                return eos
        vocab = self.tokenizer.get_vocab(with_added_tokens=True)
        for candidate in _EOS_CANDIDATES:
            if candidate in vocab:
                return candidate
        raise InvalidArgument(
            f"tokenizer {self.path} names no end-of-text token: set token_length.eos_token in the config"
        )

    def count(self, old: list[str], new: list[str], batch_size: int = 1024) -> list[int]:
        """Exact token count of each ``old[i] + eos + new[i]``, without special tokens added around it."""
        eos = self.eos
        return self._encode([o + eos + n for o, n in zip(old, new, strict=True)], batch_size)

    def _encode(self, texts: list[str], batch_size: int) -> list[int]:
        counts: list[int] = []
        for start in range(0, len(texts), batch_size):
            encoded = self._batch(texts[start : start + batch_size], add_special_tokens=False)
            counts.extend(len(e.ids) for e in encoded)
        return counts

    def within(
        self, old: list[str], new: list[str], total_bytes: list[int], low: int, high: int, batch_size: int = 1024
    ) -> list[bool]:
        """``low <= count(old[i] + eos + new[i]) <= high`` for each row, the same verdict as :meth:`count`.

        Cheaper where it can be proven: a text of B bytes has at least B / L tokens
        when no token covers more than L bytes (byte-level BPE), so far too long
        texts are dropped unencoded; and when the end-of-text token splits the text
        (a special token without strip flags), ``old`` is encoded first and
        ``new`` only for rows that ``old`` has not already pushed past ``high``.
        ``total_bytes[i]`` is the UTF-8 size of ``old[i] + new[i]``.
        """
        n = len(old)
        verdict = [False] * n
        todo = list(range(n))
        if self.max_token_bytes:
            eos_bytes, most = len(self.eos.encode()), self.max_token_bytes
            todo = [i for i in todo if -(-(total_bytes[i] + eos_bytes) // most) <= high]
        if not self.eos_splits:
            counts = self.count([old[i] for i in todo], [new[i] for i in todo], batch_size)
            for i, c in zip(todo, counts, strict=True):
                verdict[i] = low <= c <= high
            return verdict
        old_counts = self._encode([old[i] for i in todo], batch_size)
        rest = [(i, c) for i, c in zip(todo, old_counts, strict=True) if c + 1 <= high]
        new_counts = self._encode([new[i] for i, _ in rest], batch_size)
        for (i, c_old), c_new in zip(rest, new_counts, strict=True):
            verdict[i] = low <= c_old + 1 + c_new <= high
        return verdict

    def _inspect(self) -> None:
        """Which shortcuts of :meth:`within` are exact for this tokenizer."""
        doc = json.loads(self.tokenizer.to_str())
        added = doc.get("added_tokens") or []
        eos = [t for t in added if t.get("content") == self.eos]
        # Special tokens are split off before normalisation and pre-tokenisation: counts add up around them.
        self.eos_splits = bool(eos) and bool(eos[0].get("special")) and not eos[0].get("lstrip") \
            and not eos[0].get("rstrip")
        model = doc.get("model") or {}
        byte_level = "ByteLevel" in json.dumps(doc.get("pre_tokenizer"))
        self.max_token_bytes = 0
        if model.get("type") == "BPE" and byte_level and doc.get("normalizer") is None and model.get("vocab"):
            # Byte-level vocabularies spell one byte per character.
            longest = max(len(token) for token in model["vocab"])
            self.max_token_bytes = max([longest, *(len(t["content"].encode()) for t in added)])


@lru_cache(maxsize=4)
def token_counter(path: str, eos_token: str = "") -> TokenCounter:
    """One loaded tokenizer per process and path (Ray workers load it once)."""
    return TokenCounter(path, eos_token)
