"""What a crawl is asked to do, validated once at the edge."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from octopack.common.errors import InvalidArgument
from octopack.common.validation import git_date
from octopack.services.crawler.policy import NetworkPolicy

#: The licenses of the original CommitPack (SPDX ids, lower-case).
DEFAULT_LICENSES: tuple[str, ...] = (
    "mit",
    "artistic-2.0",
    "isc",
    "cc0-1.0",
    "epl-1.0",
    "mpl-2.0",
    "unlicense",
    "apache-2.0",
    "bsd-3-clause",
    "bsd-2-clause",
    "agpl-3.0",
    "lgpl-2.1",
)

class CrawlOptions(BaseModel):
    """Per-crawl options shared by every repository of one crawl."""

    branch: str = Field("", description="Branch to walk; empty walks the repository's default branch (HEAD).")
    since: str = Field("", description="Only commits committed on or after this date (ISO 8601).")
    until: str = Field("", description="Only commits committed on or before this date (ISO 8601).")
    max_commits: int = Field(0, ge=0, description="Walk at most this many commits per repository; 0: all.")
    licenses: tuple[str, ...] = Field(DEFAULT_LICENSES, description="Allowed SPDX ids; add 'unknown' to keep repositories without a recognised license; empty keeps all.")
    languages: tuple[str, ...] = Field((), description="Keep only these languages (names as in the table).")
    max_file_bytes: int = Field(1_000_000, ge=1, description="Blobs larger than this are skipped and counted.")
    network: NetworkPolicy = Field(
        default_factory=NetworkPolicy,
        description="Where repositories may come from and how git runs: the server's policy, not the caller's.",
    )

    @field_validator("since", "until")
    @classmethod
    def _iso_date(cls, value: str) -> str:
        if value:
            git_date(value)
        return value

    def identity(self) -> dict:
        """What makes two crawls the same crawl (checkpoints, manifests): everything but the server's policy."""
        return self.model_dump(mode="json", exclude={"network"})

    @field_validator("licenses")
    @classmethod
    def _lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v.strip().lower() for v in value if v.strip())

    def allows_license(self, spdx: str) -> bool:
        """True when samples of a repository with this license are kept."""
        return not self.licenses or spdx in self.licenses


def check_dataset_name(name: str) -> str:
    """Raise :class:`InvalidArgument` unless ``name`` is a valid dataset name (the dataset store's rule)."""
    from octopack.datasets.names import check_name

    return check_name(name)


def check_languages(languages: tuple[str, ...], known: set[str]) -> None:
    """Raise :class:`InvalidArgument` naming the first language missing from the table."""
    for lang in languages:
        if lang not in known:
            raise InvalidArgument(
                f"languages: {lang!r} is not a language of programming_languages.json (e.g. 'Python', 'C++')"
            )
