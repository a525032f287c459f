"""The unbiased pass@k estimator (Chen et al., 2021) used by HumanEvalPack.

For one problem with ``n`` samples of which ``c`` pass,
``pass@k = 1 - C(n-c, k) / C(n, k)``: the chance that at least one of ``k`` samples
drawn without replacement passes. The ratio of binomials is computed as the product
``prod_{i=n-c+1}^{n} (1 - k / i)``, which never forms a large binomial coefficient.
The score of a benchmark is the mean over its problems; k is reported only when k <= n.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from octopack.common.errors import InvalidArgument

#: The k values reported by default (each only where every problem has at least k samples).
DEFAULT_KS = (1, 10, 100)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Estimated pass@k of one problem with ``n`` samples, ``c`` of them correct."""
    if not 0 <= c <= n:
        raise InvalidArgument(f"need 0 <= correct <= samples; got correct={c}, samples={n}")
    if not 1 <= k <= n:
        raise InvalidArgument(f"pass@{k} needs 1 <= k <= samples ({n})")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def mean_pass_at_k(counts: Sequence[tuple[int, int]], k: int) -> float:
    """Mean pass@k over problems given ``(samples, correct)`` per problem."""
    if not counts:
        raise InvalidArgument("pass@k of no problems is undefined")
    return float(np.mean([pass_at_k(n, c, k) for n, c in counts]))


def reportable_ks(counts: Iterable[tuple[int, int]], ks: Iterable[int] = DEFAULT_KS) -> list[int]:
    """The ks that every problem has enough samples for."""
    smallest = min((n for n, _ in counts), default=0)
    return [k for k in ks if k <= smallest]
