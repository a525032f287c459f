"""What a crawl is asked to do, validated once at the edge."""

from __future__ import annotations

from pydantic import Field, field_validator

from octopack.common.checks import git_date
from octopack.common.errors import InvalidArgument
from octopack.common.profiles import Profiled
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

#: Each correction of the original crawl (the BigQuery SQL and ``scrape_github.py``): name -> what it changes.
#: ``improved`` turns all of them on; docs/commits.md gives an example and the effect of each.
CORRECTIONS: dict[str, str] = {
    "trimmed_message": "the message without trailing white space: the pre-filters see 'Initial commit' where the "
                       "command line stored 'Initial commit\\n', and the sample's message loses its final newline",
    "update_message_any_case": "'Update <path>' and 'Update <file name>' are dropped in any case (the original "
                               "drops only a message equal to 'Update ' + path)",
    "literal_message_list": "the boring messages are compared literally (the SQL's LIKE reads the '_' of "
                            "'update _config.yaml' as any character)",
    "one_changed_file": "the commit changes exactly one file (the original: exactly one file modified in place, "
                        "whatever else is added, deleted or renamed)",
    "text_files_only": "files with a NUL byte or that are not UTF-8 are skipped (the original decoded them, "
                       "dropping the bytes that are not UTF-8)",
    "file_name_languages": "a language by file name: the exact name (Makefile) or the longest dotted extension, "
                           "in any case (X.PY is Python); the original: the path ends with an entry of the table, "
                           "case-sensitively",
    "any_repository_language": "every repository given is crawled (the original's query kept repositories whose "
                               "GitHub languages include one of 22)",
}


class CrawlOptions(Profiled):
    """Per-crawl options shared by every repository of one crawl, under a data profile."""

    CORRECTIONS = CORRECTIONS

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
