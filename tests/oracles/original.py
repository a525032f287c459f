"""The original CommitPack and CommitPackFT decisions, computed the slow and obvious way, for comparison.

A transcription of what the OctoPack repository's scripts decide, written for these tests
and sharing no code with the crawler or the filter:

- :func:`original_samples`: the BigQuery selection (``sql_1`` ... ``sql_5``) and
  ``scrape_github.py``'s filters over a local Git history, with plain ``git log --raw``
  and ``git cat-file --batch``;
- :func:`original_filter`: ``commitpackft_filters1.py`` and ``commitpackft_filters2.py``
  row by row, counting the rows each rule drops (rule 3 read with or without the leading
  dot; rule 14 with the deterministic choice documented in docs/commits.md).
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from collections import Counter
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

TABLE: dict[str, list[str]] = json.loads(
    resources.files("octopack.data").joinpath("commitpack/programming_languages.json").read_text()
)
ENTRY_LANGUAGE = {entry: lang for lang, entries in TABLE.items() for entry in entries}
ENTRIES = tuple(ENTRY_LANGUAGE)

# sql_1: LOWER(message) NOT LIKE each of these (``_`` any one character, ``%`` any run).
SQL_NOT_LIKE = [
    "update readme.md", "initial commit", "update", "mirroring from micro.blog.", "update data.json",
    "update data.js", "add files via upload", "update readme", "can't you see i'm updating the time?", "pi push",
    "dummy", "update index.html", "first commit", "create readme.md", "heartbeat update", "updated readme",
    "update log", "test", "no message", "readme", "wip", "updates", "first commit", "commit",
    "update _config.yaml", "update data.json", "update data.js", "merge%",
]
SQL_LANGUAGES = ["Python", "Java", "JavaScript", "HTML", "Common Lisp", "Shell", "R", "Perl%", "SQL", "C", "C#",
                 "C++", "TypeScript", "Go", "Rust", "Swift", "PHP", "Dart", "Kotlin", "Matlab", "MATLAB", "Ruby"]
SCRAPE_MISC = ["initial commit", "please\n", "please", "lalala"]


def sql_like(value: str, pattern: str) -> bool:
    regex = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def path_language(path: str) -> str | None:
    """``scrape_github.py`` keeps ``path.endswith(entries)``; the language is the longest entry it ends with."""
    matches = [entry for entry in ENTRIES if path.endswith(entry)]
    return ENTRY_LANGUAGE[max(matches, key=len)] if matches else None


def _git(repo: Path, *args: str, data: bytes | None = None) -> bytes:
    return subprocess.run(["git", *args], cwd=repo, input=data, capture_output=True, check=True).stdout


def _cat_file(repo: Path, shas: list[str]) -> dict[str, bytes]:
    """Object contents by sha from one ``git cat-file --batch``."""
    out = _git(repo, "cat-file", "--batch", data="".join(s + "\n" for s in shas).encode())
    objects, at = {}, 0
    for sha in shas:
        end = out.index(b"\n", at)
        header = out[at:end].split()
        size = int(header[2])
        objects[sha] = out[end + 1 : end + 1 + size]
        at = end + 1 + size + 1
    return objects


def original_samples(repo: Path, rev: str = "HEAD", max_bytes: int = 1_000_000) -> tuple[list[dict], Counter[str]]:
    """CommitPack rows of ``repo`` as the original selects them, and why the others were left out."""
    why: Counter[str] = Counter()
    files = _git(repo, "ls-tree", "-r", "-z", "--name-only", rev).decode(errors="replace").split("\0")
    languages = {path_language(f) for f in files if f} - {None}
    if not any(sql_like(lang, p) for lang in languages for p in SQL_LANGUAGES if lang is not None):
        why["repository_language"] += 1
        return [], why
    log = _git(repo, "-c", "core.quotepath=off", "log", "--raw", "--no-renames", "--no-abbrev",
               "--format=%x00%H %P", rev).decode("utf-8", errors="replace")
    candidates: list[tuple[str, str]] = []
    for chunk in log.split("\0")[1:]:
        lines = chunk.strip("\n").split("\n")
        shas = lines[0].split()
        raw = [line for line in lines[1:] if line.startswith(":")]
        if len(shas) != 2:  # the root commit has no in-place change; merges are left out (see docs/commits.md)
            why["merge" if len(shas) > 2 else "root_commit"] += 1
            continue
        in_place = [line for line in raw if line.split("\t")[0].split()[4] in ("M", "T")]
        if len(in_place) != 1:
            why["multi_file" if in_place else "no_in_place_change"] += 1
            continue
        candidates.append((shas[0], in_place[0]))
    messages = _cat_file(repo, [sha for sha, _ in candidates])
    rows, blobs_wanted = [], []
    for sha, line in candidates:
        meta, path = line.split("\t", 1)
        old_mode, new_mode, old_blob, new_blob, _status = meta[1:].split()
        if old_mode not in ("100644", "100755") or new_mode not in ("100644", "100755"):
            why["not_regular_file"] += 1
            continue
        lang = path_language(path)
        if lang is None:
            why["unknown_language"] += 1
            continue
        message = messages[sha].split(b"\n\n", 1)[1].decode("utf-8", errors="replace")
        lowered = message.lower()
        if not 5 < len(message) < 10000 or any(sql_like(lowered, p) for p in SQL_NOT_LIKE):
            why["sql_message"] += 1
            continue
        if message == "Update " + path or message in SCRAPE_MISC:
            why["scrape_message"] += 1
            continue
        rows.append({"commit": sha, "old_file": path, "new_file": path, "message": message,
                     "subject": message.split("\n")[0], "lang": lang, "old_blob": old_blob, "new_blob": new_blob})
        blobs_wanted += [old_blob, new_blob]
    blobs = _cat_file(repo, sorted(set(blobs_wanted)))
    samples = []
    for row in rows:
        old, new = blobs[row.pop("old_blob")], blobs[row.pop("new_blob")]
        if len(old) > max_bytes or len(new) > max_bytes:
            why["oversized"] += 1
            continue
        samples.append(row | {"old_contents": old.decode(errors="ignore"), "new_contents": new.decode(errors="ignore")})
    return samples, why


# -- commitpackft_filters1.py and commitpackft_filters2.py, one row at a time ------------------------------------
VERBS = [line.strip() for line in resources.files("octopack.data").joinpath(
    "commitpack/imperative_verbs_en.txt").read_text().splitlines() if line.strip()]
GOOD_STARTS = tuple((v + " " if v == "plug" else v) + " " for v in VERBS)  # the original's set spells "plug "
BAD_SUB_MESSAGE = ["auto commit", "update contributing", "<?xml", "merge branch", "merge pull request",
                   "signed-off-by"]
BAD_MESSAGE = ["readme", "update", "dummy", "updated", "test", "update readme", "update readme.md",
               "updated readme.md", "updated readme"]
EXTENSIONS = {"python": [".py"], "java": [".java"], "javascript": [".js"], "rust": [".rs"], "go": [".go"],
              "c++": [".cpp"], "c": [".c", ".h"], "html": [".html"], "shell": ["sh", "bash", "zsh", "csh", "slurm"],
              "xml": [".xml"]}


def _clean(subject: str) -> str:
    subject = subject.strip().replace("[skip ci]", "")
    words = subject.strip().split()
    if words and words[0].startswith("[") and words[0].endswith("]"):
        words = words[1:]
    if words and words[0].endswith(":"):
        words = words[1:]
    if words and words[-1].startswith("[") and words[-1].endswith("]"):
        words = words[:-1]
    return " ".join(words).strip()


def _length_ok(subject: str) -> bool:
    return 10 < len(subject) < 1000 and 4 < len(subject.split()) < 1000


def _bump_kept(sha: str, keep_fraction: float) -> bool:
    digest = hashlib.blake2b(sha.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") < int(keep_fraction * 2**64)


def original_filter(
    rows: list[dict[str, Any]], count_tokens: Callable[[str, str], int] | None, bump_keep: float = 0.1
) -> tuple[list[dict[str, Any]], dict[int, int]]:
    """The rows both scripts keep (subjects cleaned) and how many each rule drops (rule number -> rows).

    ``count_tokens(old, new)`` counts rule 8's tokens of ``old + eos + new``; None leaves rule 8 out.
    """
    dropped = dict.fromkeys(range(1, 17), 0)
    kept = []
    for row in rows:
        subject, path, lang = row["subject"], row["new_file"], row["lang"]
        old, new = row["old_contents"], row["new_contents"]
        rule = 0
        name = path.split("/")[-1].split(".")
        extensions = EXTENSIONS.get(lang.lower().replace(" ", "-"), [])
        ext = path.split(".")[-1]
        if not (len(old) < 50_000 and len(new) != 0 and old != new):
            rule = 1
        elif "#" in subject:
            rule = 2
        elif len(path.split(".")) <= 1 or (extensions and ext not in extensions and "." + ext not in extensions):
            rule = 3
        elif not (len(name) < 2 or name[-2] not in subject):
            rule = 4
        elif not _length_ok(subject):
            rule = 5
        elif not _length_ok(subject := _clean(subject)):
            rule = 6
        elif not subject.strip()[0].isupper():
            rule = 7
        elif count_tokens is not None and not 50 <= count_tokens(old, new) <= 768:
            rule = 8
        else:
            lower = subject.lower()
            if not lower.startswith(GOOD_STARTS):
                rule = 9
            elif lower in BAD_MESSAGE:
                rule = 10
            elif any(bad in lower for bad in BAD_SUB_MESSAGE):
                rule = 11
            elif re.match(r"(?:v)?\d+\.\d+\.\d+(?=$|\S)", lower) or re.match(r"^[a-f0-9]+(?:-[a-f0-9]+)*$", lower):
                rule = 12
            elif "cherry picked from commit" in subject or re.search(r"([a-f0-9]{40})", subject):
                rule = 13
            else:
                subject = subject.replace("[ci skip]", "").strip()
                lower = subject.lower()
                if subject.startswith(("Bump", "Set version", "Update version")) and not _bump_kept(
                        row["commit"], bump_keep):
                    rule = 14
                elif (" i " in lower or "i've" in lower or "i'm" in lower
                      or ("thanks to" in lower and "for" in subject) or "code review" in lower
                      or lower in ["fix that bug where things didn't work but now they should",
                                   "put the thingie in the thingie", "add a beter commit message"]
                      or any(re.search(rf"{w}\s*\d+", lower, re.IGNORECASE) for w in ("issue", "bug", "feature"))
                      or "cdpcp" in lower or "//codereview" in lower
                      or "work in progress" in lower or "wip" in lower
                      or "https://" in lower or "http://" in lower or "| leetcode" in lower):
                    rule = 15
                elif len(subject.split()) < 4:
                    rule = 16
        if rule:
            dropped[rule] += 1
        else:
            kept.append(row | {"subject": subject})
    return kept, dropped
