"""The running local stack's settings, found from its state, for every command.

After ``octopack up``, ``<stack dir>/stack.json`` records each component's address and
``<stack dir>/s3/credentials.json`` the S3 keys. :func:`stack_environment` turns them into the
``OCTOPACK_S3_*`` variables the data commands read; :func:`apply_stack_defaults` (called once
by the CLI entry point) sets those the environment does not already set, so ``octopack crawl``,
``filter``, ``datasets`` and ``train`` work right after ``octopack up`` without exports. The
environment wins: a variable that is set is never replaced, and when ``OCTOPACK_S3_ENDPOINT``
names another server, the stack's keys are not used for it.
"""

from __future__ import annotations

import json
import os
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from pathlib import Path

from octopack.stack.settings import StackSettings

S3_ENDPOINT = "OCTOPACK_S3_ENDPOINT"


@dataclass(frozen=True)
class StackState:
    """What a running stack offers: component addresses and the S3 settings of its server."""

    dir: Path
    addresses: dict[str, str] = field(default_factory=dict)
    s3: dict[str, str] = field(default_factory=dict)


def _alive(pid: int) -> bool:
    from octopack.stack.process import alive

    return alive(pid)


def find_stack(settings: StackSettings | None = None) -> StackState | None:
    """The stack at ``settings.dir`` if its state file exists and its S3 server runs (None otherwise)."""
    settings = settings or StackSettings()
    root = settings.dir.resolve()
    try:
        doc = json.loads((root / "stack.json").read_text())
    except (OSError, ValueError):
        return None
    components = doc.get("components") if isinstance(doc, dict) else None
    if not isinstance(components, dict):
        return None
    addresses = {name: str(c.get("address", "")) for name, c in components.items()
                 if isinstance(c, dict) and _alive(int(c.get("pid", 0) or 0))}
    if not addresses:
        return None
    s3: dict[str, str] = {}
    if "s3" in addresses:
        keys = _credentials(root, components["s3"])
        if keys:
            s3 = {
                S3_ENDPOINT: addresses["s3"],
                "OCTOPACK_S3_ACCESS_KEY": keys["access_key"],
                "OCTOPACK_S3_SECRET_KEY": keys["secret_key"],
                "OCTOPACK_S3_BUCKET": settings.s3_bucket,
            }
    return StackState(root, addresses, s3)


def _credentials(root: Path, component: dict[str, object]) -> dict[str, str] | None:
    """The S3 keys: the credentials file ``octopack up`` wrote, else what stack.json recorded."""
    try:
        keys = json.loads((root / "s3" / "credentials.json").read_text())
    except (OSError, ValueError):
        keys = component.get("extra") or {}
    if not isinstance(keys, dict) or not keys.get("access_key") or not keys.get("secret_key"):
        return None
    return {"access_key": str(keys["access_key"]), "secret_key": str(keys["secret_key"])}


def stack_environment(state: StackState | None, environ: MutableMapping[str, str]) -> dict[str, str]:
    """The variables the stack would add to ``environ`` (none that ``environ`` sets already)."""
    if state is None or not state.s3:
        return {}
    endpoint = environ.get(S3_ENDPOINT)
    if endpoint and endpoint.split("://", 1)[-1].rstrip("/") != state.s3[S3_ENDPOINT]:
        return {}  # another S3 server: its keys are not the stack's
    return {k: v for k, v in state.s3.items() if not environ.get(k)}


def apply_stack_defaults(environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Fill ``environ`` (the process environment) from a running local stack; returns what was set."""
    target = os.environ if environ is None else environ
    try:
        settings = StackSettings()
    except ValueError:
        return {}  # a malformed OCTOPACK_STACK_* variable: the stack commands report it themselves
    added = stack_environment(find_stack(settings), target)
    target.update(added)
    return added
