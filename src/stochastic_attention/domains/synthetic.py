"""Synthetic domain (SPEC §5): random unit patterns, generated from a seed.

There is nothing to fetch: the memory is a function of ``(d, n_patterns, seed)`` alone.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DATASET_SCHEMA", "NAME", "SOURCE_SCHEMA", "build_memory", "panel", "random_memory"]


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


# ------------------------------------------------------------------ domain plug-in
NAME = "synthetic"
SOURCE_SCHEMA = None
DATASET_SCHEMA: dict = {
    "required": ["d", "n_patterns"],
    "properties": {
        "d": {"type": "integer", "minimum": 1},
        "n_patterns": {"type": "integer", "minimum": 2},
        "seed": {"type": "integer", "minimum": 0, "default": 0},
    },
}


def build_memory(params: dict, raw=None):
    """A random unit memory (d, n_patterns) from the dataset's own ``seed``."""
    from .base import Memory

    memory = random_memory(params["d"], params["n_patterns"], params.get("seed", 0))
    return Memory(memory, {"d": int(params["d"]), "n_patterns": int(params["n_patterns"])})


def panel(states: np.ndarray, memory):
    """Random patterns have no picture: a heat map of the states."""
    from .base import Panel

    return Panel("matrix", np.asarray(states)[None])
