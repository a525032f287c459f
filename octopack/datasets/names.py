"""Dataset names, versions and references (``name@version``)."""

from __future__ import annotations

import re

from octopack.common.errors import InvalidArgument

NAME_RULE = r"^[a-z0-9][a-z0-9._-]{0,62}$"
# Matched with fullmatch: "$" alone also matches before a trailing newline ("commits\n" would pass).
_NAME = re.compile(NAME_RULE)
_AUTO = re.compile(r"^v([1-9][0-9]*)$")
#: Words that select a version instead of naming one.
RESERVED_VERSIONS = frozenset({"latest"})


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid dataset name, else raise :class:`InvalidArgument` saying the rule."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidArgument(
            f"dataset name {_quoted(name)} is invalid: use 1-63 characters of a-z, 0-9, '.', '_' or '-', "
            f"starting with a letter or digit (regex {NAME_RULE})"
        )
    return name


def _quoted(value: object) -> str:
    """The value for an error message, cut: an oversized name must not make an oversized error."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_version(version: str) -> str:
    """Return ``version`` if it is a valid version label (``v3``, ``2024-06-01``, ``smoke``)."""
    if not isinstance(version, str) or not _NAME.fullmatch(version):
        raise InvalidArgument(
            f"dataset version {_quoted(version)} is invalid: use 1-63 characters of a-z, 0-9, '.', '_' or '-', "
            f"starting with a letter or digit (regex {NAME_RULE}), e.g. 'v3'"
        )
    if version in RESERVED_VERSIONS:
        raise InvalidArgument(f"dataset version {version!r} is reserved: it selects the newest version")
    return version


def version_number(version: str) -> int | None:
    """N of an automatic version label ``vN``, else None."""
    match = _AUTO.fullmatch(version)
    return int(match.group(1)) if match else None


def parse_ref(ref: str) -> tuple[str, str | None]:
    """``"name@v3"`` -> ``("name", "v3")``; ``"name"`` or ``"name@latest"`` -> ``("name", None)``."""
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidArgument("dataset reference is empty: write NAME or NAME@VERSION, e.g. commitpackft@v2")
    name, sep, version = ref.strip().partition("@")
    check_name(name)
    if not sep or version in RESERVED_VERSIONS:
        return name, None
    if not version:
        raise InvalidArgument(
            f"dataset reference {ref!r} has an empty version: write NAME@VERSION, e.g. {name}@v1"
        )
    return name, check_version(version)


def format_ref(name: str, version: str) -> str:
    return f"{name}@{version}"
