"""Two models on the same problems: the table with both pass@1 and the difference, and the bar chart.

Works on plain :class:`Score` rows, so a results.json, an :class:`EvaluationResult` and a job's
stage outputs all compare the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table

from octopack.common.vocabulary import DISPLAY_NAMES
from octopack.evaluation.results import EvaluationResult, save_chart


@dataclass(frozen=True)
class Score:
    """pass@1 of one language."""

    language: str
    problems: int
    passed: int
    pass_at_1: float


def scores_of(result: EvaluationResult) -> list[Score]:
    """One row per language of an evaluation."""
    return [
        Score(name, len(lang.problems), lang.passed, lang.pass_at().get(1, 0.0))
        for name, lang in result.languages.items()
    ]


def _mean(scores: Sequence[Score]) -> float:
    return sum(s.pass_at_1 for s in scores) / len(scores) if scores else 0.0


def _signed(points: float) -> str:
    return f"{points:+.1f}" if abs(points) >= 0.05 else "0.0"


def comparison_table(
    base: Sequence[Score], tuned: Sequence[Score], base_name: str, tuned_name: str, title: str
) -> Table:
    """pass@1 of both models per language, the difference in points and the average."""
    by_lang = {s.language: s for s in base}
    table = Table(title=title)
    table.add_column("language")
    table.add_column("problems", justify="right")
    table.add_column(f"{base_name}\npassed", justify="right")
    table.add_column(f"{base_name}\npass@1 %", justify="right")
    table.add_column(f"{tuned_name}\npassed", justify="right")
    table.add_column(f"{tuned_name}\npass@1 %", justify="right")
    table.add_column("difference\npoints", justify="right")
    shared = []
    for score in tuned:
        other = by_lang.get(score.language)
        if other is None:
            continue
        shared.append((other, score))
        table.add_row(
            DISPLAY_NAMES.get(score.language, score.language), str(score.problems),
            str(other.passed), f"{100 * other.pass_at_1:.1f}", str(score.passed), f"{100 * score.pass_at_1:.1f}",
            _signed(100 * (score.pass_at_1 - other.pass_at_1)),
        )
    if len(shared) > 1:
        b, t = _mean([s[0] for s in shared]), _mean([s[1] for s in shared])
        table.add_row(
            "average", str(sum(s[1].problems for s in shared)), str(sum(s[0].passed for s in shared)),
            f"{100 * b:.1f}", str(sum(s[1].passed for s in shared)), f"{100 * t:.1f}", _signed(100 * (t - b)),
            style="bold",
        )
    return table


def plot_comparison(
    base: Sequence[Score], tuned: Sequence[Score], base_name: str, tuned_name: str, task: str, out_dir: Path
) -> Path:
    """Bars of both models' pass@1 per language as ``pass_at_1_<task>_compare.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_lang = {s.language: s for s in base}
    names = [s.language for s in tuned if s.language in by_lang]
    tuned_by = {s.language: s for s in tuned}
    positions = range(len(names))
    width = 0.4
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(names) + 3), 4.5))
    first = ax.bar([p - width / 2 for p in positions], [100 * by_lang[n].pass_at_1 for n in names], width,
                   label=base_name)
    second = ax.bar([p + width / 2 for p in positions], [100 * tuned_by[n].pass_at_1 for n in names], width,
                    label=tuned_name)
    ax.bar_label(first, fmt="%.1f", fontsize=8)
    ax.bar_label(second, fmt="%.1f", fontsize=8)
    ax.set_xticks(list(positions), [DISPLAY_NAMES.get(n, n) for n in names])
    ax.set_ylabel("pass@1 (%)")
    top = max([100 * by_lang[n].pass_at_1 for n in names] + [100 * tuned_by[n].pass_at_1 for n in names] + [10.0])
    ax.set_ylim(0, min(110.0, top * 1.25 + 5))
    problems = tuned_by[names[0]].problems if names else 0
    ax.set_title(f"HumanEvalPack {task}: pass@1, {problems} problems per language", fontsize=11)
    return save_chart(fig, ax, out_dir / f"pass_at_1_{task}_compare.png")
