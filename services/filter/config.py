"""Configuration of the CommitPackFT filter: one section per rule, each with ``enabled`` and its parameters.

Load from YAML with :func:`load_config`; unknown keys are errors so typos do not pass silently.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from octopack.common.errors import InvalidArgument

#: Canonical extensions of the main languages (rule 3); other languages only need an extension.
CANONICAL_EXTENSIONS: dict[str, list[str]] = {
    "Python": [".py"],
    "JavaScript": [".js"],
    "Java": [".java"],
    "Go": [".go"],
    "C": [".c", ".h"],
    "C++": [".cpp", ".cc", ".cxx", ".c++", ".hpp", ".hh", ".hxx", ".h++"],
    "Rust": [".rs"],
}

BORING_SUBJECTS = [
    "readme", "update", "dummy", "updated", "test", "update readme", "update readme.md",
    "updated readme.md", "updated readme",
]
BANNED_PHRASES = ["auto commit", "update contributing", "<?xml", "merge branch", "merge pull request", "signed-off-by"]

#: Rule 15 as regular expressions (RE2 syntax, matched case-insensitively; ``\b`` is an ASCII word boundary).
_APOSTROPHES = "['\u2019]"  # a straight or a typographic apostrophe
PERSONAL_PATTERNS = [
    r"(?:^|\s)i(?:\s|$)",  # " i " (also at either end)
    rf"\bi{_APOSTROPHES}ve\b",
    rf"\bi{_APOSTROPHES}m\b",
    r"thanks to .* for",
    r"code review",
    r"issue\s*\d+",
    r"bug\s*\d+",
    r"feature\s*\d+",
    r"cdpcp",
    r"//codereview",
    r"work in progress",
    r"\bwip\b",  # the word, not "wipe" (the original matched the substring)
    r"https?://",
    r"\bwww\.",
    r"\| leetcode",
]


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(True, description="Turn the rule off to keep everything it would drop.")


class ContentsConfig(_Rule):
    max_old_chars: int = Field(50_000, description="old_contents must be shorter than this (characters).")


class ExtensionConfig(_Rule):
    canonical: dict[str, list[str]] = Field(default_factory=lambda: dict(CANONICAL_EXTENSIONS))


class FileNameConfig(_Rule):
    case_sensitive: bool = Field(True, description="Match the file's base name case-sensitively.")


class SubjectLengthConfig(_Rule):
    min_chars: int = Field(10, description="The subject must be longer than this.")
    max_chars: int = Field(1000, description="The subject must be shorter than this.")
    min_words: int = Field(5, description="The subject must have at least this many words.")


class TokenLengthConfig(_Rule):
    min_tokens: int = Field(50, description="At least this many tokens in old + <eos> + new.")
    max_tokens: int = Field(768, description="At most this many tokens in old + <eos> + new.")
    eos_token: str = Field("", description="End-of-text token; empty: the tokenizer's own.")
    batch_size: int = Field(1024, ge=1, description="Texts per encode_batch call.")


class ListConfig(_Rule):
    values: list[str] = Field(default_factory=list)


class FieldListConfig(ListConfig):
    field: Literal["subject", "message"] = Field("subject", description="Which text the phrases are looked for in.")


class CherryPickConfig(_Rule):
    field: Literal["subject", "message"] = "subject"
    remove: list[str] = Field(default_factory=lambda: ["[ci skip]"])


class BumpConfig(_Rule):
    prefixes: list[str] = Field(default_factory=lambda: ["bump", "set version", "update version"])
    keep_fraction: float = Field(0.1, ge=0, le=1, description="Share of matching subjects kept.")
    seed: str = Field("", description="Mixed into the hash of the sha that decides which are kept.")


class MinWordsConfig(_Rule):
    min_words: int = 4


class FilterConfig(BaseModel):
    """Every CommitPackFT rule, in order (1-12 stage 1, 13-16 stage 2)."""

    model_config = ConfigDict(extra="forbid")
    tokenizer: str = Field("", description="tokenizer.json or model folder; empty: the default model's.")
    contents: ContentsConfig = Field(default_factory=ContentsConfig)
    no_hash_in_subject: _Rule = Field(default_factory=_Rule)
    extension: ExtensionConfig = Field(default_factory=ExtensionConfig)
    file_name_in_subject: FileNameConfig = Field(default_factory=FileNameConfig)
    subject_length: SubjectLengthConfig = Field(default_factory=SubjectLengthConfig)
    clean_subject: _Rule = Field(default_factory=_Rule)
    uppercase_start: _Rule = Field(default_factory=_Rule)
    token_length: TokenLengthConfig = Field(default_factory=TokenLengthConfig)
    imperative_verb: ListConfig = Field(default_factory=ListConfig, description="Empty values: the packaged list.")
    boring_subject: ListConfig = Field(default_factory=lambda: ListConfig(values=list(BORING_SUBJECTS)))
    banned_phrases: FieldListConfig = Field(default_factory=lambda: FieldListConfig(values=list(BANNED_PHRASES)))
    version_or_hash: _Rule = Field(default_factory=_Rule)
    cherry_pick: CherryPickConfig = Field(default_factory=CherryPickConfig)
    bump_sampling: BumpConfig = Field(default_factory=BumpConfig)
    personal: ListConfig = Field(default_factory=lambda: ListConfig(values=list(PERSONAL_PATTERNS)))
    min_words: MinWordsConfig = Field(default_factory=MinWordsConfig)


def parse_config(text: str, source: str = "config") -> FilterConfig:
    """A :class:`FilterConfig` from YAML (or JSON) text; raise :class:`InvalidArgument` naming the bad key."""
    try:
        doc = yaml.safe_load(text) if text.strip() else {}
        return FilterConfig.model_validate(doc or {})
    except (yaml.YAMLError, ValidationError) as exc:
        raise InvalidArgument(f"{source}: not a valid filter configuration: {exc}") from exc


def load_config(path: Path) -> FilterConfig:
    if not path.is_file():
        raise InvalidArgument(f"config: {path} does not exist")
    return parse_config(path.read_text(), str(path))
