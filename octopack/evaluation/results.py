"""Evaluation results: the data model, ``results.json``, the rich table and the bar chart."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

from octopack.common.vocabulary import DISPLAY_NAMES
from octopack.evaluation.passk import mean_pass_at_k, reportable_ks

SCHEMA_VERSION = 1
#: How much of a failing program's stderr is kept per verdict.
STDERR_LINES = 10
STDERR_CHARS = 2000

#: OctoCoder's pass@1 in percent from the paper, per task and language, for comparison.
PAPER_OCTOCODER: dict[str, dict[str, float]] = {
    "synthesize": {"python": 46.2, "js": 39.2, "java": 38.2, "go": 30.4, "cpp": 35.6, "rust": 23.4},
    "fix": {"python": 30.4, "js": 28.4, "java": 30.6, "go": 30.2, "cpp": 26.1, "rust": 16.5},
    "explain": {"python": 35.1, "js": 24.5, "java": 27.3, "go": 21.1, "cpp": 24.1, "rust": 14.8},
}


def stderr_head(stderr: str) -> str:
    """The first lines of a program's stderr, capped."""
    return "\n".join(stderr.splitlines()[:STDERR_LINES])[:STDERR_CHARS]


@dataclass(frozen=True)
class Verdict:
    """The outcome of one sample of one problem."""

    sample: int
    status: str  # passed, failed, compile_error, runtime_error, timeout, ... (executor.v1.Status)
    exit_code: int = 0
    detail: str = ""
    stderr: str = ""
    #: Compile plus run time the executor measured.
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass(frozen=True)
class ProblemResult:
    """Every sample's verdict for one problem."""

    task_id: str
    verdicts: tuple[Verdict, ...]

    @property
    def n(self) -> int:
        return len(self.verdicts)

    @property
    def correct(self) -> int:
        return sum(v.passed for v in self.verdicts)


@dataclass(frozen=True)
class LanguageResult:
    """One language of one task."""

    language: str
    problems: tuple[ProblemResult, ...]

    @property
    def counts(self) -> list[tuple[int, int]]:
        return [(p.n, p.correct) for p in self.problems]

    @property
    def samples(self) -> int:
        return sum(p.n for p in self.problems)

    @property
    def passed(self) -> int:
        """Passing samples (for one sample per problem: problems solved)."""
        return sum(p.correct for p in self.problems)

    def pass_at(self) -> dict[int, float]:
        """pass@k for every reportable k (k <= the fewest samples of any problem)."""
        counts = self.counts
        if not counts:
            return {}
        return {k: mean_pass_at_k(counts, k) for k in reportable_ks(counts)}


@dataclass(frozen=True)
class ScoringDifference:
    """One problem whose verdicts differ between the two scorings (statuses per sample, in order)."""

    task_id: str
    statuses: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class ScoringComparison:
    """The same generations judged under the other scoring too (``--compare-semantics``).

    Only programs whose text differs between the scorings run twice; the others share one
    verdict, so a flaky program cannot show up as a difference.
    """

    other: str
    #: language -> the other scoring's result for the same generations.
    languages: dict[str, LanguageResult]
    programs_rerun: int

    def differences(self, main: dict[str, LanguageResult], scoring: str) -> dict[str, list[ScoringDifference]]:
        """Per language, the problems where a sample passes under one scoring and not under the other."""
        out: dict[str, list[ScoringDifference]] = {}
        for name, lang in main.items():
            other = {p.task_id: p for p in self.languages[name].problems}
            rows = []
            for problem in lang.problems:
                theirs = other[problem.task_id]
                if [v.passed for v in problem.verdicts] != [v.passed for v in theirs.verdicts]:
                    rows.append(ScoringDifference(problem.task_id, {
                        scoring: tuple(v.status for v in problem.verdicts),
                        self.other: tuple(v.status for v in theirs.verdicts),
                    }))
            out[name] = rows
        return out


@dataclass
class EvaluationResult:
    """A whole evaluation run."""

    task: str
    source: str
    prompt_format: str
    languages: dict[str, LanguageResult] = field(default_factory=dict)
    generation: dict[str, Any] = field(default_factory=dict)
    executor: str = ""
    wall_seconds: float = 0.0
    #: How programs were assembled and judged: "harness" (bigcode-evaluation-harness) or "corrected".
    scoring: str = "harness"
    comparison: ScoringComparison | None = None

    def average_pass_at_1(self) -> float | None:
        """Mean pass@1 over languages, the paper's headline number."""
        scores = [lang.pass_at().get(1) for lang in self.languages.values()]
        present = [s for s in scores if s is not None]
        return sum(present) / len(present) if present else None


def _language_json(lang: LanguageResult) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "problems": len(lang.problems),
        "samples": lang.samples,
        "passed": lang.passed,
    }
    doc.update({f"pass@{k}": v for k, v in lang.pass_at().items()})
    doc["results"] = [
        {
            "task_id": p.task_id,
            "n": p.n,
            "correct": p.correct,
            "verdicts": [
                {
                    "sample": v.sample,
                    "status": v.status,
                    "exit_code": v.exit_code,
                    "detail": v.detail,
                    "stderr": v.stderr,
                    "seconds": round(v.seconds, 3),
                }
                for v in p.verdicts
            ],
        }
        for p in lang.problems
    ]
    return doc


def _comparison_json(result: EvaluationResult) -> dict[str, Any] | None:
    comparison = result.comparison
    if comparison is None:
        return None
    differences = comparison.differences(result.languages, result.scoring)
    return {
        "other": comparison.other,
        "programs_rerun": comparison.programs_rerun,
        "languages": {
            name: {
                "passed": {result.scoring: lang.passed, comparison.other: comparison.languages[name].passed},
                "pass@1": {result.scoring: lang.pass_at().get(1),
                           comparison.other: comparison.languages[name].pass_at().get(1)},
                "differing_problems": [
                    {"task_id": d.task_id, "statuses": {k: list(v) for k, v in d.statuses.items()}}
                    for d in differences[name]
                ],
            }
            for name, lang in result.languages.items()
        },
    }


def to_json(result: EvaluationResult) -> dict[str, Any]:
    """The ``results.json`` document (schema in docs/evaluation.md)."""
    doc = {
        "schema_version": SCHEMA_VERSION,
        "task": result.task,
        "source": result.source,
        "prompt_format": result.prompt_format,
        "scoring": result.scoring,
        "generation": result.generation,
        "executor": result.executor,
        "wall_seconds": round(result.wall_seconds, 3),
        "average_pass@1": result.average_pass_at_1(),
        "languages": {name: _language_json(lang) for name, lang in result.languages.items()},
    }
    comparison = _comparison_json(result)
    if comparison is not None:
        doc["compare_semantics"] = comparison
    return doc


def write_results(result: EvaluationResult, out_dir: Path) -> Path:
    """Write ``out_dir/results.json`` and return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "results.json"
    path.write_text(json.dumps(to_json(result), indent=2, ensure_ascii=False) + "\n")
    return path


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def results_table(result: EvaluationResult) -> Table:
    """pass@k per language, with OctoCoder's paper pass@1 alongside (and the other scoring's, when compared)."""
    table = Table(title=f"HumanEvalPack {result.task} ({result.source}, {result.scoring} scoring)")
    table.add_column("language")
    other = result.comparison
    extra = (f"passed ({other.other})", "differing problems") if other is not None else ()
    for name in ("problems", "samples", "passed", *extra, "pass@1 %", "pass@10 %", "OctoCoder pass@1 %"):
        table.add_column(name, justify="right")
    differences = other.differences(result.languages, result.scoring) if other is not None else {}
    paper = PAPER_OCTOCODER.get(result.task, {})
    for name, lang in result.languages.items():
        scores = lang.pass_at()
        compared = []
        if other is not None:
            ids = [d.task_id for d in differences[name]]
            listed = ", ".join(ids[:6]) + (f" (+{len(ids) - 6})" if len(ids) > 6 else "")
            compared = [str(other.languages[name].passed), listed or "-"]
        table.add_row(
            DISPLAY_NAMES.get(name, name),
            str(len(lang.problems)),
            str(lang.samples),
            str(lang.passed),
            *compared,
            _percent(scores.get(1)),
            _percent(scores.get(10)),
            f"{paper[name]:.1f}" if name in paper else "-",
        )
    if len(result.languages) > 1:
        shown = [paper[n] for n in result.languages if n in paper]
        table.add_row(
            "average",
            "",
            "",
            "",
            *([""] * len(extra)),
            _percent(result.average_pass_at_1()),
            "",
            f"{sum(shown) / len(shown):.1f}" if shown else "-",
            style="bold",
        )
    return table


def plot_pass_at_1(result: EvaluationResult, out_dir: Path) -> Path:
    """A bar chart of pass@1 per language (OctoCoder's paper numbers beside) as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result.languages)
    ours = [100 * result.languages[n].pass_at().get(1, 0.0) for n in names]
    paper = PAPER_OCTOCODER.get(result.task, {})
    positions = range(len(names))
    width = 0.4
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(names) + 3), 4.5))
    mine = ax.bar([p - width / 2 for p in positions], ours, width, label=result.source)
    theirs = ax.bar(
        [p + width / 2 for p in positions],
        [paper.get(n, 0.0) for n in names],
        width,
        label="OctoCoder (paper)",
    )
    ax.bar_label(mine, fmt="%.1f", fontsize=8)
    ax.bar_label(theirs, fmt="%.1f", fontsize=8)
    ax.set_xticks(list(positions), [DISPLAY_NAMES.get(n, n) for n in names])
    ax.set_ylabel("pass@1 (%)")
    ax.set_ylim(0, 110)
    ax.set_title(f"HumanEvalPack {result.task}: pass@1 per language", fontsize=11)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, frameon=False)
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"pass_at_1_{result.task}.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
