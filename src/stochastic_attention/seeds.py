"""Deterministic per-job seeds: the same config gives the same numbers whatever --cores is."""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["derive_seed"]


def derive_seed(base: int, *keys: str) -> int:
    """A 32-bit seed from the config's base seed and the job's identity (names, not order)."""
    entropy = [int(base)] + [zlib.crc32(key.encode()) for key in keys]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])
