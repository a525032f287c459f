"""Request validation: defaults for zero values, INVALID_ARGUMENT naming the field."""

from __future__ import annotations

import pytest

from octopack.common.errors import InvalidArgument
from octopack.ray_jobs.serve.params import Limits, validate

LIMITS = Limits(default_max_new_tokens=100, max_new_tokens=500)


def _call(**kw):
    args = dict(prompts=["def f():"], max_new_tokens=0, temperature=0.0, top_p=0.0, n=0, stop=[], seed=None)
    args.update(kw)
    return validate(limits=LIMITS, **args)


def test_zero_values_mean_defaults() -> None:
    s = _call().sampling
    assert (s.max_new_tokens, s.temperature, s.top_p, s.n, s.stop, s.seed) == (100, 0.0, 1.0, 1, (), None)
    s = _call(max_new_tokens=7, temperature=0.2, top_p=0.95, n=3, stop=["\ndef"], seed=5).sampling
    assert (s.max_new_tokens, s.temperature, s.top_p, s.n, s.stop, s.seed) == (7, 0.2, 0.95, 3, ("\ndef",), 5)


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"prompts": []}, "prompts"),
        ({"prompts": ["ok", ""]}, "prompts[1]"),
        ({"temperature": -0.1}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
        ({"top_p": 1.5}, "top_p"),
        ({"max_new_tokens": 501}, "max_new_tokens"),
        ({"max_new_tokens": -1}, "max_new_tokens"),
        ({"n": -2}, "n"),
        ({"stop": [""]}, "stop[0]"),
    ],
)
def test_bad_fields_are_named(kw: dict, field: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        _call(**kw)
    assert field in err.value.message
