"""Git plumbing: a bare mirror per repository, one streaming history walk, one blob reader.

Every repository costs a constant number of git processes: a clone or fetch, one
``git log`` that streams the whole history with its raw diffs, and one
long-lived ``git cat-file --batch-command`` that serves every blob.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from octopack.common.errors import FailedPrecondition, NotFound
from octopack.services.crawler.policy import NetworkPolicy, clone_error, run_git

#: Marks the start of a commit in the walk's output; cannot start a raw diff entry or a path.
COMMIT_MARK = b"\x01\x02octopack "
LOG_FORMAT = "%x01%x02octopack %H %P%x00%B"
_CHUNK = 1 << 20
_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "LC_ALL": "C"}


class GitError(Exception):
    """A git command failed; the message has its stderr."""


@dataclass(frozen=True)
class Change:
    """One entry of a commit's raw diff (``git log --raw``)."""

    old_mode: str
    new_mode: str
    old_blob: str
    new_blob: str
    status: str
    path: bytes


@dataclass
class Commit:
    """One commit of the walk: sha, parents, full message and raw diff against its first parent."""

    sha: str
    parents: list[str]
    message: str
    changes: list[Change]


def _env() -> dict[str, str]:
    import os

    return {**os.environ, **_GIT_ENV}


def git(
    args: list[str], cwd: Path | None = None, timeout: float | None = 3600, policy: NetworkPolicy | None = None,
) -> bytes:
    """Run one git command and return its stdout; raise :class:`GitError` with its stderr.

    With a ``policy`` the command is a network one: its options, protocols, timeout and stall watchdog
    apply (see :mod:`~octopack.services.crawler.policy`); every command runs in its own process group
    and stops when the crawl is cancelled.
    """
    env = policy.git_env() if policy is not None else _GIT_ENV
    options = policy.git_options() if policy is not None else []
    limit = policy.timeout_seconds if policy is not None else (timeout or 3600)
    stall = policy.stall_seconds if policy is not None else None
    code, out, said = run_git([*options, *args], cwd, env, limit, stall)
    if code != 0:
        raise GitError(f"git {' '.join(a for a in args[:2] if not a.startswith('-c'))} failed: {said}")
    return out


def repo_key(source: str) -> str:
    """A stable, file-name-safe key for a repository URL or path."""
    tail = re.sub(r"[^A-Za-z0-9._-]+", "_", source.rstrip("/").rsplit("/", 1)[-1])[:40] or "repo"
    return f"{tail}-{hashlib.sha256(source.encode()).hexdigest()[:12]}"


def is_remote(source: str) -> bool:
    return "://" in source or re.match(r"^[\w.-]+@[\w.-]+:", source) is not None


def mirror(source: str, cache_dir: Path, policy: NetworkPolicy | None = None) -> Path:
    """Clone ``source`` bare into ``cache_dir`` once, or fetch it if already there; return the mirror path.

    ``policy`` (default: :class:`NetworkPolicy`'s defaults) is checked here, where git runs, and pins
    the addresses it checked. A local path must be a Git repository (bare or not): a missing path
    raises :class:`NotFound`, a folder that is not a repository :class:`FailedPrecondition`.
    """
    policy = policy or NetworkPolicy()
    pins = policy.check(source)
    if not is_remote(source):
        path = Path(source).expanduser()
        if not path.exists():
            raise NotFound(f"repository {source!r} does not exist: give a Git URL or an existing local path")
        if not path.is_dir():
            raise FailedPrecondition(f"{source!r} is a file, not a Git repository")
        try:
            bare = git(["rev-parse", "--is-bare-repository"], cwd=path, timeout=60).decode().strip()
        except GitError as exc:
            raise FailedPrecondition(f"{source!r} is not a Git repository: {exc}") from exc
        if bare != "true":
            try:
                top = git(["rev-parse", "--show-toplevel"], cwd=path, timeout=60).decode().strip()
            except GitError:
                top = ""  # a .git folder itself: it clones like a bare repository
            if top and Path(top).resolve() != path.resolve():
                raise FailedPrecondition(
                    f"{source!r} is a folder inside the Git repository {top}: give the repository's root"
                )
        source = str(path.resolve())
    target = cache_dir / f"{repo_key(source)}.git"
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Two crawls of one repository share its mirror: one clones or fetches at a time.
    with _locked(target.with_suffix(".lock")):
        return _mirror(source, target, pins, policy)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    import fcntl

    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _mirror(source: str, target: Path, pins: list[str], policy: NetworkPolicy) -> Path:
    if (target / "HEAD").exists():
        # --progress: the policy's stall watchdog hears git working.
        git([*pins, "fetch", "--progress", "--prune", "--no-tags", "origin", "+refs/heads/*:refs/heads/*"],
            cwd=target, policy=policy)
        _follow_remote_head(target, pins, policy)
        return target
    tmp = target.with_suffix(".partial")
    if tmp.exists():
        import shutil

        shutil.rmtree(tmp)
    try:
        git([*pins, "clone", "--progress", "--bare", "--no-tags", "--", source, str(tmp)], policy=policy)
    except GitError as exc:
        raise clone_error(source, str(exc)) from exc
    tmp.rename(target)
    return target


def _follow_remote_head(target: Path, pins: list[str], policy: NetworkPolicy) -> None:
    """Keep HEAD on the remote's default branch after a fetch (best effort, offline-safe)."""
    try:
        out = git([*pins, "ls-remote", "--symref", "origin", "HEAD"], cwd=target, policy=policy).decode()
    except GitError:
        return
    match = re.search(r"^ref: (refs/heads/\S+)\s+HEAD", out, re.M)
    if match:
        git(["symbolic-ref", "HEAD", match.group(1)], cwd=target)


def resolve(repo: Path, branch: str = "") -> str | None:
    """The commit sha of ``branch`` (or HEAD); None for an empty repository."""
    ref = f"refs/heads/{branch}" if branch else "HEAD"
    try:
        return git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd=repo).decode().strip()
    except GitError:
        if branch:
            raise NotFound(f"branch {branch!r} does not exist in the repository") from None
        return None


def walk(
    repo: Path, rev: str, since: str = "", until: str = "", max_commits: int = 0
) -> Iterator[Commit]:
    """Stream every commit reachable from ``rev``, newest first, each with its raw diff.

    Merge commits come with no changes (``git log`` shows none without ``-m``).
    Memory holds one commit at a time plus one read chunk.
    """
    args = ["git", "log", "--raw", "-z", "--no-renames", "--no-abbrev", "--no-color", "--no-ext-diff",
            f"--format={LOG_FORMAT}"]
    if since:
        args.append(f"--since={since}")
    if until:
        args.append(f"--until={until}")
    if max_commits:
        args.append(f"--max-count={max_commits}")
    args += [rev, "--"]
    proc = subprocess.Popen(args, cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    assert proc.stdout is not None
    try:
        yield from parse_log(_tokens(proc.stdout))
    finally:
        proc.stdout.close()
        err = proc.stderr.read() if proc.stderr else b""
        code = proc.wait()
        if proc.stderr:
            proc.stderr.close()
    if code != 0:
        raise GitError(f"git log failed: {err.decode(errors='replace').strip()}")


def _tokens(stream: IO[bytes]) -> Iterator[bytes]:
    """NUL-separated tokens of a byte stream, read in fixed-size chunks."""
    rest = b""
    while chunk := stream.read(_CHUNK):
        parts = (rest + chunk).split(b"\0")
        rest = parts.pop()
        yield from parts
    if rest:
        yield rest


def parse_log(tokens: Iterator[bytes]) -> Iterator[Commit]:
    """Parse the token stream of :func:`walk` (header, message, then meta/path pairs) into commits."""
    current: Commit | None = None
    expect_message = False
    meta: bytes | None = None
    for token in tokens:
        if not expect_message and meta is None:
            token = token.lstrip(b"\n")
        if expect_message:
            assert current is not None
            current.message = token.decode("utf-8", errors="replace")
            expect_message = False
        elif meta is not None:
            fields = meta.split()
            assert current is not None
            current.changes.append(
                Change(fields[0].decode(), fields[1].decode(), fields[2].decode(), fields[3].decode(),
                       fields[4].decode(), token)
            )
            meta = None
        elif token.startswith(COMMIT_MARK):
            if current is not None:
                yield current
            shas = token[len(COMMIT_MARK):].decode().split()
            current = Commit(shas[0], shas[1:], "", [])
            expect_message = True
        elif token.startswith(b":"):
            meta = token[1:]
    if current is not None:
        yield current


class BlobReader:
    """One long-lived ``git cat-file --batch-command`` serving sizes and contents of blobs."""

    def __init__(self, repo: Path) -> None:
        self._proc = subprocess.Popen(
            ["git", "cat-file", "--batch-command"],
            cwd=repo,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=_env(),
        )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._in = self._proc.stdin
        self._out = self._proc.stdout

    def _header(self, command: str, sha: str) -> int | None:
        self._in.write(f"{command} {sha}\n".encode())
        self._in.flush()
        line = self._out.readline()
        if not line:
            raise GitError("git cat-file exited early")
        parts = line.split()
        if len(parts) != 3:  # "<sha> missing" or "<sha> ambiguous"
            return None
        return int(parts[2])

    def size(self, sha: str) -> int | None:
        """Size in bytes of an object, or None if it is missing."""
        return self._header("info", sha)

    def read(self, sha: str) -> bytes | None:
        """Contents of an object, or None if it is missing."""
        size = self._header("contents", sha)
        if size is None:
            return None
        data = self._out.read(size)
        self._out.read(1)  # the newline after the contents
        return data

    def close(self) -> None:
        self._in.close()
        self._proc.wait(timeout=30)
        self._out.close()

    def __enter__(self) -> BlobReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def ls_root(repo: Path, rev: str) -> list[tuple[str, str, str]]:
    """(mode, blob sha, name) of the files at the root of ``rev``'s tree."""
    out = git(["ls-tree", "-z", rev], cwd=repo)
    entries = []
    for item in out.split(b"\0"):
        if not item:
            continue
        meta, name = item.split(b"\t", 1)
        mode, kind, sha = meta.decode().split()
        if kind == "blob":
            entries.append((mode, sha, name.decode(errors="replace")))
    return entries
