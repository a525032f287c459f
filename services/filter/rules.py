"""The 16 CommitPackFT rules, each a named step that maps an Arrow table to a keep-mask.

A rule sees only the rows the rules before it kept, and may rewrite the
``subject`` column (rules 6 and 13 clean it). Every rule is a pure function of
its row, so filtering batch by batch equals filtering the whole table, and
the result is deterministic (rule 14 samples with a hash of the sha).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from octopack.services.filter import text
from octopack.services.filter.config import FilterConfig
from octopack.services.filter.tokens import token_counter

Outcome = tuple[Any, pa.Table]  # (boolean keep-mask, table with possibly rewritten columns)
Apply = Callable[[pa.Table], Outcome]

#: A file has an extension: a base name with a non-dot character before its last dot, and text after it.
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


def contents(max_old_chars: int) -> Apply:
    def apply(t: pa.Table) -> Outcome:
        old, new = t["old_contents"], t["new_contents"]
        keep = pc.and_(pc.less(pc.utf8_length(old), max_old_chars), pc.greater(pc.utf8_length(new), 0))
        return pc.and_(keep, pc.not_equal(old, new)), t

    return apply


def no_hash_in_subject(t: pa.Table) -> Outcome:
    return pc.invert(pc.match_substring(t["subject"], "#")), t


def extension(canonical: dict[str, list[str]]) -> Apply:
    """Intent of the original: an extension, and for the main languages a canonical one.

    The original compared ``path.split('.')[-1]`` (no dot) with dotted extensions,
    so its language check never fired; here both sides carry the dot.
    """
    allowed = pa.array([f"{lang}\0{ext}" for lang, exts in canonical.items() for ext in exts])
    main = pa.array(list(canonical))

    def apply(t: pa.Table) -> Outcome:
        path = t["new_file"]
        ext = pc.struct_field(pc.extract_regex(path, LAST_EXTENSION), [0])
        key = pc.binary_join_element_wise(t["lang"], pc.fill_null(ext, ""), "\0")
        canonical_ok = pc.or_(pc.invert(pc.is_in(t["lang"], main)), pc.is_in(key, allowed))
        return pc.and_(text.has(path, HAS_EXTENSION), canonical_ok), t

    return apply


def file_name_in_subject(case_sensitive: bool) -> Apply:
    """Drop when the base name without its last extension appears in the subject (an empty one never does)."""

    def apply(t: pa.Table) -> Outcome:
        stems = pc.replace_substring_regex(pc.replace_substring_regex(t["new_file"], r"^.*/", ""), r"\.[^.]*$", "")
        subjects = t["subject"]
        if not case_sensitive:
            stems, subjects = pc.utf8_lower(stems), pc.utf8_lower(subjects)
        # A needle per row has no Arrow kernel: one C-level ``in`` per row.
        keep = [not s or s not in subj for s, subj in zip(stems.to_pylist(), subjects.to_pylist(), strict=True)]
        return pa.array(keep, pa.bool_()), t

    return apply


def subject_length(min_chars: int, max_chars: int, min_words: int) -> Apply:
    def apply(t: pa.Table) -> Outcome:
        n = pc.utf8_length(t["subject"])
        keep = pc.and_(pc.greater(n, min_chars), pc.less(n, max_chars))
        return pc.and_(keep, pc.greater_equal(text.word_count(t["subject"]), min_words)), t

    return apply


def clean_subject(check: Apply) -> Apply:
    """Drop "[skip ci]", a leading "[tag]" or "scope:" token and a trailing "[tag]"; then rule 5 again."""

    def apply(t: pa.Table) -> Outcome:
        s = pc.replace_substring_regex(t["subject"], r"(?i)\[skip ci\]", " ")
        ws, word = text.WS, text.NOT_WS
        s = pc.replace_substring_regex(s, rf"^{ws}*(?:{TAG}|{word}*:)(?:{ws}+|$)", "")
        s = pc.replace_substring_regex(s, rf"(?:^|{ws}+){TAG}{ws}*$", "")
        t = _set(t, "subject", text.squeeze(s))
        return check(t)

    return apply


def uppercase_start(t: pa.Table) -> Outcome:
    return pc.fill_null(pc.utf8_is_upper(pc.utf8_slice_codeunits(t["subject"], 0, 1)), False), t


def token_length(tokenizer: str, eos: str, low: int, high: int, batch_size: int) -> Apply:
    def apply(t: pa.Table) -> Outcome:
        counter = token_counter(tokenizer, eos)
        old, new = t["old_contents"], t["new_contents"]
        size = pc.add(pc.binary_length(old), pc.binary_length(new)).to_pylist()
        keep = counter.within(old.to_pylist(), new.to_pylist(), size, low, high, batch_size)
        return pa.array(keep, pa.bool_()), t

    return apply


def imperative_verb(verbs: list[str]) -> Apply:
    pattern = f"^(?:{text.any_of(sorted(set(verbs), key=len, reverse=True))}) "

    def apply(t: pa.Table) -> Outcome:
        return text.has(pc.utf8_lower(t["subject"]), pattern), t

    return apply


def boring_subject(values: list[str]) -> Apply:
    value_set = pa.array([v.lower() for v in values], pa.string())

    def apply(t: pa.Table) -> Outcome:
        return pc.invert(pc.is_in(pc.utf8_lower(t["subject"]), value_set)), t

    return apply


def banned_phrases(values: list[str], field: str) -> Apply:
    pattern = text.any_of([v.lower() for v in values])

    def apply(t: pa.Table) -> Outcome:
        return text.lacks(t[field], pattern, ignore_case=True), t

    return apply


def version_or_hash(t: pa.Table) -> Outcome:
    s = pc.utf8_trim_whitespace(t["subject"])
    return pc.and_(text.lacks(s, r"^v?\d+\.\d+\.\d+"), text.lacks(s, r"^[0-9a-fA-F]{7,64}$")), t


def cherry_pick(field: str, remove: list[str]) -> Apply:
    def apply(t: pa.Table) -> Outcome:
        keep = text.lacks(t[field], r"cherry picked from commit|\b[0-9a-f]{40}\b", ignore_case=True)
        if remove:
            s = pc.replace_substring_regex(t["subject"], f"(?i){text.any_of(remove)}", " ")
            t = _set(t, "subject", text.squeeze(s))
        return keep, t

    return apply


def bump_sampling(prefixes: list[str], keep_fraction: float, seed: str) -> Apply:
    """Keep ``keep_fraction`` of version bumps, chosen by a hash of seed + sha (the original was unseeded)."""
    pattern = f"^(?:{text.any_of(prefixes)})"
    threshold = int(keep_fraction * 2**64)

    def apply(t: pa.Table) -> Outcome:
        hit = text.has(t["subject"], pattern, ignore_case=True)
        if not pc.any(hit).as_py():
            return pc.invert(hit), t
        keep = pc.invert(hit).to_pylist()
        shas = t["commit"].to_pylist()
        for i in pc.indices_nonzero(hit).to_pylist():
            digest = hashlib.blake2b(f"{seed}{shas[i]}".encode(), digest_size=8).digest()
            keep[i] = int.from_bytes(digest, "big") < threshold
        return pa.array(keep, pa.bool_()), t

    return apply


def personal(patterns: list[str]) -> Apply:
    pattern = "|".join(f"(?:{p})" for p in patterns)

    def apply(t: pa.Table) -> Outcome:
        return text.lacks(t["subject"], pattern, ignore_case=True), t

    return apply


def min_words(n: int) -> Apply:
    def apply(t: pa.Table) -> Outcome:
        return pc.greater_equal(text.word_count(t["subject"]), n), t

    return apply


def build_rules(config: FilterConfig, tokenizer: str) -> list[Rule]:
    """The enabled rules, in order, configured by ``config``; ``tokenizer`` is a resolved path."""
    c = config
    length = subject_length(c.subject_length.min_chars, c.subject_length.max_chars, c.subject_length.min_words)
    tl = c.token_length
    table: list[tuple[int, str, int, str, Any, Apply]] = [
        (1, "contents", 1, "old < 50k chars, new non-empty, changed", c.contents,
         contents(c.contents.max_old_chars)),
        (2, "no_hash_in_subject", 1, "no '#' in the subject", c.no_hash_in_subject, no_hash_in_subject),
        (3, "extension", 1, "has an extension; canonical for main languages", c.extension,
         extension(c.extension.canonical)),
        (4, "file_name_in_subject", 1, "file base name not in the subject", c.file_name_in_subject,
         file_name_in_subject(c.file_name_in_subject.case_sensitive)),
        (5, "subject_length", 1, "10 < chars < 1000 and >= 5 words", c.subject_length, length),
        (6, "clean_subject", 1, "strip tags and scope prefixes, then rule 5", c.clean_subject, clean_subject(length)),
        (7, "uppercase_start", 1, "subject starts upper-case", c.uppercase_start, uppercase_start),
        (8, "token_length", 1, f"{tl.min_tokens} <= tokens <= {tl.max_tokens}", tl,
         token_length(tokenizer, tl.eos_token, tl.min_tokens, tl.max_tokens, tl.batch_size)),
        (9, "imperative_verb", 1, "starts with an imperative verb", c.imperative_verb,
         imperative_verb(c.imperative_verb.values or text.imperative_verbs())),
        (10, "boring_subject", 1, "not a boring subject", c.boring_subject, boring_subject(c.boring_subject.values)),
        (11, "banned_phrases", 1, "no auto-commit/merge/sign-off phrases", c.banned_phrases,
         banned_phrases(c.banned_phrases.values, c.banned_phrases.field)),
        (12, "version_or_hash", 1, "not a version string or a bare hash", c.version_or_hash, version_or_hash),
        (13, "cherry_pick", 2, "no cherry-pick or sha; drop [ci skip]", c.cherry_pick,
         cherry_pick(c.cherry_pick.field, c.cherry_pick.remove)),
        (14, "bump_sampling", 2, "keep 10% of version bumps", c.bump_sampling,
         bump_sampling(c.bump_sampling.prefixes, c.bump_sampling.keep_fraction, c.bump_sampling.seed)),
        (15, "personal", 2, "no first person, references, URLs, wip", c.personal, personal(c.personal.values)),
        (16, "min_words", 2, f">= {c.min_words.min_words} words", c.min_words, min_words(c.min_words.min_words)),
    ]
    return [Rule(n, name, stage, desc, fn) for n, name, stage, desc, cfg, fn in table if cfg.enabled]
