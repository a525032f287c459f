"""Row selection, left padding and concatenation of a transformers KV cache (in place).

Supports the layered ``DynamicCache`` of transformers 5 (``cache.layers[i].keys``),
the ``key_cache``/``value_cache`` lists of 4.x and legacy tuples. Key/value tensors
are ``[batch, heads, time, head_dim]``; padded positions are zeros and stay masked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

Fn = Callable[[torch.Tensor], torch.Tensor]


def _map(cache: Any, fn: Fn) -> Any:
    if hasattr(cache, "layers"):
        for layer in cache.layers:
            layer.keys, layer.values = fn(layer.keys), fn(layer.values)
        return cache
    if hasattr(cache, "key_cache"):
        cache.key_cache = [fn(k) for k in cache.key_cache]
        cache.value_cache = [fn(v) for v in cache.value_cache]
        return cache
    return tuple((fn(k), fn(v)) for k, v in cache)


def _pairs(cache: Any) -> list[tuple[torch.Tensor, torch.Tensor]]:
    if hasattr(cache, "layers"):
        return [(layer.keys, layer.values) for layer in cache.layers]
    if hasattr(cache, "key_cache"):
        return list(zip(cache.key_cache, cache.value_cache, strict=True))
    return [(k, v) for k, v in cache]


def select(cache: Any, index: torch.Tensor) -> Any:
    """Keep the rows ``index`` (batch dimension)."""
    return _map(cache, lambda t: t.index_select(0, index))


def left_pad(cache: Any, pad: int) -> Any:
    """Prepend ``pad`` zero positions (time dimension)."""
    if pad <= 0:
        return cache

    def fn(t: torch.Tensor) -> torch.Tensor:
        zeros = t.new_zeros((t.shape[0], t.shape[1], pad, t.shape[3]))
        return torch.cat([zeros, t], dim=2)

    return _map(cache, fn)


def concat(caches: Sequence[Any]) -> Any:
    """Rows of all caches (same time length) in one cache; the first cache object is reused."""
    first = caches[0]
    others = [_pairs(c) for c in caches[1:]]
    if hasattr(first, "layers"):
        for i, layer in enumerate(first.layers):
            layer.keys = torch.cat([layer.keys, *(o[i][0] for o in others)], dim=0)
            layer.values = torch.cat([layer.values, *(o[i][1] for o in others)], dim=0)
        return first
    if hasattr(first, "key_cache"):
        first.key_cache = [torch.cat([k, *(o[i][0] for o in others)], 0) for i, k in enumerate(first.key_cache)]
        first.value_cache = [torch.cat([v, *(o[i][1] for o in others)], 0) for i, v in enumerate(first.value_cache)]
        return first
    return tuple(
        (torch.cat([k, *(o[i][0] for o in others)], 0), torch.cat([v, *(o[i][1] for o in others)], 0))
        for i, (k, v) in enumerate(first)
    )
