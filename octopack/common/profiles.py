"""Data profiles: the original code's decisions (``paper``) or the project's named corrections (``improved``).

A crawl's options and a filter's configuration both carry a profile and single corrections
over it; docs/commits.md lists every correction with its reason and effect.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, field_validator

DataProfile = Literal["paper", "improved"]
PROFILES: tuple[DataProfile, ...] = ("paper", "improved")


def add_profile_arguments(parser: argparse.ArgumentParser, default: DataProfile | None, decisions: str) -> None:
    """``--profile``, ``--with CORRECTION`` and ``--without CORRECTION``, as the crawl and filter commands take them.

    ``decisions`` names what ``paper`` reproduces (the original selection, the original scripts).
    """
    parser.add_argument("--profile", choices=PROFILES, default=default,
                        help=f"paper: {decisions}' decisions (default); improved: every correction on")
    parser.add_argument("--with", dest="with_corrections", action="append", default=[], metavar="CORRECTION",
                        help="turn one correction on (repeat; names in docs/commits.md)")
    parser.add_argument("--without", dest="without_corrections", action="append", default=[], metavar="CORRECTION",
                        help="turn one correction off (repeat)")


class Profiled(BaseModel):
    """A profile and single corrections turned on or off over it; subclasses name theirs in ``CORRECTIONS``."""

    CORRECTIONS: ClassVar[Mapping[str, Any]] = {}

    profile: DataProfile = Field("paper", description="paper: the original code's decisions; improved: every "
                                                      "correction on.")
    corrections: dict[str, bool] = Field(
        default_factory=dict, description="Single corrections turned on (true) or off (false) over the profile."
    )

    @field_validator("corrections")
    @classmethod
    def _known(cls, value: dict[str, bool]) -> dict[str, bool]:
        unknown = sorted(set(value) - set(cls.CORRECTIONS))
        if unknown:
            raise ValueError(f"unknown correction(s) {unknown}; known: {', '.join(cls.CORRECTIONS)}")
        return value

    def corrected(self, name: str) -> bool:
        """Whether correction ``name`` is on: its explicit setting, else on exactly under ``improved``."""
        if name not in self.CORRECTIONS:
            raise KeyError(name)
        return self.corrections.get(name, self.profile == "improved")

    def active_corrections(self) -> list[str]:
        """The corrections that are on, in the order they are listed."""
        return [name for name in self.CORRECTIONS if self.corrected(name)]
