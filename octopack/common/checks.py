"""Value checks shared by the services' request rules and by their servicers: dates git understands, YAML
documents, nesting depth, host:port addresses, repository URLs, object keys, git refs and Ray addresses.

Each check raises :class:`ValueError` with a message that says what is wrong and what to send instead; the
request rules (:mod:`octopack.common.validation`) turn it into INVALID_ARGUMENT naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import yaml


def short(value: str, limit: int = 60) -> str:
    """A value quoted for a message, cut so an oversized field does not make an oversized error."""
    return repr(value if len(value) <= limit else value[:limit] + "...")


#: Inclusive range of dates git can filter on: its date parser refuses years outside 1970-2099.
GIT_FIRST_YEAR, GIT_LAST_YEAR = 1970, 2099


def git_date(value: str) -> None:
    """An ISO 8601 date (or date and time) inside the years git's ``--since``/``--until`` understand."""
    from datetime import date, datetime

    try:
        parsed = datetime.fromisoformat(value) if "T" in value or " " in value else date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{short(value)} is not an ISO 8601 date such as 2024-01-31") from None
    if not GIT_FIRST_YEAR <= parsed.year <= GIT_LAST_YEAR:
        raise ValueError(
            f"{short(value)} is outside the dates git can compare ({GIT_FIRST_YEAR}-01-01 to {GIT_LAST_YEAR}-12-31)"
        )


class _NoAliasLoader(yaml.SafeLoader):
    """safe_load without anchors and aliases: a few kB of nested aliases expand to billions of nodes."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "anchors and aliases are not accepted", event.start_mark
            )
        return super().compose_node(parent, index)


def yaml_mapping(value: str, max_depth: int = 16) -> dict[str, Any]:
    """The mapping a YAML (or JSON) document holds; ValueError when it is not one, uses aliases or nests
    deeper than ``max_depth``."""
    try:
        doc = yaml.load(value, Loader=_NoAliasLoader) if value.strip() else {}  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ValueError(f"not valid YAML: {exc}") from None
    except RecursionError:
        raise ValueError(f"nested more than {max_depth} levels deep") from None
    doc = {} if doc is None else doc
    if not isinstance(doc, dict):
        raise ValueError(f"must be a YAML mapping of sections, not a {type(doc).__name__}")
    if nesting(doc, max_depth) > max_depth:
        raise ValueError(f"nested more than {max_depth} levels deep")
    return doc


def nesting(value: Any, limit: int) -> int:
    """Depth of nested lists and dicts in ``value``, counted up to ``limit + 1`` (then it stops)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Iterable[Any] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((child, depth) for child in children)
    return deepest


#: ``host:port`` with a DNS name, IPv4 or bracketed IPv6 host.
HOST_PORT = r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?):[0-9]{1,5}"
#: A Kubernetes object name or job id (RFC 1123 label).
K8S_NAME = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"


def host_port(value: str) -> None:
    """``host:port`` with a port in 1..65535."""
    if re.fullmatch(HOST_PORT, value) is None or not 0 < int(value.rsplit(":", 1)[1]) < 65536:
        raise ValueError(f"{short(value)} is not host:port, e.g. 127.0.0.1:9000")


#: URL schemes git can fetch over; everything else (``ext::``, ``fd::``, helpers) is refused.
GIT_SCHEMES = ("https", "http", "ssh", "git", "file")


def repository(value: str) -> None:
    """A Git URL (``https://host/path``, ``ssh://``, ``git://``, ``file://``), an scp-like
    ``user@host:path`` or a local path; never something git would take as an option or a transport
    helper (``-u...``, ``ext::cmd``)."""
    from urllib.parse import urlsplit

    if not value.strip():
        raise ValueError("must not be empty: give a Git URL or a local path")
    if value != value.strip():
        raise ValueError(f"{short(value)} has leading or trailing spaces")
    if value.startswith("-"):
        raise ValueError(f"{short(value)} starts with '-': git would read it as an option")
    head = value.split("/", 1)[0]
    if "::" in head:
        raise ValueError(f"{short(value)} names a git transport helper ('{head.split('::', 1)[0]}::'); "
                         f"use a URL with one of {', '.join(GIT_SCHEMES)}")
    if "://" in value:
        scheme = value.split("://", 1)[0].lower()
        if scheme not in GIT_SCHEMES:
            raise ValueError(f"{short(value)}: scheme {scheme}:// is not one of {', '.join(GIT_SCHEMES)}")
        try:
            parts = urlsplit(value)
            host = parts.hostname
            parts.port  # noqa: B018 - raises ValueError on a port that is not a number
        except ValueError as exc:
            raise ValueError(f"{short(value)} is not a valid URL: {exc}") from None
        if scheme != "file" and not host:
            raise ValueError(f"{short(value)} has no host")


def object_key(value: str) -> None:
    """An object of the store's bucket as a request names it: ``KEY`` or ``s3://BUCKET/KEY`` (which bucket
    is checked by the server, which knows its own)."""
    key = value
    if value.startswith("s3://"):
        bucket, _, key = value[len("s3://"):].partition("/")
        if re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket) is None:
            raise ValueError(f"{short(value)} does not name a bucket: use s3://BUCKET/KEY or a KEY of the bucket")
    elif "://" in value:
        raise ValueError(f"{short(value)} is not an object of the bucket: use s3://BUCKET/KEY or KEY")
    if not key or key.startswith("/") or key.endswith("/"):
        raise ValueError(f"{short(value)} does not name an object: give its key, e.g. lists/repos.txt")
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise ValueError(f"{short(value)}: the key has an empty, '.' or '..' component")


_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


def git_ref(value: str) -> None:
    """A branch name git accepts (the rules of ``git check-ref-format --branch``)."""
    problems = [
        (_REF_FORBIDDEN.search(value) is not None, "contains a space, a control character or one of ~^:?*[\\"),
        (value.startswith("-"), "starts with '-'"),
        (".." in value or "@{" in value or value == "@", "contains '..' or '@{'"),
        (value.startswith("/") or value.endswith("/") or "//" in value, "has an empty path component"),
        (value.endswith(".") or value.endswith(".lock"), "ends with '.' or '.lock'"),
        (any(part.startswith(".") or part.endswith(".lock") for part in value.split("/")),
         "has a component starting with '.' or ending with '.lock'"),
        (len(value) > 255, "is longer than 255 characters"),
    ]
    for broken, why in problems:
        if broken:
            raise ValueError(f"{short(value)} is not a branch name git accepts: it {why}")


def ray_address(value: str, configured: str = "") -> None:
    """A Ray cluster a request may name: the server's own (``configured``), or one on this machine's
    loopback when the server has none. A server process joins one cluster, and a driver trusts the
    cluster it joins with its process: a caller must not point it at another one."""
    bare = value.removeprefix("ray://")
    if value != "auto" and re.fullmatch(HOST_PORT, bare) is None:
        raise ValueError(f"{short(value)} is not a Ray address (host:port, ray://host:port or auto)")
    if configured:
        if value not in (configured, "auto"):
            raise ValueError(f"this server runs on the Ray cluster at {configured}; leave ray_address empty")
        return
    host = bare.rsplit(":", 1)[0].strip("[]")
    if value == "auto" or host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(
            f"{short(value)} is not a Ray cluster on this machine's loopback; a cluster elsewhere must be "
            "the server's own (its ray_address setting)"
        )
