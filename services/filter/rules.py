"""The 16 CommitPackFT rules, each a named step that maps an Arrow table to a keep-mask.

A rule sees only the rows the rules before it kept, and may rewrite the ``subject``
column (rules 6 and 13 clean it). Every rule is a pure function of its row, so filtering
batch by batch equals filtering the whole table, and the result is deterministic (rule
14 samples with a hash of the sha).

Under the ``paper`` profile each rule decides as the original scripts do
(``commitpackft_filters1.py`` for 1-12, ``commitpackft_filters2.py`` for 13-16), with
the one exception of rule 3, whose extension lists are read with or without their
leading dot (as written the original compared ``"py"`` with ``".py"`` and dropped every
row of those languages, which cannot have produced the released data). The named
corrections of :data:`~octopack.services.filter.config.CORRECTIONS` change single rules.

Arrow kernels run where they decide exactly as Python's ``str`` methods do (lengths,
white-space splitting, literal and regular-expression replacement); checks built on
Python's case mapping, ``str.isupper`` and ``re`` run row by row in Python, so they are
the original's checks by construction. Those run late, on the few rows left.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from octopack.services.filter import text
from octopack.services.filter.config import (
    CANONICAL_EXTENSIONS,
    ORIGINAL_EXTENSIONS,
    SPECIFIC_SUBJECTS,
    FilterConfig,
)
from octopack.services.filter.tokens import token_counter

Outcome = tuple[Any, pa.Table]  # (boolean keep-mask, table with possibly rewritten columns)
Apply = Callable[[pa.Table], Outcome]

#: A file name has an extension: a non-dot character before its last dot, and text after it.
HAS_EXTENSION = r"(?:^|/)[^/]*[^/.][^/]*\.[^/.]+$"
LAST_EXTENSION = r"(?P<ext>\.[^./]+)$"
TAG = rf"\[{text.NOT_WS}*\]"


@dataclass(frozen=True)
class Rule:
    """One step of the filter."""

    number: int
    name: str
    stage: int
    description: str
    apply: Apply


def _set(table: pa.Table, name: str, values: Any) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, values)


def _rows(columns: Sequence[str], keep: Callable[..., bool]) -> Apply:
    """A rule that calls ``keep(*values)`` on each row's ``columns``."""

    def apply(t: pa.Table) -> Outcome:
        values = [t[c].to_pylist() for c in columns]
        return pa.array([bool(keep(*row)) for row in zip(*values, strict=True)], pa.bool_()), t

    return apply


def contents(max_old_chars: int) -> Apply:
    def apply(t: pa.Table) -> Outcome:
        old, new = t["old_contents"], t["new_contents"]
        keep = pc.and_(pc.less(pc.utf8_length(old), max_old_chars), pc.greater(pc.utf8_length(new), 0))
        return pc.and_(keep, pc.not_equal(old, new)), t

    return apply


def no_hash_in_subject(t: pa.Table) -> Outcome:
    return pc.invert(pc.match_substring(t["subject"], "#")), t


def lang_key(lang: str) -> str:
    """How the original named a language's data folder (and so looked up its extension list)."""
    return lang.lower().replace(" ", "-")


def extension_lists(config: FilterConfig) -> dict[str, set[str]]:
    """Rule 3's lists by :func:`lang_key`, each entry without its leading dot."""
    lists = config.extension.canonical
    if lists is None:
        lists = CANONICAL_EXTENSIONS if config.corrected("canonical_extensions") else ORIGINAL_EXTENSIONS
    return {lang_key(lang): {e[1:] if e.startswith(".") else e for e in exts} for lang, exts in lists.items()}


def extension(lists: dict[str, set[str]], in_file_name: bool) -> Apply:
    """The file has an extension, and a language with a list allows it.

    The original splits the whole path at dots (``len(path.split(".")) > 1`` and
    ``path.split(".")[-1]`` is the extension), so a dot in a folder counts;
    ``in_file_name`` reads the extension from the file name instead.
    """
    has_ext = re.compile(HAS_EXTENSION)

    def keep(path: str, lang: str) -> bool:
        if in_file_name:
            if not has_ext.search(path):
                return False
            ext = path.rsplit(".", 1)[1]
        else:
            pieces = path.split(".")
            if len(pieces) < 2:
                return False
            ext = pieces[-1]
        allowed = lists.get(lang_key(lang))
        return not allowed or ext in allowed

    return _rows(("new_file", "lang"), keep)


def file_name_in_subject(case_sensitive: bool, stem_before_last_extension: bool) -> Apply:
    """Drop when the file's name appears in the subject.

    The original looks for the piece of the file name before its last dot
    (``name.split(".")[-2]``: ``spec`` for ``foo.spec.rb``, ``""`` for ``.hidden``, which every
    subject contains); a name without a dot passes. The correction looks for the name
    without its last extension, and an empty one never matches.
    """

    def keep(path: str, subject: str) -> bool:
        name = path.split("/")[-1]
        if stem_before_last_extension:
            needle = re.sub(r"\.[^.]*$", "", name)
            if not needle:
                return True
        else:
            pieces = name.split(".")
            if len(pieces) < 2:
                return True
            needle = pieces[-2]
        if not case_sensitive:
            needle, subject = needle.lower(), subject.lower()
        return needle not in subject

    return _rows(("new_file", "subject"), keep)


def subject_length(min_chars: int, max_chars: int, min_words: int) -> Apply:
    def apply(t: pa.Table) -> Outcome:
        n = pc.utf8_length(t["subject"])
        keep = pc.and_(pc.greater(n, min_chars), pc.less(n, max_chars))
        return pc.and_(keep, pc.greater_equal(text.word_count(t["subject"]), min_words)), t

    return apply


def clean_subject(check: Apply, skip_ci_any_case: bool) -> Apply:
    """Remove "[skip ci]", then a first "[tag]" token, then a first "scope:" token, then a last "[tag]".

    Words are joined by single spaces afterwards, and rule 5 runs again.
    """
    ws, word = text.WS, text.NOT_WS

    def apply(t: pa.Table) -> Outcome:
        if skip_ci_any_case:
            s = pc.replace_substring_regex(t["subject"], r"(?i)\[skip ci\]", "")
        else:
            s = pc.replace_substring(t["subject"], "[skip ci]", "")
        s = pc.replace_substring_regex(s, rf"^{ws}*{TAG}(?:{ws}+|$)", "")
        s = pc.replace_substring_regex(s, rf"^{ws}*{word}*:(?:{ws}+|$)", "")
        s = pc.replace_substring_regex(s, rf"(?:^|{ws}+){TAG}{ws}*$", "")
        t = _set(t, "subject", text.squeeze(s))
        return check(t)

    return apply


def _uppercase_start(subject: str) -> bool:
    return subject.strip()[:1].isupper()


uppercase_start = _rows(("subject",), _uppercase_start)


def token_length(tokenizer: str, eos: str, low: int, high: int, batch_size: int) -> Apply:
    def apply(t: pa.Table) -> Outcome:
        counter = token_counter(tokenizer, eos)
        old, new = t["old_contents"], t["new_contents"]
        size = pc.add(pc.binary_length(old), pc.binary_length(new)).to_pylist()
        keep = counter.within(old.to_pylist(), new.to_pylist(), size, low, high, batch_size)
        return pa.array(keep, pa.bool_()), t

    return apply


def verb_list(config: FilterConfig) -> list[str]:
    """Rule 9's verbs: the configured ones, else the packaged 257 as the original spelt them.

    The original's set holds ``"plug "`` with a stray space, so with the space every verb
    gets appended only "plug  " (two spaces) matches; ``plug_verb`` reads it as "plug".
    """
    if config.imperative_verb.values:
        return [v.lower() for v in config.imperative_verb.values]
    verbs = text.imperative_verbs()
    if not config.corrected("plug_verb"):
        verbs = [v + " " if v == "plug" else v for v in verbs]
    return verbs


def imperative_verb(verbs: list[str]) -> Apply:
    starts = tuple(v + " " for v in verbs)
    return _rows(("subject",), lambda s: s.lower().startswith(starts))


def boring_subject(values: list[str]) -> Apply:
    boring = frozenset(v.lower() for v in values)
    return _rows(("subject",), lambda s: s.lower() not in boring)


def banned_phrases(values: list[str], field: str) -> Apply:
    banned = [v.lower() for v in values]

    def keep(value: str) -> bool:
        lowered = value.lower()
        return not any(b in lowered for b in banned)

    return _rows((field,), keep)


_VERSION = re.compile(r"(?:v)?\d+\.\d+\.\d+(?=$|\S)")
_HEX_WORDS = re.compile(r"^[a-f0-9]+(?:-[a-f0-9]+)*$")


def _not_version_or_hash(subject: str) -> bool:
    lowered = subject.lower()
    return not (_VERSION.match(lowered) or _HEX_WORDS.match(lowered))


version_or_hash = _rows(("subject",), _not_version_or_hash)


def cherry_pick(field: str, remove: list[str], sha_as_word: bool, clean_ci_skip: bool) -> Apply:
    """Drop cherry-picks and subjects naming a sha; then remove "[ci skip]" (``remove``) from the subject."""
    sha = re.compile(r"\b[0-9a-f]{40}\b", re.IGNORECASE | re.ASCII) if sha_as_word else re.compile(r"[a-f0-9]{40}")
    removal = re.compile("|".join(re.escape(r) for r in remove), re.IGNORECASE) if remove else None

    def keep(value: str) -> bool:
        haystack = value.lower() if sha_as_word else value
        return "cherry picked from commit" not in haystack and not sha.search(value)

    def clean(subject: str) -> str:
        if clean_ci_skip and removal is not None:
            return " ".join(removal.sub(" ", subject).split())
        for r in remove:
            subject = subject.replace(r, "")
        return subject.strip()

    check = _rows((field,), keep)

    def apply(t: pa.Table) -> Outcome:
        mask, t = check(t)
        if remove:
            t = _set(t, "subject", pa.array([clean(s) for s in t["subject"].to_pylist()], pa.string()))
        return mask, t

    return apply


def bump_sampling(prefixes: list[str], keep_fraction: float, seed: str, any_case: bool) -> Apply:
    """Keep ``keep_fraction`` of version bumps, chosen by a hash of seed + sha (the original was unseeded)."""
    starts = tuple(p.lower() for p in prefixes) if any_case else tuple(prefixes)
    threshold = int(keep_fraction * 2**64)

    def keep(subject: str, sha: str) -> bool:
        if not (subject.lower() if any_case else subject).startswith(starts):
            return True
        digest = hashlib.blake2b(f"{seed}{sha}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") < threshold

    return _rows(("subject", "commit"), keep)


_ISSUE = [re.compile(rf"{word}\s*\d+", re.IGNORECASE) for word in ("issue", "bug", "feature")]
_FIRST_PERSON = [re.compile(p) for p in (r"(?:^|\s)i(?:\s|$)", r"\bi['\u2019]ve\b", r"\bi['\u2019]m\b")]
_THANKS_THEN_FOR = re.compile(r"thanks to .* for", re.IGNORECASE)
_WIP_WORD = re.compile(r"\bwip\b")
_WWW = re.compile(r"\bwww\.")


@dataclass(frozen=True)
class PersonalChecks:
    """Rule 15's checks and the corrections that change them."""

    first_person_anywhere: bool = False
    thanks_to_then_for: bool = False
    wip_as_word: bool = False
    www_links: bool = False

    def keep(self, subject: str) -> bool:
        lowered = subject.lower()
        if self.first_person_anywhere:
            if any(p.search(lowered) for p in _FIRST_PERSON):
                return False
        elif " i " in lowered or "i've" in lowered or "i'm" in lowered:
            return False
        if self.thanks_to_then_for:
            if _THANKS_THEN_FOR.search(subject):
                return False
        elif "thanks to" in lowered and "for" in subject:
            return False
        if "code review" in lowered or lowered in SPECIFIC_SUBJECTS:
            return False
        if any(p.search(lowered) for p in _ISSUE):
            return False
        if "cdpcp" in lowered or "//codereview" in lowered or "work in progress" in lowered:
            return False
        if _WIP_WORD.search(lowered) if self.wip_as_word else "wip" in lowered:
            return False
        if "https://" in lowered or "http://" in lowered or (self.www_links and _WWW.search(lowered)):
            return False
        return "| leetcode" not in lowered


def personal(checks: PersonalChecks, patterns: list[str]) -> Apply:
    """No first person, thanks, references, work in progress, URLs (or the configured ``patterns``)."""
    if patterns:
        compiled = re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)
        return _rows(("subject",), lambda s: not compiled.search(s))
    return _rows(("subject",), checks.keep)


def min_words(n: int) -> Apply:
    def apply(t: pa.Table) -> Outcome:
        return pc.greater_equal(text.word_count(t["subject"]), n), t

    return apply


def build_rules(config: FilterConfig, tokenizer: str) -> list[Rule]:
    """The enabled rules, in order, configured by ``config``; ``tokenizer`` is a resolved path."""
    c = config
    fix = c.corrected
    length = subject_length(c.subject_length.min_chars, c.subject_length.max_chars, c.subject_length.min_words)
    tl = c.token_length
    checks = PersonalChecks(fix("first_person_anywhere"), fix("thanks_to_then_for"), fix("wip_as_word"),
                            fix("www_links"))
    table: list[tuple[int, str, int, str, Any, Apply]] = [
        (1, "contents", 1, "old < 50k chars, new non-empty, changed", c.contents,
         contents(c.contents.max_old_chars)),
        (2, "no_hash_in_subject", 1, "no '#' in the subject", c.no_hash_in_subject, no_hash_in_subject),
        (3, "extension", 1, "has an extension; the language's list allows it", c.extension,
         extension(extension_lists(c), fix("extension_in_file_name"))),
        (4, "file_name_in_subject", 1, "file name not in the subject", c.file_name_in_subject,
         file_name_in_subject(c.file_name_in_subject.case_sensitive, fix("stem_before_last_extension"))),
        (5, "subject_length", 1, "10 < chars < 1000 and >= 5 words", c.subject_length, length),
        (6, "clean_subject", 1, "strip tags and scope prefixes, then rule 5", c.clean_subject,
         clean_subject(length, fix("skip_ci_any_case"))),
        (7, "uppercase_start", 1, "subject starts upper-case", c.uppercase_start, uppercase_start),
        (8, "token_length", 1, f"{tl.min_tokens} <= tokens <= {tl.max_tokens}", tl,
         token_length(tokenizer, tl.eos_token, tl.min_tokens, tl.max_tokens, tl.batch_size)),
        (9, "imperative_verb", 1, "starts with an imperative verb", c.imperative_verb,
         imperative_verb(verb_list(c))),
        (10, "boring_subject", 1, "not a boring subject", c.boring_subject, boring_subject(c.boring_subject.values)),
        (11, "banned_phrases", 1, "no auto-commit/merge/sign-off phrases", c.banned_phrases,
         banned_phrases(c.banned_phrases.values, c.banned_phrases.field)),
        (12, "version_or_hash", 1, "not a version string or a bare hash", c.version_or_hash, version_or_hash),
        (13, "cherry_pick", 2, "no cherry-pick or sha; drop [ci skip]", c.cherry_pick,
         cherry_pick(c.cherry_pick.field, c.cherry_pick.remove, fix("sha_as_word"), fix("clean_ci_skip"))),
        (14, "bump_sampling", 2, "keep 10% of version bumps", c.bump_sampling,
         bump_sampling(c.bump_sampling.prefixes, c.bump_sampling.keep_fraction, c.bump_sampling.seed,
                       fix("bump_any_case"))),
        (15, "personal", 2, "no first person, references, URLs, wip", c.personal,
         personal(checks, c.personal.values)),
        (16, "min_words", 2, f">= {c.min_words.min_words} words", c.min_words, min_words(c.min_words.min_words)),
    ]
    return [Rule(n, name, stage, desc, fn) for n, name, stage, desc, cfg, fn in table if cfg.enabled]
