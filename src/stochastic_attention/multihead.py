"""Multi-head stochastic attention (SPEC §6 E16).

Heads
-----
Centre the memory (``m`` = mean pattern, ``X₀ = memory − m 1ᵀ``) and take its principal
directions ``U = [u_1 … u_r]`` in order of decreasing variance (:func:`transforms.
centred_pca_projection`). ``r`` defaults to every direction that carries variance (the
numerical rank of ``X₀``, at most ``min(d, K − 1)``: 99 for 100 MNIST images), so the heads
together lose nothing of the centred memory. The r directions are cut into H contiguous
slices as evenly as possible (the first ``r mod H`` heads get one more: 99 in 4 heads →
25, 25, 25, 24). Head h has the orthonormal basis ``B_h`` (d, r_h) of its slice and the
memory ``X_h = B_hᵀ X₀`` (r_h, K): the same K patterns seen through its own directions, so
each head attends over all patterns with its own logits ``X_hᵀ y_h``.

Why this definition: the slices are orthogonal pieces of the whole (``B_hᵀ B_g = 0``,
``Σ_h B_h X_h = X₀``), so a state splits uniquely into head coordinates
``y_h = B_hᵀ (ξ − m)`` and sums back as ``ξ = m + Σ_h B_h y_h``; one head is exactly SA on
the centred memory in its principal subspace. The leading head carries most of the
variance, so at a given β its attention is the sharpest; the trailing heads see small
logits and sample nearly freely in their directions.

Chains
------
Chain c starts from the same full-space state in every head (stored pattern ``s_c`` plus
``N(0, σ_init² I)``: the common start draw every sampler of the dataset gets, so a
multi-head run shares its start patterns and init noise with the plain run); head h starts
at ``B_hᵀ (ξ₀ − m)``. Each head's chains then advance independently
with :func:`samplers.run_chains` on ``X_h`` (the engine takes one memory, so the H ≤ 5 heads
run one after another from the same generator), and the recorded states are mapped back
and summed. Before any step the summed state is ``m + P(ξ₀ − m)`` with ``P`` the projection
on the r directions: the start pattern itself plus the in-span part of the init noise.
The Langevin noise of head h lives in its r_h directions, so the summed sample has no
component outside the principal subspace.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np

from . import samplers
from .errors import UserError
from .samplers import ChainRecords
from .transforms import centred_pca_projection

__all__ = [
    "Head",
    "HeadSplit",
    "TooManyHeadsError",
    "combine_heads",
    "head_memories",
    "multihead_run",
    "split_states",
]


class TooManyHeadsError(UserError, ValueError):
    """More heads than the memory has principal directions (known only once it is built)."""


class Head(NamedTuple):
    """One head: its orthonormal directions and the memory in them."""

    basis: np.ndarray  # (d, r_h)
    memory: np.ndarray  # (r_h, K)


@dataclass(frozen=True)
class HeadSplit:
    """The mean pattern and the H heads of a centred memory."""

    mean: np.ndarray  # (d,)
    heads: tuple[Head, ...]

    @property
    def ranks(self) -> tuple[int, ...]:
        """Number of directions of each head."""
        return tuple(head.basis.shape[1] for head in self.heads)


def head_memories(memory: np.ndarray, n_heads: int, rank: int | None = None) -> HeadSplit:
    """Split the principal directions of the centred memory (d, K) into ``n_heads`` heads.

    ``rank`` directions in all (``None``: every direction with variance), cut into contiguous
    slices as evenly as possible; ``split.heads[h]`` is ``(basis (d, r_h), memory (r_h, K))``.
    """
    if isinstance(n_heads, bool) or not isinstance(n_heads, int | np.integer) or n_heads < 1:
        raise ValueError(f"n_heads must be a positive integer, got {n_heads!r}")
    reduced, basis, mean = centred_pca_projection(memory, rank)
    total = basis.shape[1]
    if n_heads > total:
        raise TooManyHeadsError(
            f"n_heads={n_heads} exceeds the {total} principal directions of this memory "
            f"(at most min(d, K − 1) = {min(memory.shape[0], memory.shape[1] - 1)}); use at "
            f"most {total} heads or more patterns"
        )
    slices = np.array_split(np.arange(total), n_heads)
    heads = tuple(
        Head(np.ascontiguousarray(basis[:, part]), np.ascontiguousarray(reduced[part]))
        for part in slices
    )
    return HeadSplit(mean=mean, heads=heads)


def split_states(states: np.ndarray, split: HeadSplit) -> list[np.ndarray]:
    """Head coordinates ``B_hᵀ (ξ − m)`` (r_h, n) of full-space states (d, n)."""
    states = np.asarray(states, dtype=np.float64)
    centred = states - split.mean[:, None]
    return [head.basis.T @ centred for head in split.heads]


def combine_heads(head_states: Sequence[np.ndarray], split: HeadSplit) -> np.ndarray:
    """Map head states (r_h, n) back and sum them: ``m + Σ_h B_h y_h`` (d, n)."""
    if len(head_states) != len(split.heads):
        raise ValueError(f"expected {len(split.heads)} head states, got {len(head_states)}")
    total = split.mean[:, None] + np.zeros((1, np.asarray(head_states[0]).shape[1]))
    for head, states in zip(split.heads, head_states, strict=True):
        total += head.basis @ states
    return total


def multihead_run(
    memory: np.ndarray,
    initial_states: np.ndarray,
    *,
    n_heads: int,
    beta: float | np.ndarray,
    alpha: float,
    rng: np.random.Generator,
    record_steps: Sequence[int],
    kernel: Literal["sa", "mala"],
    rank: int | None,
) -> ChainRecords:
    """Run H heads from full-space starts (d, C) and record the summed states (R, d, C).

    The counterpart of ``samplers.run_chains`` (same arguments plus the heads), so a method
    plug-in can feed it the common start draw. Heads run one after another from ``rng``;
    ``acceptance`` (C,) is each chain's mean over heads (MALA) and ``wall_seconds`` the sum.
    """
    memory = np.asarray(memory, dtype=np.float64)
    split = head_memories(memory, n_heads, rank)
    initial = np.asarray(initial_states, dtype=np.float64)
    if initial.ndim != 2 or initial.shape[0] != memory.shape[0]:
        raise ValueError(
            f"initial_states must have shape ({memory.shape[0]}, C), got {initial.shape}"
        )
    records, acceptances, seconds, steps = None, [], 0.0, None
    for head, start in zip(split.heads, split_states(initial, split), strict=True):
        run = samplers.run_chains(
            head.memory,
            start,
            kernel=kernel,
            beta=beta,
            alpha=alpha,
            rng=rng,
            record_steps=record_steps,
        )
        lifted = np.einsum("dr,trc->tdc", head.basis, run.records)
        records = lifted if records is None else records + lifted
        if run.acceptance is not None:
            acceptances.append(run.acceptance)
        seconds += run.wall_seconds
        steps = run.record_steps
    records += split.mean[None, :, None]
    acceptance = np.mean(acceptances, axis=0) if acceptances else None
    return ChainRecords(records, steps, acceptance, seconds)
