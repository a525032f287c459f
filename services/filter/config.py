"""Configuration of the CommitPackFT filter: a data profile, its named corrections, and one section per rule.

The ``paper`` profile (the default) keeps and drops the rows the original scripts
(``commitpackft_filters1.py`` and ``commitpackft_filters2.py`` of the OctoPack repository)
keep and drop. ``improved`` turns on every correction of :data:`CORRECTIONS`; ``corrections``
turns single ones on or off on top of either profile. docs/commits.md lists every deviation
from the original with an example and its effect on real histories.

Load from YAML with :func:`load_config`; unknown keys are errors so typos do not pass silently.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from octopack.common.errors import InvalidArgument
from octopack.common.profiles import PROFILES, Profiled

__all__ = ["CORRECTIONS", "PROFILES", "FilterConfig", "load_config", "parse_config"]

#: The original's per-language extension lists of rule 3, keyed as its data folders were named (the
#: language, lower-cased, spaces as dashes). Shell's entries lack the dot; a file passes when its
#: extension is in the list with or without the leading dot.
ORIGINAL_EXTENSIONS: dict[str, list[str]] = {
    "python": [".py"],
    "java": [".java"],
    "javascript": [".js"],
    "rust": [".rs"],
    "go": [".go"],
    "c++": [".cpp"],
    "c": [".c", ".h"],
    "html": [".html"],
    "shell": ["sh", "bash", "zsh", "csh", "slurm"],
    "xml": [".xml"],
}

#: The project's lists (correction ``canonical_extensions``): the main languages' whole canonical family.
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
#: Whole lower-cased subjects rule 15 drops (the original's ``rmv_specific``).
SPECIFIC_SUBJECTS = [
    "fix that bug where things didn't work but now they should",
    "put the thingie in the thingie",
    "add a beter commit message",
]
BUMP_PREFIXES = ["Bump", "Set version", "Update version"]

#: Each correction of the original: name -> (rule, what it changes). ``improved`` turns all of them on.
CORRECTIONS: dict[str, tuple[int, str]] = {
    "canonical_extensions": (3, "the main languages keep their whole canonical family (C++ also .cc, .cxx, .hpp, ...); "
                                "other languages, HTML, Shell and XML included, need only an extension"),
    "extension_in_file_name": (3, "the extension is read from the file name, not the whole path: a.d/Rakefile and "
                                  "lib/.hidden have none"),
    "stem_before_last_extension": (4, "the name looked for in the subject is the file name without its last "
                                      "extension (foo.spec for foo.spec.rb), not the piece before it (spec); an empty "
                                      "one never matches"),
    "skip_ci_any_case": (6, "[skip ci] is removed in any case ([Skip CI])"),
    "plug_verb": (9, "'plug' is a verb: the original's list spells it 'plug ' so 'Plug in ...' never matched"),
    "sha_as_word": (13, "a sha is 40 hex digits as a whole word, in any case, and 'cherry picked from commit' "
                        "matches in any case; a 64-digit sha256 passes"),
    "clean_ci_skip": (13, "[ci skip] is removed in any case and leaves single spaces"),
    "bump_any_case": (14, "the version-bump prefixes match in any case (BUMP, Set Version)"),
    "first_person_anywhere": (15, "'i' also as the first or last word, and i've / i'm with a typographic apostrophe"),
    "thanks_to_then_for": (15, "'thanks to ... for': the word 'for' after 'thanks to', in any case"),
    "wip_as_word": (15, "'wip' as a word: 'Wipe ...' passes"),
    "www_links": (15, "www. links count as URLs like http:// ones"),
}


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(True, description="Turn the rule off to keep everything it would drop.")


class ContentsConfig(_Rule):
    max_old_chars: int = Field(50_000, description="old_contents must be shorter than this (characters).")


class ExtensionConfig(_Rule):
    canonical: dict[str, list[str]] | None = Field(
        None, description="Language -> allowed extensions (keys compared lower-cased); empty: the profile's lists."
    )


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


class BoringConfig(_Rule):
    values: list[str] = Field(default_factory=lambda: list(BORING_SUBJECTS), description="Whole subjects (any case).")


class BannedConfig(_Rule):
    values: list[str] = Field(default_factory=lambda: list(BANNED_PHRASES), description="Phrases (any case).")
    field: Literal["subject", "message"] = Field("subject", description="Which text the phrases are looked for in.")


class CherryPickConfig(_Rule):
    field: Literal["subject", "message"] = "subject"
    remove: list[str] = Field(default_factory=lambda: ["[ci skip]"])


class BumpConfig(_Rule):
    prefixes: list[str] = Field(default_factory=lambda: list(BUMP_PREFIXES))
    keep_fraction: float = Field(0.1, ge=0, le=1, description="Share of matching subjects kept.")
    seed: str = Field("", description="Mixed into the hash of the sha that decides which are kept.")


class PersonalConfig(_Rule):
    values: list[str] = Field(
        default_factory=list,
        description="Python regular expressions (case-insensitive) that replace the profile's checks; empty: those.",
    )


class MinWordsConfig(_Rule):
    min_words: int = 4


class FilterConfig(Profiled):
    """Every CommitPackFT rule, in order (1-12 stage 1, 13-16 stage 2), under a data profile."""

    CORRECTIONS = CORRECTIONS
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
    boring_subject: BoringConfig = Field(default_factory=BoringConfig)
    banned_phrases: BannedConfig = Field(default_factory=BannedConfig)
    version_or_hash: _Rule = Field(default_factory=_Rule)
    cherry_pick: CherryPickConfig = Field(default_factory=CherryPickConfig)
    bump_sampling: BumpConfig = Field(default_factory=BumpConfig)
    personal: PersonalConfig = Field(default_factory=PersonalConfig)
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
