"""``shuffled`` baseline (SPEC §4, protein): natural sequences with their positions permuted.

A negative control for every sequence metric: each sample is a natural sequence of the
filtered alignment (drawn uniformly with replacement) whose L aligned positions (residues and
gaps) are put in a uniformly random order, then encoded like the naturals. Composition is
kept exactly; position-specific conservation and covariation are destroyed.
"""

from __future__ import annotations

import numpy as np

from ..domains.base import Memory
from ..metrics import consecutive_groups
from .base import MethodError, MethodSamples, RunContext, n_samples_of

__all__ = ["CATEGORY", "DOMAINS", "KIND", "PARAMS_SCHEMA", "run", "shuffle_sequences"]

KIND = "shuffled"
CATEGORY = "simple"
PARAMS_SCHEMA: dict = {}
DOMAINS = ("protein",)


def shuffle_sequences(naturals: list[str], n: int, rng: np.random.Generator) -> list[str]:
    """``n`` naturals drawn with replacement, each with its positions permuted."""
    picks = rng.integers(len(naturals), size=n)
    out = []
    for pick in picks:
        letters = np.array(list(naturals[pick]))
        out.append("".join(letters[rng.permutation(letters.size)]))
    return out


def run(memory: Memory, spec: dict, context: RunContext) -> MethodSamples:
    """``spec["n_samples"]`` shuffled naturals as states (d, S); groups of 5 in order."""
    from ..domains.protein import encode

    if "sequences" not in memory.arrays:
        raise MethodError(f"{KIND} needs a protein memory (it has no aligned sequences)")
    n = n_samples_of(spec, KIND)
    sequences = shuffle_sequences([str(s) for s in memory.arrays["sequences"]], n, context.rng)
    return MethodSamples(
        samples=encode(sequences, memory),
        groups=consecutive_groups(n),
        arrays={"decoded": np.array(sequences, dtype=np.str_)},
    )
