"""Per-rule statistics of a filter run: rows in, kept and dropped, per language."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from octopack.services.filter.rules import Rule


def lang_counts(langs: pa.Array | pa.ChunkedArray) -> Counter[str]:
    counts: Counter[str] = Counter()
    for item in pc.value_counts(langs).to_pylist():
        counts[item["values"] if item["values"] is not None else ""] += item["counts"]
    return counts


@dataclass
class RuleStats:
    number: int
    name: str
    stage: int
    description: str
    rows_in: int = 0
    dropped: int = 0
    dropped_by_lang: Counter[str] = field(default_factory=Counter)

    @property
    def kept(self) -> int:
        return self.rows_in - self.dropped


@dataclass
class FilterStats:
    """Totals and per-rule counts; ``rules`` in the order they ran."""

    rules: list[RuleStats]
    rows_in: int = 0
    rows_out: int = 0
    in_by_lang: Counter[str] = field(default_factory=Counter)
    out_by_lang: Counter[str] = field(default_factory=Counter)

    @classmethod
    def for_rules(cls, rules: list[Rule]) -> FilterStats:
        return cls([RuleStats(r.number, r.name, r.stage, r.description) for r in rules])

    def add_input(self, langs: pa.Array | pa.ChunkedArray) -> None:
        self.rows_in += len(langs)
        self.in_by_lang.update(lang_counts(langs))

    def add_drop(self, index: int, rows_in: int, dropped_langs: pa.Array | pa.ChunkedArray) -> None:
        rule = self.rules[index]
        rule.rows_in += rows_in
        rule.dropped += len(dropped_langs)
        if len(dropped_langs):
            rule.dropped_by_lang.update(lang_counts(dropped_langs))

    def add_output(self, langs: pa.Array | pa.ChunkedArray) -> None:
        self.rows_out += len(langs)
        self.out_by_lang.update(lang_counts(langs))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready statistics for the output manifest."""
        return {
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "in_by_lang": dict(self.in_by_lang.most_common()),
            "out_by_lang": dict(self.out_by_lang.most_common()),
            "rules": [
                {"number": r.number, "name": r.name, "stage": r.stage, "description": r.description,
                 "rows_in": r.rows_in, "kept": r.kept, "dropped": r.dropped,
                 "dropped_by_lang": dict(r.dropped_by_lang.most_common())}
                for r in self.rules
            ],
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> FilterStats:
        rules = [RuleStats(r["number"], r["name"], r["stage"], r.get("description", ""), r["rows_in"], r["dropped"],
                           Counter(r.get("dropped_by_lang", {}))) for r in doc.get("rules", [])]
        return cls(rules, doc.get("rows_in", 0), doc.get("rows_out", 0), Counter(doc.get("in_by_lang", {})),
                   Counter(doc.get("out_by_lang", {})))

    def render(self, top_languages: int = 4) -> Any:
        """A rich Table: one line per rule with rows in, kept, dropped and the top languages dropped."""
        from rich.table import Table

        table = Table(title=f"CommitPackFT filter: {self.rows_in:,} rows in, {self.rows_out:,} kept")
        for col in ("#", "rule", "stage", "in", "kept", "dropped", "dropped %", "dropped by language"):
            table.add_column(col, justify="right" if col in {"#", "in", "kept", "dropped", "dropped %"} else "left")
        for r in self.rules:
            share = f"{100 * r.dropped / r.rows_in:.1f}" if r.rows_in else "-"
            langs = ", ".join(f"{k or '?'} {v:,}" for k, v in r.dropped_by_lang.most_common(top_languages))
            table.add_row(str(r.number), r.name, str(r.stage), f"{r.rows_in:,}", f"{r.kept:,}", f"{r.dropped:,}",
                          share, langs)
        return table
