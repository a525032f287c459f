"""The crawler's network policy: which repositories it may fetch, and how every git command runs.

A crawl names repositories; without a policy that is a request to fetch any URL from inside the
cluster (the S3 server, the Ray dashboard, the cloud metadata endpoint...). The policy is checked
twice: when the crawl is requested (every source, before anything starts) and where git runs
(:func:`octopack.services.crawler.gitio.mirror`, right before the clone or fetch, with the
addresses pinned so a name that resolves again to another address cannot slip through).

- schemes: https only by default; ssh and git:// when enabled; local paths (and file://) when allowed;
- hosts: an allow list when one is configured, otherwise any host whose every address is public
  (loopback, private, link-local, CGNAT, multicast and reserved ranges are refused unless allowed);
- git runs with ``--`` before the URL, ``GIT_ALLOW_PROTOCOL`` limited to the allowed schemes, no
  HTTP redirects (a public host could redirect to an internal one), ``http.lowSpeedLimit`` /
  ``http.lowSpeedTime`` against slow transfers, and a stall watchdog on every transport (git prints
  progress while it works; silence past ``stall_seconds`` kills it, which also bounds a connect that
  never completes);
- each git command runs in its own process group: a timeout, a stall or a cancelled crawl kills the
  whole group (git and its ``git-remote-*`` and ``ssh`` children).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import selectors
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from octopack.common.checks import repository
from octopack.common.errors import (
    Cancelled,
    DeadlineExceeded,
    NotFound,
    OctopackError,
    PermissionDenied,
    Unavailable,
)

#: What git needs to reach a scheme's repositories (``GIT_ALLOW_PROTOCOL`` names).
_PROTOCOLS = {"https": "https", "http": "http", "ssh": "ssh", "git": "git", "file": "file"}
_DEFAULT_PORTS = {"https": 443, "http": 80, "ssh": 22, "git": 9418}
_SCP_LIKE = re.compile(r"^(?:[\w.-]+@)?(?P<host>\[[^\]]+\]|[\w.-]+):(?!//)")
#: The current crawl's cancellation check, for every git command run on its behalf.
_CANCELLED: ContextVar[Callable[[], bool] | None] = ContextVar("octopack_crawl_cancelled", default=None)


class NetworkPolicy(BaseModel):
    """Where repositories may come from and how git runs (``OCTOPACK_CRAWLER_GIT_*`` settings)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schemes: tuple[str, ...] = Field(("https",), description="URL schemes allowed: https, http, ssh, git.")
    hosts: tuple[str, ...] = Field(
        (), description="Allowed repository hosts ('github.com', '*.example.org'); empty: any public host."
    )
    allow_private: bool = Field(
        False, description="Also allow hosts that resolve to loopback, private or link-local addresses."
    )
    allow_local_paths: bool = Field(True, description="Allow local paths and file:// URLs.")
    follow_redirects: bool = Field(False, description="Follow HTTP redirects (a redirect is not re-checked).")
    timeout_seconds: float = Field(3600.0, gt=0, description="Longest run of one git command.")
    stall_seconds: float = Field(60.0, gt=0, description="Longest silence of a clone or fetch before it is killed.")
    low_speed_bytes: int = Field(1000, ge=1, description="http.lowSpeedLimit: slower transfers are stalled...")
    low_speed_seconds: int = Field(60, ge=1, description="...after this many seconds (http.lowSpeedTime).")

    # -- checks -----------------------------------------------------------------------------------
    def check(self, source: str) -> list[str]:
        """Raise unless ``source`` may be fetched; return the git options that pin its addresses."""
        try:
            repository(source)
        except ValueError as exc:
            from octopack.common.errors import InvalidArgument

            raise InvalidArgument(f"repository {source!r}: {exc}") from None
        where = locate(source)
        if where.scheme == "file":
            if not self.allow_local_paths:
                raise PermissionDenied(
                    f"repository {source!r}: local paths are not allowed here; give an https URL"
                )
            return []
        if where.scheme not in self.schemes:
            raise PermissionDenied(
                f"repository {source!r}: {where.scheme} URLs are not allowed here (allowed: "
                f"{', '.join(self.schemes)}; OCTOPACK_CRAWLER_GIT_SCHEMES)"
            )
        if self.hosts:
            if not any(_host_matches(where.host, pattern) for pattern in self.hosts):
                raise PermissionDenied(
                    f"repository {source!r}: host {where.host} is not one of the allowed hosts "
                    f"({', '.join(self.hosts)}; OCTOPACK_CRAWLER_GIT_HOSTS)"
                )
            return []
        addresses = _resolve(where.host, where.port, source)
        if not self.allow_private:
            for address in addresses:
                if not _public(address):
                    raise PermissionDenied(
                        f"repository {source!r}: {where.host} resolves to {address}, a loopback, private or "
                        "link-local address; allow such hosts with OCTOPACK_CRAWLER_GIT_HOSTS or "
                        "OCTOPACK_CRAWLER_GIT_ALLOW_PRIVATE=true"
                    )
        if where.scheme in ("https", "http"):
            # curl connects to the addresses checked here, not to a second answer of the resolver.
            pinned = ",".join(f"[{a}]" if ":" in a else a for a in addresses)
            return ["-c", f"http.curloptResolve={where.host}:{where.port}:{pinned}"]
        return []

    def check_all(self, sources: list[str]) -> None:
        """Check every source of a crawl request (the addresses are pinned again where git runs)."""
        for source in sources:
            self.check(source)

    # -- how git runs -----------------------------------------------------------------------------
    def git_options(self) -> list[str]:
        """``-c`` options of every network git command."""
        return [
            "-c", f"http.followRedirects={'true' if self.follow_redirects else 'false'}",
            "-c", f"http.lowSpeedLimit={self.low_speed_bytes}",
            "-c", f"http.lowSpeedTime={self.low_speed_seconds}",
            "-c", "core.askPass=true",
            "-c", "credential.helper=",
        ]

    def git_env(self) -> dict[str, str]:
        """Environment of every git command: only the allowed protocols, no prompts, short ssh connects."""
        allowed = [_PROTOCOLS[s] for s in self.schemes if s in _PROTOCOLS]
        if self.allow_local_paths:
            allowed.append("file")
        env = {
            "GIT_ALLOW_PROTOCOL": ":".join(dict.fromkeys(allowed)) or "none",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "true",
            "GIT_SSH_COMMAND": (
                "ssh -o BatchMode=yes -o ConnectTimeout=30 -o ServerAliveInterval=15 -o ServerAliveCountMax=4"
            ),
            "LC_ALL": "C",
        }
        return env


@dataclass(frozen=True)
class Location:
    """Where a repository source points: ``file`` for a local path."""

    scheme: str
    host: str = ""
    port: int = 0


def locate(source: str) -> Location:
    """The scheme, host and port of a repository URL, scp-like address or local path."""
    if "://" in source:
        parts = urlsplit(source)
        scheme = parts.scheme.lower()
        if scheme == "file":
            return Location("file")
        host = (parts.hostname or "").lower()
        return Location(scheme, host, parts.port or _DEFAULT_PORTS.get(scheme, 0))
    match = _SCP_LIKE.match(source)
    if match and not Path(source).exists():
        return Location("ssh", match.group("host").strip("[]").lower(), 22)
    return Location("file")


def _host_matches(host: str, pattern: str) -> bool:
    pattern = pattern.strip().lower()
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and host != pattern[2:]
    return host == pattern


def _resolve(host: str, port: int, source: str) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port or None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Unavailable(f"repository {source!r}: cannot resolve {host}: {exc}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


# -- running git ------------------------------------------------------------------------------------


@contextlib.contextmanager
def cancelled_by(check: Callable[[], bool]) -> Iterator[None]:
    """Within the block, git commands are killed (process group and all) once ``check()`` is true."""
    token = _CANCELLED.set(check)
    try:
        yield
    finally:
        _CANCELLED.reset(token)


#: Bytes of a git command's stderr kept for its error message (progress lines would fill memory).
_STDERR_TAIL = 64 * 1024


def run_git(
    args: list[str], cwd: Path | None, env: dict[str, str], timeout: float, stall: float | None = None,
) -> tuple[int, bytes, str]:
    """Run ``git args`` in its own process group; return its exit code, stdout and what it said last.

    Killed (the whole group) when it runs past ``timeout``, stays silent on both pipes past
    ``stall`` seconds, or the crawl it works for is cancelled (:func:`cancelled_by`): then the
    matching :class:`Cancelled` or :class:`DeadlineExceeded` is raised.
    """
    cancelled = _CANCELLED.get()
    proc = subprocess.Popen(
        ["git", *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
        env={**os.environ, **env}, start_new_session=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    out, err = bytearray(), bytearray()
    started = heard = time.monotonic()
    why: OctopackError | None = None
    name = f"git {_subcommand(args)}"
    finished = False
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ, out)
            sel.register(proc.stderr, selectors.EVENT_READ, err)
            while sel.get_map():
                for key, _ in sel.select(timeout=0.2):
                    chunk = os.read(key.fd, 65536)
                    if not chunk:
                        sel.unregister(key.fileobj)
                        continue
                    key.data.extend(chunk)
                    heard = time.monotonic()
                    if key.data is err and len(err) > _STDERR_TAIL:
                        del err[: len(err) - _STDERR_TAIL]
                now = time.monotonic()
                if cancelled is not None and cancelled():
                    why = Cancelled(f"{name} stopped: the crawl was cancelled")
                elif now - started > timeout:
                    why = DeadlineExceeded(f"{name} ran longer than {timeout:.0f} s")
                elif stall is not None and now - heard > stall:
                    why = DeadlineExceeded(f"{name} made no progress for {stall:.0f} s (is the server answering?)")
                if why is not None:
                    break
        finished = why is None
    finally:
        if not finished:  # stopped early, or interrupted: nothing of the group may outlive the call
            _kill_group(proc)
        proc.stdout.close()
        proc.stderr.close()
        code = proc.wait()
    if why is not None:
        raise why
    return code, bytes(out), _last_words(err.decode(errors="replace"))


def _subcommand(args: list[str]) -> str:
    """``clone`` of ``["-c", "k=v", "clone", ...]``: what a message calls the command."""
    words = iter(args)
    for word in words:
        if word == "-c":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return ""


def _last_words(stderr: str, lines: int = 8) -> str:
    """What git said, without the progress meters it redraws with carriage returns."""
    said = [line.strip() for line in stderr.splitlines()]  # splitlines also splits at "\r"
    said = [line for line in said if line and not line.startswith(("Receiving objects", "Resolving deltas",
                                                                      "remote: Counting", "remote: Compressing"))]
    return "\n".join(said[-lines:])


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def clone_error(source: str, stderr: str) -> OctopackError:
    """The error of a failed clone, by what git said: gone (NOT_FOUND), refused (PERMISSION_DENIED),
    or the network (UNAVAILABLE, worth another attempt)."""
    said = stderr.lower()
    message = f"cannot clone repository {source!r}: {stderr.strip()}"
    if any(s in said for s in ("authentication failed", "could not read username", "permission denied",
                               "access denied", "403", "not allowed")):
        return PermissionDenied(message)
    if any(s in said for s in ("not found", "does not exist", "does not appear to be a git repository",
                               "404")):
        return NotFound(message)
    return Unavailable(message)
