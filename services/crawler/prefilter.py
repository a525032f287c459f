"""CommitPack's message pre-filters, applied while crawling."""

from __future__ import annotations

#: Lower-cased whole messages that carry no instruction.
BORING_MESSAGES = frozenset(
    {
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
        "please",
        "lalala",
    }
)


def message_reason(message: str, path: str) -> str | None:
    """Why ``message`` fails the pre-filters (a skip reason), or None when it passes.

    ``message`` is the whole commit message without trailing white space; the
    "Update <file path>" messages of web editors are matched against the full
    path and against the base name, case-insensitively.
    """
    if not 5 < len(message) < 10000:
        return "message_length"
    lowered = message.strip().lower()
    if lowered.startswith("merge"):
        return "message_merge"
    if lowered in BORING_MESSAGES:
        return "message_boring"
    lowered_path = path.lower()
    if lowered in (f"update {lowered_path}", f"update {lowered_path.rsplit('/', 1)[-1]}"):
        return "message_update_file"
    return None
