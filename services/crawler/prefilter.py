"""CommitPack's pre-filters, applied while crawling: which change of a commit is its sample, and its message.

The original selected commits in BigQuery (``sql_1`` ... ``sql_5`` of the OctoPack repository)
and filtered them again in ``scrape_github.py``. Under the ``paper`` profile a commit passes
exactly when it passes both; the corrections of
:data:`~octopack.services.crawler.options.CORRECTIONS` change single checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from octopack.services.crawler.gitio import Change
    from octopack.services.crawler.options import CrawlOptions

#: The SQL's ``LOWER(message) NOT LIKE ...`` patterns, in its order (duplicates dropped).
SQL_MESSAGES = (
    "update readme.md",
    "initial commit",
    "update",
    "mirroring from micro.blog.",
    "update data.json",
    "update data.js",
    "add files via upload",
    "update readme",
    "can't you see i'm updating the time?",
    "pi push",
    "dummy",
    "update index.html",
    "first commit",
    "create readme.md",
    "heartbeat update",
    "updated readme",
    "update log",
    "test",
    "no message",
    "readme",
    "wip",
    "updates",
    "commit",
    "update _config.yaml",
)
#: Lower-cased whole messages that carry no instruction (the SQL's list read literally, and the scrape's).
BORING_MESSAGES = frozenset({*SQL_MESSAGES, "please", "lalala"})
#: ``scrape_github.py``'s ``filter_misc``: whole messages, compared as they are.
SCRAPE_MESSAGES = frozenset({"initial commit", "please\n", "please", "lalala"})


def _like(pattern: str) -> re.Pattern[str]:
    """SQL ``LIKE``: ``%`` is any run of characters, ``_`` any one character, the rest literal."""
    parts = {"%": ".*", "_": "."}
    return re.compile("".join(parts.get(ch, re.escape(ch)) for ch in pattern), re.DOTALL)


_SQL_LIKE = tuple(_like(p) for p in SQL_MESSAGES)
_MERGE = _like("merge%")


@dataclass(frozen=True)
class MessageChecks:
    """The message pre-filters under one set of corrections."""

    trimmed_message: bool = False
    update_message_any_case: bool = False
    literal_message_list: bool = False

    @classmethod
    def of(cls, options: CrawlOptions) -> MessageChecks:
        return cls(options.corrected("trimmed_message"), options.corrected("update_message_any_case"),
                   options.corrected("literal_message_list"))

    def text(self, message: str) -> str:
        """The message as the checks read it and the sample stores it."""
        return message.rstrip() if self.trimmed_message else message

    def reason(self, message: str, path: str) -> str | None:
        """Why ``message`` (the commit's whole message as stored) fails the pre-filters, or None when it passes.

        The SQL: ``5 < LENGTH(message) < 10000``, ``LOWER(message) NOT LIKE 'merge%'`` and not
        LIKE any of :data:`SQL_MESSAGES`; the scrape: the message is not ``"Update " + old_file``
        and not one of :data:`SCRAPE_MESSAGES`.
        """
        text = self.text(message)
        if not 5 < len(text) < 10000:
            return "message_length"
        lowered = text.strip().lower() if self.trimmed_message else text.lower()
        if lowered.startswith("merge") if self.literal_message_list else _MERGE.fullmatch(lowered):
            return "message_merge"
        if self.literal_message_list:
            if lowered in BORING_MESSAGES:
                return "message_boring"
        elif any(p.fullmatch(lowered) for p in _SQL_LIKE):
            return "message_boring"
        if self.update_message_any_case:
            lowered_path = path.lower()
            if lowered in (f"update {lowered_path}", f"update {lowered_path.rsplit('/', 1)[-1]}"):
                return "message_update_file"
        elif text == "Update " + path:
            return "message_update_file"
        if text in SCRAPE_MESSAGES:
            return "message_boring"
        return None


def message_reason(message: str, path: str, checks: MessageChecks | None = None) -> str | None:
    """Why ``message`` fails the pre-filters (a skip reason), or None; ``checks`` default to the paper profile's."""
    return (checks or MessageChecks()).reason(message, path)


#: The SQL's repository languages (GitHub's names; ``LIKE 'Perl%'`` is every name starting with Perl).
SQL_REPOSITORY_LANGUAGES = frozenset({
    "Python", "Java", "JavaScript", "HTML", "Common Lisp", "Shell", "R", "SQL", "C", "C#", "C++", "TypeScript",
    "Go", "Rust", "Swift", "PHP", "Dart", "Kotlin", "Matlab", "MATLAB", "Ruby",
})


def repository_language_ok(languages: set[str]) -> bool:
    """The SQL's repository filter: one of the repository's languages is one of its 22."""
    return any(lang in SQL_REPOSITORY_LANGUAGES or lang.startswith("Perl") for lang in languages)


def sample_change(changes: list[Change], one_changed_file: bool) -> Change | str:
    """The commit's one sample change, or why it has none.

    The original (``sql_4``/``sql_5``) keeps the commits with exactly one file whose old and new
    path are the same (modified in place), whatever else they add, delete or rename;
    ``one_changed_file`` asks for exactly one change in all.
    """
    if not changes:
        return "no_change"
    if one_changed_file:
        if len(changes) != 1:
            return "multi_file"
        in_place = [c for c in changes if c.status == "M"]
    else:
        in_place = [c for c in changes if c.status in ("M", "T")]
        if len(in_place) > 1:
            return "multi_file"
    if not in_place:
        return "not_modification"
    return in_place[0]
