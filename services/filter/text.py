"""Vectorised string helpers over Arrow columns (pyarrow.compute kernels; RE2 regular expressions)."""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import pyarrow.compute as pc

Column = Any  # a pyarrow Array or ChunkedArray (pyarrow ships no precise stubs)

#: Python's ``str.isspace`` as an RE2 class (RE2's ``\s`` is ASCII only), so splitting agrees with ``str.split``.
WS = r"[\t\n\x0b\x0c\r \x1c-\x1f\x{85}\p{Z}]"
NOT_WS = r"[^\t\n\x0b\x0c\r \x1c-\x1f\x{85}\p{Z}]"

_RE2_SPECIAL = re.compile(r"([\\.^$|?*+()\[\]{}])")


def escape(literal: str) -> str:
    """Escape a literal for RE2 (spaces stay as they are, unlike ``re.escape``)."""
    return _RE2_SPECIAL.sub(r"\\\1", literal)


def any_of(literals: list[str]) -> str:
    """One alternation matching any of ``literals``."""
    return "|".join(escape(v) for v in literals)


def imperative_verbs() -> list[str]:
    """The 257 English imperative verbs of rule 9 (multi-word entries such as "speed up" included)."""
    text = resources.files("octopack.data").joinpath("commitpack/imperative_verbs_en.txt").read_text()
    return [line.strip().lower() for line in text.splitlines() if line.strip()]


def word_count(col: Column) -> Column:
    """Number of white-space separated words (``len(s.split())``)."""
    return pc.list_value_length(pc.utf8_split_whitespace(pc.utf8_trim_whitespace(col)))


def squeeze(col: Column) -> Column:
    """Runs of white space become one space; trimmed (``" ".join(s.split())``)."""
    return pc.utf8_trim_whitespace(pc.replace_substring_regex(col, f"{WS}+", " "))


def has(col: Column, pattern: str, ignore_case: bool = False) -> Column:
    return pc.match_substring_regex(col, pattern, ignore_case=ignore_case)


def lacks(col: Column, pattern: str, ignore_case: bool = False) -> Column:
    return pc.invert(has(col, pattern, ignore_case))
