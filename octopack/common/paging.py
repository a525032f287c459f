"""Pages of list answers: bounded in count and in bytes, resumed with an opaque token.

gRPC clients refuse answers over 4 MiB unless told otherwise; a list that grows with use
(crawls, runs, jobs, datasets) must be cut before that, whatever each item weighs. A page holds
at most ``page_size`` items and at most :data:`MAX_PAGE_BYTES` of them; ``next_page_token``
resumes after the page's last item (by its sort key, so items added meanwhile do not shift it).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from octopack.common.errors import InvalidArgument

T = TypeVar("T")
#: Largest page in serialized bytes: under gRPC's default 4 MiB limit with room for the envelope.
MAX_PAGE_BYTES = 3 * 1024 * 1024
Key = Callable[[Any], list[Any]]


def encode(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()


def decode(token: str, field: str = "page_token") -> list[Any]:
    """The sort key a token carries; InvalidArgument when it is not one of ours."""
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
    except (ValueError, UnicodeDecodeError):
        key = None
    if not isinstance(key, list):
        raise InvalidArgument(f"{field}: not a token from a previous answer; omit it for the first page")
    return key


def page(
    items: Sequence[T], key: Key, size: Callable[[T], int], page_size: int = 0, token: str = "", *,
    descending: bool = False, default: int = 100, maximum: int = 1000, budget: int = MAX_PAGE_BYTES,
) -> tuple[list[T], str]:
    """One page of ``items`` (sorted by ``key``, newest first when ``descending``) after ``token``.

    ``page_size`` 0 means ``default``; more than ``maximum`` is cut to it; ``size`` is an item's
    serialized size. Returns the page and the token of the next one ('' on the last page). A page
    always holds at least one item, so a token always moves forward.
    """
    if page_size < 0:
        raise InvalidArgument(f"page_size: must be >= 0 (0 means {default})")
    count = min(page_size or default, maximum)
    rest = list(items)
    if token:
        after = decode(token)
        rest = [item for item in rest if (key(item) < after if descending else key(item) > after)]
    taken: list[T] = []
    used = 0
    for item in rest:
        weight = size(item) + 8  # the field tag and length of a repeated message
        if taken and (len(taken) >= count or used + weight > budget):
            break
        taken.append(item)
        used += weight
    more = len(taken) < len(rest)
    return taken, encode(key(taken[-1])) if more else ""
