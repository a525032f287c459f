"""String helpers over Arrow columns that decide exactly as Python's ``str`` methods do."""

from __future__ import annotations

from importlib import resources
from typing import Any

import pyarrow.compute as pc

Column = Any  # a pyarrow Array or ChunkedArray (pyarrow ships no precise stubs)

#: Python's ``str.isspace`` as an RE2 class (RE2's ``\s`` is ASCII only), so splitting agrees with ``str.split``.
WS = r"[\t\n\x0b\x0c\r \x1c-\x1f\x{85}\p{Z}]"
NOT_WS = r"[^\t\n\x0b\x0c\r \x1c-\x1f\x{85}\p{Z}]"


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
