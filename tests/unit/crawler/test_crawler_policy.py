"""The crawler's network policy: which sources pass, which are refused and why, and how git is run."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from octopack.common.errors import Cancelled, DeadlineExceeded, InvalidArgument, PermissionDenied, Unavailable
from octopack.services.crawler.policy import NetworkPolicy, cancelled_by, clone_error, locate, run_git
from octopack.services.crawler.settings import CrawlerSettings


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("https://127.0.0.1/r.git", "loopback, private or link-local"),
        ("https://localhost:8265/api", "loopback, private or link-local"),
        ("https://10.1.2.3/r.git", "loopback, private or link-local"),
        ("https://169.254.169.254/latest/meta-data", "loopback, private or link-local"),
        ("https://[::1]:9000/bucket", "loopback, private or link-local"),
        ("https://[::ffff:127.0.0.1]/r", "loopback, private or link-local"),
        ("http://example.com/r.git", "http URLs are not allowed"),
        ("git://example.com/r.git", "git URLs are not allowed"),
        ("ssh://git@example.com/r.git", "ssh URLs are not allowed"),
        ("git@example.com:owner/r.git", "ssh URLs are not allowed"),
    ],
)
def test_default_policy_refuses_internal_hosts_and_other_schemes(source: str, why: str) -> None:
    with pytest.raises(PermissionDenied, match=why):
        NetworkPolicy().check(source)


@pytest.mark.parametrize("source", ["ext::sh -c id", "-uhelp", "https:///nohost", "fd::3", "ftp://example.com/r"])
def test_sources_git_would_misread_are_invalid(source: str) -> None:
    with pytest.raises(InvalidArgument):
        NetworkPolicy().check(source)


def test_a_public_address_passes_pinned_for_curl() -> None:
    pins = NetworkPolicy().check("https://93.184.215.14/owner/r.git")
    assert pins == ["-c", "http.curloptResolve=93.184.215.14:443:93.184.215.14"]


def test_allow_list_and_private_switch() -> None:
    listed = NetworkPolicy(hosts=("git.internal", "*.example.org"))
    assert listed.check("https://git.internal/r.git") == []  # listed hosts are trusted, not resolved
    assert listed.check("https://a.b.example.org/r.git") == []
    with pytest.raises(PermissionDenied, match="not one of the allowed hosts"):
        listed.check("https://github.com/r.git")
    with pytest.raises(PermissionDenied, match="not one of the allowed hosts"):
        listed.check("https://example.org/r.git")  # *.example.org is subdomains only
    assert NetworkPolicy(allow_private=True).check("https://127.0.0.1:9/r.git")
    assert NetworkPolicy(schemes=("https", "git"), allow_private=True).check("git://127.0.0.1/r") == []


def test_local_paths(tmp_path: Path) -> None:
    assert NetworkPolicy().check(str(tmp_path)) == []
    assert NetworkPolicy().check(f"file://{tmp_path}") == []
    with pytest.raises(PermissionDenied, match="local paths are not allowed"):
        NetworkPolicy(allow_local_paths=False).check(str(tmp_path))
    assert locate(str(tmp_path)).scheme == "file"


def test_unresolvable_host_is_transient() -> None:
    with pytest.raises(Unavailable, match="cannot resolve"):
        NetworkPolicy().check("https://git.nonexistent.invalid/r.git")


def test_git_environment_allows_only_the_policys_protocols() -> None:
    assert NetworkPolicy().git_env()["GIT_ALLOW_PROTOCOL"] == "https:file"
    assert NetworkPolicy(schemes=("https", "ssh"), allow_local_paths=False).git_env()["GIT_ALLOW_PROTOCOL"] == "https:ssh"
    options = NetworkPolicy().git_options()
    assert "http.followRedirects=false" in options and "http.lowSpeedTime=60" in options


def test_settings_build_the_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCTOPACK_CRAWLER_GIT_SCHEMES", "https,ssh")
    monkeypatch.setenv("OCTOPACK_CRAWLER_GIT_HOSTS", "github.com, gitlab.com")
    monkeypatch.setenv("OCTOPACK_CRAWLER_GIT_STALL_SECONDS", "5")
    policy = CrawlerSettings().policy()
    assert policy.schemes == ("https", "ssh") and policy.hosts == ("github.com", "gitlab.com")
    assert policy.stall_seconds == 5
    monkeypatch.setenv("OCTOPACK_CRAWLER_GIT_SCHEMES", "https,ftp")
    with pytest.raises(ValueError, match="git_schemes"):
        CrawlerSettings()


def test_clone_errors_say_whether_a_retry_can_help() -> None:
    assert clone_error("r", "fatal: repository 'https://x/r/' not found").code == "NOT_FOUND"
    assert clone_error("r", "fatal: Authentication failed for 'https://x/r/'").code == "PERMISSION_DENIED"
    assert clone_error("r", "fatal: transport 'ext' not allowed").code == "PERMISSION_DENIED"
    assert clone_error("r", "fatal: unable to access 'https://x/': Could not resolve host: x").code == "UNAVAILABLE"


def _sleeper(tmp_path: Path) -> tuple[list[str], dict[str, str], Path]:
    """A fake git (an alias) that starts a child and then says nothing; the child writes its pid."""
    pid_file = tmp_path / "child.pid"
    script = f"import os, subprocess, sys, time; p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); open({str(pid_file)!r}, 'w').write(str(p.pid)); time.sleep(60)"
    env = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "alias.hang", "GIT_CONFIG_VALUE_0": f"!{sys.executable} -c \"{script}\""}
    return ["hang"], env, pid_file


def _gone(pid_file: Path) -> bool:
    deadline = time.monotonic() + 10
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    pid = int(pid_file.read_text())
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # A killed child the init process has not reaped yet shows as a zombie.
        state = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True).stdout
        if state.strip().startswith("Z") or not state.strip():
            return True
        time.sleep(0.05)
    return False


def test_a_silent_git_is_killed_with_its_children_after_the_stall_time(tmp_path: Path) -> None:
    args, env, pid_file = _sleeper(tmp_path)
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded, match="made no progress for 1 s"):
        run_git(args, tmp_path, env, timeout=60, stall=1)
    assert time.monotonic() - started < 10
    assert _gone(pid_file), "the git command's child outlived it"


def test_a_cancelled_crawl_kills_its_git_command(tmp_path: Path) -> None:
    args, env, pid_file = _sleeper(tmp_path)
    marker = tmp_path / "CANCELLED"
    started = time.monotonic()
    with cancelled_by(marker.exists), pytest.raises(Cancelled, match="cancelled"):
        import threading

        threading.Timer(1.0, marker.touch).start()
        run_git(args, tmp_path, env, timeout=60)
    assert time.monotonic() - started < 10
    assert _gone(pid_file)


def test_a_git_that_finishes_returns_its_output(tmp_path: Path) -> None:
    code, out, said = run_git(["--version"], tmp_path, {}, timeout=30, stall=5)
    assert code == 0 and out.startswith(b"git version")
    code, _, said = run_git(["rev-parse", "--git-dir"], tmp_path, {}, timeout=30)
    assert code != 0 and "not a git repository" in said
