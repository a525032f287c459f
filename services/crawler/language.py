"""Language of a file from its name, with CommitPack's extension table.

Two readings: :func:`language_by_suffix` is the original's (``scrape_github.py`` keeps a
file when its path ends with an entry of the table, ``str.endswith``, case-sensitively);
:func:`language_of` is the project's correction ``file_name_languages`` (an exact file
name, else the longest dotted extension, then in any case).
"""

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


@lru_cache(maxsize=1)
def _suffixes() -> tuple[tuple[str, ...], dict[str, str]]:
    exact, _, _ = _by_suffix()
    return tuple(exact), exact


def language_by_suffix(path: str) -> str | None:
    """The language whose table entry ``path`` ends with (the longest such entry), or None.

    The original kept a file exactly when ``path.endswith(entries)``, case-sensitively: names
    such as ``Makefile`` count anywhere at the end (``src/GNUmakefile`` does not, ``myMakefile``
    does). Its ``add_lang`` then looked up ``path.split(".")[-1]``, without the dot, in a table
    keyed with dots, which labels every file "unknown" as written; the entry the path ends
    with is what the released data shows.
    """
    entries, exact = _suffixes()
    if not path.endswith(entries):
        return None
    return exact[max((e for e in entries if path.endswith(e)), key=len)]


def assign_language(path: str, by_file_name: bool) -> str | None:
    """The sample's language: :func:`language_of` with the correction, else :func:`language_by_suffix`."""
    return language_of(path) if by_file_name else language_by_suffix(path)


def known_languages() -> set[str]:
    return set(language_table())
