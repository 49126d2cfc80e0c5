"""Deterministic per-job seeds: the same config gives the same numbers whatever --cores is."""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["derive_seed", "replicate_seeds"]


def derive_seed(base: int, *keys: str) -> int:
    """A 32-bit seed from the config's base seed and the job's identity (names, not order)."""
    entropy = [int(base)] + [zlib.crc32(key.encode()) for key in keys]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def replicate_seeds(base: int, *keys: str, replicates: int) -> list[int]:
    """One seed per replicate of a job; replicate 0 keeps the plain job seed (so one replicate
    equals the runs made before replicates existed), replicate r adds ``replicate<r>``."""
    return [
        derive_seed(base, *keys, *(() if r == 0 else (f"replicate{r}",)))
        for r in range(replicates)
    ]
