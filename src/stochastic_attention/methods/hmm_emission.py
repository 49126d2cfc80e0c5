"""``hmm_emission`` baseline (SPEC §4, protein): sequences emitted by the family's profile HMM.

The HMM is the one :func:`~stochastic_attention.domains.protein.build_memory` built from the
filtered seed alignment (``memory.arrays["hmm"]``, one match state per kept column). Each
sample is a sequence emitted by the core model (HMMER's generator seeded from
``context.rng``), aligned back to the model (one residue or gap per column) and encoded like
the naturals (one-hot, minus the PCA mean, projected, unit norm). ``arrays["decoded"]`` keeps
the emitted aligned sequences themselves: the PCA of 79 naturals cannot represent every new
sequence, so metrics of the raw emissions and of their decoded states differ.
"""

from __future__ import annotations

import time

import numpy as np

from ..domains.base import Memory
from ..metrics import consecutive_groups
from .base import MethodError, MethodSamples, RunContext, n_samples_of

__all__ = ["CATEGORY", "DOMAINS", "KIND", "PARAMS_SCHEMA", "run"]

KIND = "hmm_emission"
CATEGORY = "simple"
PARAMS_SCHEMA: dict = {}
DOMAINS = ("protein",)


def run(memory: Memory, spec: dict, context: RunContext) -> MethodSamples:
    """``spec["n_samples"]`` emitted sequences as states (d, S); groups of 5 in order."""
    from ..domains.protein import encode
    from ..domains.protein_hmm import emit_aligned, hmm_from_array

    if "hmm" not in memory.arrays:
        raise MethodError(f"{KIND} needs a protein memory (it has no profile HMM)")
    n = n_samples_of(spec, KIND)
    start = time.perf_counter()
    seed = int(context.rng.integers(1, 2**31 - 1))
    sequences = emit_aligned(hmm_from_array(memory.arrays["hmm"]), n, seed)
    samples = encode(sequences, memory)
    return MethodSamples(
        samples=samples,
        groups=consecutive_groups(n),
        arrays={"decoded": np.array(sequences, dtype=np.str_)},
        scalars={"sampling_seconds": time.perf_counter() - start, "hmmer_seed": seed},
    )
