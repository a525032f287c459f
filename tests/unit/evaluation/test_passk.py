"""The unbiased pass@k estimator against exact binomial values."""

from __future__ import annotations

from fractions import Fraction
from math import comb

import pytest

from octopack.common.errors import InvalidArgument
from octopack.evaluation.passk import mean_pass_at_k, pass_at_k, reportable_ks


def exact(n: int, c: int, k: int) -> float:
    return float(1 - Fraction(comb(n - c, k), comb(n, k)))


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (1, 1, 1, 1.0),
        (1, 0, 1, 0.0),
        (10, 5, 1, 0.5),
        (20, 1, 10, 0.5),  # 1 - C(19,10)/C(20,10) = 1 - 10/20
        (5, 2, 2, 0.7),  # 1 - C(3,2)/C(5,2) = 1 - 3/10
        (20, 0, 10, 0.0),
        (20, 11, 10, 1.0),  # fewer than k failures: every draw of k holds a pass
    ],
)
def test_known_values(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_matches_exact_binomials_everywhere_small() -> None:
    for n in range(1, 25):
        for c in range(n + 1):
            for k in range(1, n + 1):
                assert pass_at_k(n, c, k) == pytest.approx(exact(n, c, k), abs=1e-9), (n, c, k)


def test_stable_where_binomials_are_huge() -> None:
    # C(1000, 500) has about 300 digits: the product form stays accurate.
    assert pass_at_k(1000, 3, 500) == pytest.approx(exact(1000, 3, 500), rel=1e-9)
    assert pass_at_k(1000, 1, 1) == pytest.approx(0.001)


def test_pass_at_1_is_the_fraction_correct() -> None:
    assert pass_at_k(20, 7, 1) == pytest.approx(7 / 20)


def test_mean_over_problems() -> None:
    counts = [(10, 10), (10, 0), (10, 5), (10, 1)]
    assert mean_pass_at_k(counts, 1) == pytest.approx((1 + 0 + 0.5 + 0.1) / 4)
    assert mean_pass_at_k(counts, 10) == pytest.approx((1 + 0 + 1 + 1) / 4)


@pytest.mark.parametrize(("n", "c", "k"), [(5, 2, 6), (5, 6, 1), (5, -1, 1), (5, 2, 0)])
def test_rejects_impossible_arguments(n: int, c: int, k: int) -> None:
    with pytest.raises(InvalidArgument):
        pass_at_k(n, c, k)


def test_mean_of_nothing_is_an_error() -> None:
    with pytest.raises(InvalidArgument, match="no problems"):
        mean_pass_at_k([], 1)


def test_only_ks_up_to_the_fewest_samples_are_reported() -> None:
    assert reportable_ks([(1, 0), (1, 1)]) == [1]
    assert reportable_ks([(20, 0), (12, 1)]) == [1, 10]
    assert reportable_ks([(20, 0), (9, 1)]) == [1]
    assert reportable_ks([(200, 0)]) == [1, 10, 100]
    assert reportable_ks([]) == []
