"""HumanEvalPack problems (164 per language, six languages), read from the package data."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources

from octopack.common.vocabulary import check_language


@dataclass(frozen=True)
class Problem:
    """One HumanEvalPack problem in one language."""

    task_id: str
    language: str
    prompt: str
    declaration: str
    canonical_solution: str
    buggy_solution: str
    test: str
    example_test: str
    entry_point: str
    signature: str
    docstring: str
    instruction: str
    #: Go's ``import`` field (the imports the prompt declares); "" in other languages.
    import_: str = ""
    #: Go's ``test_setup`` field (package clause and test imports); "" in other languages.
    test_setup: str = ""


@functools.cache
def _load(language: str) -> tuple[Problem, ...]:
    path = resources.files("octopack") / "data" / "humanevalpack" / f"{language}.jsonl"
    problems = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        problems.append(
            Problem(
                task_id=row["task_id"],
                language=language,
                prompt=row["prompt"],
                declaration=row["declaration"],
                canonical_solution=row["canonical_solution"],
                buggy_solution=row["buggy_solution"],
                test=row["test"],
                example_test=row.get("example_test") or "",
                entry_point=row["entry_point"],
                signature=row.get("signature") or "",
                docstring=row.get("docstring") or "",
                instruction=row.get("instruction") or "",
                import_=row.get("import") or "",
                test_setup=row.get("test_setup") or "",
            )
        )
    return tuple(problems)


def load_problems(language: str) -> list[Problem]:
    """The 164 problems of ``language`` in dataset order (parsed once, then cached)."""
    return list(_load(check_language(language)))
