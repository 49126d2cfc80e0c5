"""Synthetic domain (SPEC §5): random unit patterns, generated from a seed.

There is nothing to fetch: the memory is a function of ``(d, n_patterns, seed)`` alone.
"""

from __future__ import annotations

import numpy as np

__all__ = ["random_memory"]


def random_memory(d: int, n_patterns: int, seed: int | np.random.Generator) -> np.ndarray:
    """Memory (d, K) whose columns are ``N(0, I)`` draws normalised to the unit sphere.

    ``seed`` is an int (or a sequence of ints) for ``numpy.random.default_rng``, or a
    ``Generator`` that is advanced in place. The same seed gives the same memory.
    """
    if int(d) < 1 or int(n_patterns) < 1:
        raise ValueError(f"need d ≥ 1 and n_patterns ≥ 1, got d={d}, n_patterns={n_patterns}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    memory = rng.standard_normal((int(d), int(n_patterns)))
    memory /= np.linalg.norm(memory, axis=0)
    return memory
