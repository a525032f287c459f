"""Build small Git repositories in a temporary folder, and an independent oracle of their samples."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from octopack.services.crawler.language import language_of
from octopack.services.crawler.prefilter import MessageChecks, message_reason

#: The message checks of the improved profile (every correction on), which :func:`oracle` follows.
IMPROVED_CHECKS = MessageChecks(trimmed_message=True, update_message_any_case=True, literal_message_list=True)

ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com",
}


class Repo:
    """A working-tree repository driven by plain git commands."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")
        self.git("config", "commit.gpgsign", "false")
        self._tick = 0

    def git(self, *args: str) -> str:
        return subprocess.run(["git", *args], cwd=self.path, env=self._env(), check=True,
                              capture_output=True).stdout.decode()

    def _env(self) -> dict[str, str]:
        when = f"{1_700_000_000 + getattr(self, '_tick', 0) * 3600} +0000"
        return {**ENV, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}

    def write(self, name: str, data: str | bytes) -> None:
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data.encode() if isinstance(data, str) else data)

    def commit(self, message: str, **files: str | bytes) -> str:
        """Write ``files`` (keyword names use '__' for '/', '_DOT_' for '.'), commit everything, return the sha."""
        for key, data in files.items():
            self.write(key.replace("__", "/").replace("_DOT_", "."), data)
        self._tick += 1
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").strip()


def oracle(repo: Path, rev: str = "HEAD", max_bytes: int = 1_000_000) -> dict[str, dict]:
    """The samples of ``repo`` under the improved profile, with plain ``git log --name-status`` and ``git show``.

    Independent of the crawler's git plumbing: one process per commit, the slow and obvious way.
    (``tests/oracles/original.py`` is the paper profile's oracle.)
    """
    out = subprocess.run(
        ["git", "-c", "core.quotepath=off", "log", "--name-status", "--format=%x00%H %P%x00%B%x00", rev],
        cwd=repo, capture_output=True, check=True,
    ).stdout.decode("utf-8", errors="replace")
    samples: dict[str, dict] = {}
    chunks = out.split("\0")[1:]
    for i in range(0, len(chunks) - 2, 3):
        shas, message, status = chunks[i].split(), chunks[i + 1], chunks[i + 2]
        lines = [line for line in status.strip("\n").split("\n") if line]
        if len(shas) != 2 or len(lines) != 1 or not lines[0].startswith("M\t"):
            continue
        path = lines[0].split("\t", 1)[1]
        message = message.rstrip()
        if language_of(path) is None or message_reason(message, path, IMPROVED_CHECKS) is not None:
            continue
        sha = shas[0]
        old = subprocess.run(["git", "show", f"{sha}^:{path}"], cwd=repo, capture_output=True, check=True).stdout
        new = subprocess.run(["git", "show", f"{sha}:{path}"], cwd=repo, capture_output=True, check=True).stdout
        if len(old) > max_bytes or len(new) > max_bytes or b"\0" in old + new:
            continue
        try:
            old.decode("utf-8"), new.decode("utf-8")
        except UnicodeDecodeError:
            continue
        samples[sha] = {"path": path, "old": old, "new": new, "message": message}
    return samples
