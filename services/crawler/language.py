"""Language of a file from its name, with CommitPack's extension table."""

from __future__ import annotations

from functools import lru_cache

from octopack.common.vocabulary import commitpack_languages


def language_table() -> dict[str, list[str]]:
    """Language name -> extensions (with a leading dot) or exact file names (``Makefile``)."""
    return commitpack_languages()


@lru_cache(maxsize=1)
def _by_suffix() -> tuple[dict[str, str], dict[str, str], int]:
    exact: dict[str, str] = {}
    for lang, exts in language_table().items():
        for ext in exts:
            exact[ext] = lang
    lowered = {ext.lower(): lang for ext, lang in sorted(exact.items(), reverse=True)}
    dots = max(ext.count(".") for ext in exact)
    return exact, lowered, dots


def language_of(path: str) -> str | None:
    """The language of ``path`` or None when its extension is in no language.

    An exact file name (``Makefile``) wins, then the longest dotted suffix
    (``.rs.in`` before ``.in``), matched case-sensitively first (``.C`` is C++,
    ``.c`` is C) and then case-insensitively.
    """
    exact, lowered, dots = _by_suffix()
    name = path.rsplit("/", 1)[-1]
    if name in exact:
        return exact[name]
    pieces = name.split(".")
    # Longest suffix first; the whole name with a leading dot (".bashrc") is not an extension.
    for n in range(min(dots, len(pieces) - 1), 0, -1):
        suffix = "." + ".".join(pieces[-n:])
        if suffix == "." + name:
            continue
        lang = exact.get(suffix) or lowered.get(suffix.lower())
        if lang is not None:
            return lang
    return None


def known_languages() -> set[str]:
    return set(language_table())
