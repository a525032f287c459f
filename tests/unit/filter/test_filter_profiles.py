"""The 64 crafted rows: under ``paper`` every one ends as the original scripts end it; under ``improved`` as corrected."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from octopack.services.filter.config import CORRECTIONS, FilterConfig, parse_config
from octopack.services.filter.pipeline import normalise
from octopack.services.filter.rules import build_rules
from tests.unit.filter.cases import CASES, IMPROVED_SUBJECTS, KEEP, PAPER_SUBJECTS, base_row, paper_rule


@pytest.fixture(scope="module")
def byte_tokenizer(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One token per UTF-8 byte (a BPE without merges over the byte alphabet) and an end-of-text token."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    vocab = {c: i for i, c in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(["<|endoftext|>"])
    path = tmp_path_factory.mktemp("bytes") / "tokenizer.json"
    tok.save(str(path))
    return str(path)


def _outcomes(config: FilterConfig, tokenizer: str) -> tuple[dict[str, int | None], dict[str, str]]:
    """Per case: the rule that dropped it (None: kept); and the kept rows' subjects."""
    rows = [base_row(commit=f"{i:040x}"[:-3] + "fff", **CASES[case][1]) | {"repos": [case]}
            for i, case in enumerate(CASES)]
    rules = build_rules(config, tokenizer)
    table = normalise(pa.Table.from_pylist(rows))
    dropped: dict[str, int | None] = {}
    for index, rule in enumerate(rules):
        keep, table = rule.apply(table)
        for row in table.filter(pc.invert(keep)).to_pylist():
            dropped[row["repos"][0]] = rules[index].number
        table = table.filter(keep)
    kept = {row["repos"][0]: row["subject"] for row in table.to_pylist()}
    return {case: dropped.get(case) for case in CASES}, kept


def _deterministic(profile: str, **extra: object) -> FilterConfig:
    # As in the side-by-side check, rule 14 drops every version bump (the original sampled 90%).
    return FilterConfig.model_validate({"profile": profile, "bump_sampling": {"keep_fraction": 0.0}, **extra})


def test_the_cases_span_every_rule() -> None:
    assert len(CASES) == 64
    assert {paper_rule(c) for c in CASES} == {None, *range(1, 17)} - {10, 12}  # 10 and 12 as in the original check


def test_paper_profile_is_the_default() -> None:
    config = FilterConfig()
    assert config.profile == "paper" and config.active_corrections() == []
    assert FilterConfig(profile="improved").active_corrections() == list(CORRECTIONS)


def test_every_case_ends_as_in_the_original_under_paper(byte_tokenizer: str) -> None:
    dropped, kept = _outcomes(_deterministic("paper"), byte_tokenizer)
    want = {case: paper_rule(case) for case in CASES}
    assert dropped == want
    assert sorted(kept) == sorted(c for c, (_, _, where, _) in CASES.items() if where == KEEP)
    for case, subject in PAPER_SUBJECTS.items():
        assert kept[case] == subject, case
    assert kept["r46"] == "Add docs  for the parser"  # the original leaves the two spaces


def test_every_case_ends_as_corrected_under_improved(byte_tokenizer: str) -> None:
    dropped, kept = _outcomes(_deterministic("improved"), byte_tokenizer)
    assert dropped == {case: improved for case, (_, _, _, improved) in CASES.items()}
    for case, subject in IMPROVED_SUBJECTS.items():
        assert kept[case] == subject, case


@pytest.mark.parametrize("name", list(CORRECTIONS))
def test_each_correction_alone_changes_cases_of_its_own_rule(name: str, byte_tokenizer: str) -> None:
    """paper + one correction: some case ends otherwise, each one where paper and improved disagree, at that rule."""

    def ends(config: FilterConfig) -> dict[str, tuple[int | None, str | None]]:
        dropped, kept = _outcomes(config, byte_tokenizer)
        return {c: (dropped[c], kept.get(c)) for c in CASES}

    paper, improved = ends(_deterministic("paper")), ends(_deterministic("improved"))
    single = ends(_deterministic("paper", corrections={name: True}))
    changed = {c for c in CASES if single[c] != paper[c]}
    assert changed, f"{name} changes none of the 64 cases"
    assert all(paper[c] != improved[c] for c in changed)
    rule = CORRECTIONS[name][0]
    for c in changed:
        assert rule in (paper[c][0], single[c][0]) or paper[c][1] != single[c][1], c


def test_unknown_corrections_are_refused_by_name() -> None:
    from octopack.common.errors import InvalidArgument

    with pytest.raises(InvalidArgument, match=r"unknown correction.*plug_verbs"):
        parse_config("corrections: {plug_verbs: true}")
    with pytest.raises(InvalidArgument, match="profile"):
        parse_config("profile: best")


def test_the_profile_is_readable_from_yaml(tmp_path: Path) -> None:
    config = parse_config("profile: improved\ncorrections: {www_links: false}\n")
    assert config.corrected("plug_verb") and not config.corrected("www_links")
