"""The project's words for its languages and stage kinds, with their proto values and display names.

Everything that names a HumanEvalPack language or a job stage reads it here: the CLI's choices,
job-spec validation, the evaluation (prompts, task ids, the executor's enum) and the executor.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from octopack.common.errors import InvalidArgument
from octopack.executor.v1 import executor_pb2
from octopack.jobs.v1 import jobs_pb2

#: The six HumanEvalPack languages, by the names of the dataset's files.
LANGUAGES: tuple[str, ...] = ("python", "js", "java", "go", "cpp", "rust")

#: Display names, as prompts write them (``Write functional code in C++ ...``) and tables show them.
DISPLAY_NAMES: dict[str, str] = {
    "python": "Python",
    "js": "JavaScript",
    "java": "Java",
    "go": "Go",
    "cpp": "C++",
    "rust": "Rust",
}

#: HumanEvalPack ``task_id`` prefix (``CPP/0``) -> language.
TASK_ID_PREFIXES: dict[str, str] = {
    "Python": "python",
    "JavaScript": "js",
    "Java": "java",
    "Go": "go",
    "CPP": "cpp",
    "Rust": "rust",
}

#: Language -> the executor's ``Language`` enum value, and back.
EXECUTOR_LANGUAGES: dict[str, executor_pb2.Language.ValueType] = {
    "python": executor_pb2.LANGUAGE_PYTHON,
    "js": executor_pb2.LANGUAGE_JAVASCRIPT,
    "java": executor_pb2.LANGUAGE_JAVA,
    "go": executor_pb2.LANGUAGE_GO,
    "cpp": executor_pb2.LANGUAGE_CPP,
    "rust": executor_pb2.LANGUAGE_RUST,
}
LANGUAGE_OF_EXECUTOR: dict[int, str] = {value: name for name, value in EXECUTOR_LANGUAGES.items()}

#: The HumanEvalPack tasks.
TASKS: tuple[str, ...] = ("synthesize", "fix", "explain")

#: Job stages in pipeline order: short name (the JobSpec field) -> ``StageKind`` value.
STAGE_KINDS: dict[str, int] = {
    "crawl": jobs_pb2.STAGE_KIND_CRAWL,
    "filter": jobs_pb2.STAGE_KIND_FILTER,
    "train": jobs_pb2.STAGE_KIND_TRAIN,
    "serve": jobs_pb2.STAGE_KIND_SERVE,
    "evaluate": jobs_pb2.STAGE_KIND_EVALUATE,
}
STAGES: tuple[str, ...] = tuple(STAGE_KINDS)
STAGE_OF_KIND: dict[int, str] = {kind: name for name, kind in STAGE_KINDS.items()}


def check_language(language: str, field: str = "language") -> str:
    """Return ``language`` if it is a HumanEvalPack language, else InvalidArgument naming ``field``."""
    if language not in LANGUAGES:
        raise InvalidArgument(f"{field} must be one of {', '.join(LANGUAGES)}; got {language!r}")
    return language


def executor_language(language: str) -> executor_pb2.Language.ValueType:
    """The executor's enum value for a language name."""
    return EXECUTOR_LANGUAGES[check_language(language)]


def stage_name(kind: int) -> str:
    """The short name of a ``StageKind`` value ("unknown" for an unset or unknown one)."""
    return STAGE_OF_KIND.get(kind, "unknown")


@lru_cache(maxsize=1)
def commitpack_languages() -> dict[str, list[str]]:
    """CommitPack's language table (package data): language name -> extensions (with a leading dot)
    or exact file names (``Makefile``). The crawler labels files with it; specs name languages from it."""
    text = resources.files("octopack.data").joinpath("commitpack/programming_languages.json").read_text()
    table: dict[str, list[str]] = json.loads(text)
    return table


def check_commitpack_language(language: str) -> str:
    """Return ``language`` if CommitPack's table has it, else InvalidArgument saying where the names are."""
    if language not in commitpack_languages():
        raise InvalidArgument(f"{language!r} is not a language of programming_languages.json (e.g. 'Python', 'C++')")
    return language
