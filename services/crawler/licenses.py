"""Repository license from its license files at HEAD, as a lower-case SPDX id.

Each license is recognised by fingerprints: phrases of its text, normalised
(lower case, every run of non-alphanumerics a single space) so that line
wrapping, Markdown and punctuation do not matter, while copyright lines and
names do not take part. The first matching rule wins, so the more specific
licenses (AGPL, LGPL) come before the general ones (GPL), and BSD-4/3-clause
before 2-clause. No rule matching gives ``unknown``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from octopack.services.crawler.gitio import BlobReader, ls_root

UNKNOWN = "unknown"
LICENSE_FILE = re.compile(r"^(un)?licen[cs]e([-._].*)?$|^copying([-._].*)?$", re.I)
_MAX_LICENSE_BYTES = 256_000


@dataclass(frozen=True)
class Fingerprint:
    """A license is detected when all ``required`` phrases appear (within the first ``within``
    normalised characters when that is set: license titles, not mentions of other licenses)."""

    spdx: str
    required: tuple[str, ...]
    within: int = 0


_HEAD = 600
FINGERPRINTS: tuple[Fingerprint, ...] = (
    # GNU texts name each other ("...covered by the GNU Library General Public License instead"):
    # only their title near the top counts.
    Fingerprint("agpl-3.0", ("gnu affero general public license version 3",), _HEAD),
    Fingerprint("lgpl-2.1", ("gnu lesser general public license version 2 1",), _HEAD),
    Fingerprint("lgpl-3.0", ("gnu lesser general public license version 3",), _HEAD),
    Fingerprint("lgpl-2.0", ("gnu library general public license version 2",), _HEAD),
    Fingerprint("gpl-3.0", ("gnu general public license version 3",), _HEAD),
    Fingerprint("gpl-2.0", ("gnu general public license version 2",), _HEAD),
    Fingerprint("apache-2.0", ("apache license version 2 0",)),
    Fingerprint("mpl-2.0", ("mozilla public license version 2 0",)),
    Fingerprint("mpl-2.0", ("mozilla public license v 2 0",)),
    Fingerprint("epl-1.0", ("eclipse public license v 1 0",)),
    Fingerprint("epl-1.0", ("eclipse public license version 1 0",)),
    Fingerprint("epl-2.0", ("eclipse public license v 2 0",)),
    Fingerprint("epl-2.0", ("eclipse public license version 2 0",)),
    Fingerprint("artistic-2.0", ("artistic license 2 0",)),
    Fingerprint("cc0-1.0", ("cc0 1 0",)),
    Fingerprint("unlicense", ("free and unencumbered software released into the public domain",)),
    Fingerprint(
        "bsd-4-clause",
        ("redistribution and use in source and binary forms", "all advertising materials mentioning"),
    ),
    Fingerprint(
        "bsd-3-clause",
        ("redistribution and use in source and binary forms", "endorse or promote products derived"),
    ),
    Fingerprint(
        "bsd-2-clause",
        ("redistribution and use in source and binary forms", "redistributions in binary form must reproduce"),
    ),
    Fingerprint(
        "isc",
        ("permission to use copy modify and or distribute this software for any purpose",
         "with or without fee is hereby granted"),
    ),
    Fingerprint(
        "mit",
        ("permission is hereby granted free of charge to any person obtaining a copy",
         "the above copyright notice and this permission notice shall be included"),
    ),
)


def normalise(text: str) -> str:
    """Lower case with every run of non-alphanumerics turned into one space."""
    return " " + re.sub(r"[^a-z0-9]+", " ", text.lower()).strip() + " "


def detect_text(text: str) -> str:
    """The SPDX id of a license text, or ``unknown``."""
    norm = normalise(text)
    for fp in FINGERPRINTS:
        text_part = norm[: fp.within] if fp.within else norm
        if all(f" {p} " in text_part for p in fp.required):
            return fp.spdx
    return UNKNOWN


def detect_repository(
    repo: Path, rev: str, allowed: tuple[str, ...] = (), reader: BlobReader | None = None
) -> str:
    """The license of the repository at ``rev`` from its root LICENSE/COPYING files.

    With several license files (``LICENSE-MIT`` and ``LICENSE-APACHE``) the first
    detected one that ``allowed`` lists wins, else the first detected one.
    """
    names = sorted((name, sha) for mode, sha, name in ls_root(repo, rev) if LICENSE_FILE.match(name))
    if not names:
        return UNKNOWN
    own = reader is None
    blob_reader = reader or BlobReader(repo)
    found: list[str] = []
    try:
        for _name, sha in names:
            size = blob_reader.size(sha)
            if size is None or size > _MAX_LICENSE_BYTES:
                continue
            data = blob_reader.read(sha) or b""
            spdx = detect_text(data.decode("utf-8", errors="replace"))
            if spdx != UNKNOWN:
                found.append(spdx)
    finally:
        if own:
            blob_reader.close()
    return _pick(found, allowed.__contains__)


def _pick(found: list[str], allowed: Callable[[str], bool]) -> str:
    for spdx in found:
        if allowed(spdx):
            return spdx
    return found[0] if found else UNKNOWN
