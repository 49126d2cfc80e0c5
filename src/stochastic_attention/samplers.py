"""Langevin (SA / ULA) and MALA samplers of ``exp(−β E)`` over a ``(d, C)`` state matrix.

Kernels are small pure functions in the style of BlackJAX: the random draws come in as
arguments (``noise`` of shape ``(d, C)``, ``log_uniform`` of shape ``(C,)``), ``MalaState``
caches the energy and the drift of the current states so MALA evaluates the attention once
per step, and ``StepInfo`` reports what happened. :func:`run_chains` drives the kernels
with an explicit generator; protocols (multi-chain, single-chain, warm-start sequence) turn
its records (:class:`ChainRecords`) into a :class:`ChainSamples`.

``beta`` may be a scalar or one value per chain ``(C,)``, so chains at different
temperatures advance together in one matrix.

Array libraries
---------------
Kernels and engine are written once against the array API standard: ``xp`` is the
namespace of the input arrays, so NumPy arrays run with NumPy and torch tensors with torch
on their own device (CPU or CUDA), and dtype and device follow the input. What the
standard lacks (in-place exp, column inner products, the layout of the softmax, random
numbers) is in the private helper ``_array_api``, once per library; NumPy's forms there are
exactly the calls this engine always made, so NumPy samples are bit for bit what they
were. :mod:`stochastic_attention.backends` picks library, device and dtype from config.

Random draws come from ``rng``: a NumPy ``Generator`` draws every number with the same
calls, shapes and dtype whatever the library (torch tensors then receive a copy of each
100-step block: a checking mode that reproduces the NumPy run to rounding, not a fast one),
and a ``torch.Generator`` draws on the device (torch's own streams: the same law as NumPy,
statistically, not bitwise). Memory, states, noise and records stay on the device for the
whole run; the span basis is computed once on the host (NumPy's SVD, so both libraries use
the same basis). Divergence is checked once per 100-step block and at every record (one
synchronisation each on a GPU); a failed check replays the steps since the previous one
with the same draws to name the exact chain and step. Each step is a few dozen small
operations, so a GPU pays off at large ``d·K·C``, not at the E4 size (see
``benchmarks/backends.py``). A CUDA run is reproducible on the same GPU model, driver and
torch version; across GPUs or against the CPU it agrees statistically.

Exact subspace reduction for ULA
--------------------------------
Write ``ξ = Q y + z`` with ``Q`` ``(d, r)`` an orthonormal basis of the span of the memory and
``z`` orthogonal to it. The logits ``memoryᵀ ξ = Rᵀ y`` (``R = Qᵀ memory``) see only ``y``,
and the retrieval ``memory a`` lies in the span, so the ULA update splits exactly into an
``r``-dimensional Langevin chain for ``y`` and an independent AR(1) process
``z ← (1−α) z + sqrt(2α/β) P⊥ ε`` for ``z``. The AR(1) part is advanced in closed form
between recorded steps (``n`` steps at once: factor ``(1−α)ⁿ``, noise variance
``(2α/β)(1 − (1−α)²ⁿ)/(1 − (1−α)²)``). The resulting chain has exactly the law of the literal
update — only the random numbers differ — and costs ``r/d`` of it per step; with ``K = 100``
patterns in ``d = 784`` that is 7.8× fewer operations. ``reduce=False`` runs the literal
full-dimensional update. With a leading batch axis (memories (B, d, K), states (B, d, C))
each memory gets its own basis (of the largest rank in the batch: a basis spanning more than
a memory's span is still exact for it).

Exact MALA at the span's cost
-----------------------------
With the same split, ``E(ξ) = E_y(y) + ½‖z‖²`` (``E_y = ½‖y‖² − β⁻¹ lse(β Rᵀ y)``),
``μ(ξ) = Q μ_y(y) + (1−α) z`` and the proposal splits into ``y* = μ_y(y) + s ε_y`` and
``z* = (1−α) z + s ε⊥`` (``s = sqrt(2α/β)``, ``ε_y ~ N(0, I_r)``, ``ε⊥ ~ N(0, P⊥)``
independent). The z part of ``log r`` is

    −β ½(‖z*‖² − ‖z‖²) − (β/4α)[‖z − (1−α)z*‖² − ‖z* − (1−α)z‖²] = −(αβ/4)(‖z*‖² − ‖z‖²),

because the cross terms ``⟨z, z*⟩`` cancel and ``1 − (1−α)² = 2α − α²``. So the chain
needs z only through ``‖z‖²``. Keep ``z = c u + ρ v`` with ``u`` a unit vector made
concrete (materialised) at the last record, ``c = ⟨z, u⟩`` and ``v`` a unit vector
orthogonal to u and the span that is never formed. Write ``ε⊥ = e u + g v + w`` with
``w ⊥ u, v``: then ``e, g ~ N(0, 1)`` and ``‖w‖² ~ χ²(m − 2)`` (``m = d − r``) are
independent, ``c* = (1−α) c + s e`` and ``ρ*² = ((1−α) ρ + s g)² + s² ‖w‖²`` — per step
``r + 2`` normals, one χ² and one uniform instead of d normals. At a record, v is drawn
uniform on the unit sphere of ``W = (span ⊕ u)^⊥``, ``z = c u + ρ v`` is formed, and the
bookkeeping restarts from ``u = z/‖z‖, c = ‖z‖, ρ = 0``.

In code c is one more coordinate: the frame ``[Q, u]`` (per chain) has coordinates
``f = [y; c]`` and sees the memory as ``[R; 0]``, so f follows the generic MALA proposal
and its ½c² energy and proposal terms come out of the generic formulas; only ρ needs the
identity above, with its share ``−(αβ/4)(ρ*² − ρ²)``. The state carries the per-chain
``log_weight = −β E_f(f) − (αβ/4) ρ²``, so ``log r = Δ log_weight − (β/4α)‖f − μ(f*)‖² +
½‖ε_f‖²`` (the forward term is ``(β/4α) s²‖ε_f‖²`` and ``s² = 2α/β``). One step is then two
(r+1)×K matrix products, one softmax and a dozen vector operations, against SA's two
products, one softmax and three updates.

*Why this is the literal chain in law.* Fix the state at a record (``z = c u``, ρ = 0).
Every later ``ε⊥`` is ``e u + η`` with ``η ~ N(0, I_W)`` independent of the past, of e, ε_y
and the uniforms. Let O be any rotation of W (identity on u and the span) and apply it to
all η between this record and the next. That leaves the joint law of the draws unchanged;
by induction over the steps it maps the W-part ζ of z (which starts at 0) to ``O ζ`` and
leaves every scalar unchanged — y, c, ‖ζ‖, the log ratios and the acceptances — since they
see ζ only through ‖ζ‖ (and ``‖ζ*‖² = ‖(1−α) ζ + s η‖²`` only through ``⟨ζ, η⟩`` and
‖η‖). Hence, given the past and all scalars, the direction of ζ at the next record is
invariant under every O: uniform on the sphere of W, as drawn. The same invariance makes the
direction of ζ uniform and independent of the next η given the scalar history, so η's
component along it is ``g ~ N(0, 1)`` and the rest has squared length ``χ²(m − 2)``,
independent of g: the scalar recursion above. Only the last record matters (the chain is
Markov given its state at a record), so one materialised direction per chain suffices and
nothing grows with the number of records. ``reduce=False`` runs the literal
full-dimensional MALA; the tests compare the two in law (and catch a dropped term) and check
one step exactly on matched draws.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np
from numpy.typing import DTypeLike

from . import _array_api
from . import energy as en
from .errors import UserError

__all__ = [
    "ChainRecords",
    "ChainSamples",
    "MalaState",
    "SamplerDivergedError",
    "SpanMalaState",
    "StepInfo",
    "chain_major",
    "draw_starts",
    "evenly_spaced_positions",
    "frame_memory",
    "mala_init",
    "mala_span_init",
    "mala_span_step",
    "mala_step",
    "multi_chain",
    "run_chains",
    "single_chain",
    "snapshot_steps",
    "span_state_energy",
    "ula_step",
    "warm_start_sequence",
]

Array = Any  # an array of the run's library (NumPy, torch): see "Array libraries" above
Kernel = Literal["sa", "mala"]
KERNELS: tuple[str, ...] = ("sa", "mala")
_BLOCK = 100  # steps of noise drawn at once; part of the seeded stream, so fixed
log = logging.getLogger(__name__)


class SamplerDivergedError(UserError, RuntimeError):
    """A chain became non-finite; the message names chain, step, alpha and beta."""


class MalaState(NamedTuple):
    """Current states with their cached energy and drift ``μ(ξ) = (1−α) ξ + α T(ξ)``."""

    states: Array  # (…, d, C)
    energy: Array  # (…, C)
    drift: Array  # (…, d, C)


class StepInfo(NamedTuple):
    """What one MALA step did, per chain."""

    accepted: Array  # (…, C) bool
    log_ratio: Array  # (…, C) log acceptance ratio (NaN counts as rejection)


# ----------------------------------------------------------------------------- validation


def _check_alpha(alpha: float) -> float:
    alpha = float(alpha)
    if not (np.isfinite(alpha) and 0.0 < alpha < 1.0):
        raise ValueError(f"alpha (step size) must lie in the open interval (0, 1), got {alpha}")
    return alpha


def _beta_vector(beta: float | Array, n_chains: int) -> np.ndarray:
    """β as float64 (C,) on the host (for messages; the run gets a copy in its dtype)."""
    values = np.asarray(_array_api.to_numpy(beta), dtype=np.float64)
    if values.ndim == 0:
        values = np.full(n_chains, float(values))
    if values.shape != (n_chains,):
        raise ValueError(
            f"beta must be a scalar or one value per chain ({n_chains},), got {values.shape}"
        )
    if not np.all(np.isfinite(values) & (values > 0)):
        raise ValueError(f"beta (inverse temperature) must be finite and > 0, got {beta}")
    return values


def _check_inputs(xp: Any, memory: Array, states: Array) -> None:
    if memory.ndim not in (2, 3):
        raise ValueError(f"memory must have shape (d, K) or (B, d, K), got {tuple(memory.shape)}")
    if tuple(states.shape[:-1]) != tuple(memory.shape[:-1]) or states.ndim != memory.ndim:
        raise ValueError(
            f"states must have shape {'(B, d, C)' if memory.ndim == 3 else '(d, C)'} with "
            f"the memory's leading sizes {tuple(memory.shape[:-1])}, got {tuple(states.shape)}"
        )
    if not bool(xp.all(xp.isfinite(memory))):
        raise ValueError("memory contains non-finite values (NaN or inf)")
    if not bool(xp.all(xp.isfinite(states))):
        raise ValueError("initial states contain non-finite values (NaN or inf)")


# -------------------------------------------------------------------------------- kernels


def _as_beta(xp: Any, beta: float | Array, like: Array) -> Array:
    """β as an array of ``like``'s library, dtype and device (a scalar stays 0-d)."""
    return xp.asarray(beta, dtype=like.dtype, device=_array_api.device(like))


def _attention(xp, ops, memory, memory_t, states, beta) -> tuple[Array, Array]:
    """Softmax weights (…, K, C) and ``lse(β memoryᵀ ξ)`` (…, C) of states (…, d, C).

    NumPy forms the logits as ``memory_t @ states`` (K, C), ``memory_t`` being the memory
    transposed (a view or a contiguous copy: the form each path always used, for the same
    bits); torch forms them as (C, K) from ``memory`` and reduces over the contiguous last
    axis, and the weights come back as a transposed view (``_array_api``).
    """
    if ops.reduce_last:
        weights, lse = en.attention_parts(
            states.mT @ memory, beta[..., None], overwrite=True, axis=-1, xp=xp
        )
        return weights.mT, lse
    return en.attention_parts(memory_t @ states, beta, overwrite=True, xp=xp)


def ula_step(memory: Array, states: Array, noise: Array, beta: float | Array, alpha: float):
    """One SA / ULA step: ``(1−α) ξ + α memory·softmax(β memoryᵀ ξ) + sqrt(2α/β) ε``.

    memory: (…, d, K); states, noise: (…, d, C) with ``noise ~ N(0, I)``; returns (…, d, C).
    """
    xp = _array_api.namespace(memory, states, noise)
    beta = _as_beta(xp, beta, states)
    scaled_noise = xp.sqrt(2.0 * alpha / beta) * noise
    ops = _array_api.ops(xp)
    return _ula_update(xp, ops, memory, memory.mT, ops.copy(states), scaled_noise, beta, alpha)


def _ula_update(xp, ops, memory, memory_t, states, scaled_noise, beta, alpha: float) -> Array:
    """:func:`ula_step` with the noise already scaled, in place (``states`` may be updated):
    use the result."""
    weights, _ = _attention(xp, ops, memory, memory_t, states, beta)
    retrieved = memory @ weights
    retrieved *= alpha
    states = ops.decay_add(states, 1.0 - alpha, retrieved)
    states += scaled_noise
    return states


def mala_init(memory: Array, states: Array, beta: float | Array, alpha: float) -> MalaState:
    """Cache energy (…, C) and drift (…, d, C) of ``states`` (…, d, C) for :func:`mala_step`."""
    xp = _array_api.namespace(memory, states)
    beta = _as_beta(xp, beta, states)
    return _mala_init(xp, _array_api.ops(xp), memory, memory.mT, states, beta, alpha)


def _mala_init(xp, ops, memory, memory_t, states, beta, alpha: float) -> MalaState:
    weights, lse = _attention(xp, ops, memory, memory_t, states, beta)
    energy = 0.5 * ops.dots(states, states) - lse / beta
    drift = (1.0 - alpha) * states + alpha * (memory @ weights)
    return MalaState(states, energy, drift)


def _accept(log_uniform: Array, log_ratio: Array) -> Array:
    """``log u < min(0, log r)``, written ``log u < log r`` since ``log u < 0`` (u ∈ [0, 1));
    a NaN ratio compares False: a rejection."""
    return log_uniform < log_ratio


def mala_step(
    memory: Array,
    state: MalaState,
    noise: Array,
    log_uniform: Array,
    beta: float | Array,
    alpha: float,
) -> tuple[MalaState, StepInfo]:
    """One MALA step (SPEC §2) with one attention evaluation (at the proposal).

    ``log r = −β [E(ξ*) − E(ξ)] − (β / 4α) [‖ξ − μ(ξ*)‖² − ‖ξ* − μ(ξ)‖²]``; a chain accepts
    when ``log u < min(0, log r)``; a NaN ratio is a rejection. noise: (…, d, C);
    log_uniform: (…, C).
    """
    xp = _array_api.namespace(memory, state.states, noise, log_uniform)
    beta = _as_beta(xp, beta, state.states)
    ops = _array_api.ops(xp)
    return _mala_step(xp, ops, memory, memory.mT, state, noise, log_uniform, beta, alpha)


def _mala_step(xp, ops, memory, memory_t, state, noise, log_uniform, beta, alpha):
    scale = xp.sqrt(2.0 * alpha / beta)
    proposal = state.drift + scale * noise
    proposed = _mala_init(xp, ops, memory, memory_t, proposal, beta, alpha)
    backward = state.states - proposed.drift
    forward_sq = scale**2 * ops.dots(noise, noise)  # ‖ξ* − μ(ξ)‖²
    log_ratio = -beta * (proposed.energy - state.energy) - beta / (4.0 * alpha) * (
        ops.dots(backward, backward) - forward_sq
    )
    accepted = _accept(log_uniform, log_ratio)
    keep = accepted[..., None, :]
    new_state = MalaState(
        xp.where(keep, proposed.states, state.states),
        xp.where(accepted, proposed.energy, state.energy),
        xp.where(keep, proposed.drift, state.drift),
    )
    return new_state, StepInfo(accepted, log_ratio)


class SpanMalaState(NamedTuple):
    """MALA state in a per-chain frame: ``ξ = [basis, u]·frame + across·v`` (module docstring).

    ``frame`` holds y (the span coordinates) and, as its last row, ``along = ⟨z, u⟩``; the
    frame's memory is ``[reduced; 0]`` (:func:`frame_memory`), so ``drift`` is the Hopfield
    drift of the frame part alone. v is never formed: it enters only through ``across``.
    ``log_weight`` is the state's share of ``log r``, ``−β E_frame − (αβ/4) across²`` with
    ``E_frame = ½‖frame‖² − β⁻¹ lse(β reducedᵀ y)``; the energy of ξ is
    ``E_frame + ½ across²`` (:func:`span_state_energy`).
    """

    frame: Array  # (…, r + 1, C) coordinates [y; along]
    log_weight: Array  # (…, C) −β E_frame − (αβ/4) across²
    drift: Array  # (…, r + 1, C) (1−α) frame + α [reduced; 0] a(y)
    across: Array  # (…, C) length ρ ≥ 0 of z's part orthogonal to u (direction lazy)


def frame_memory(reduced: Array) -> Array:
    """The memory in frame coordinates: ``reduced`` (…, r, K) with a zero row, (…, r + 1, K)."""
    xp = _array_api.namespace(reduced)
    return xp.concat([reduced, xp.zeros_like(reduced[..., :1, :])], axis=-2)


def _lazy_coefficient(beta, alpha):
    """``αβ/4``: the lazy part's share of log r is ``−(αβ/4)(ρ*² − ρ²)``.

    For coordinates w that move as ``w* = (1−α) w + s η`` without touching the memory,
    ``−β ½(‖w*‖² − ‖w‖²) − (β/4α)[‖w − (1−α)w*‖² − ‖w* − (1−α)w‖²]`` reduces to this: the
    cross terms ``⟨w, w*⟩`` cancel and ``1 − (1−α)² = 2α − α²``.
    """
    return 0.25 * alpha * beta


def mala_span_init(
    memory_in_frame: Array,
    frame: Array,
    beta: float | Array,
    alpha: float,
    across: Array | None = None,
) -> SpanMalaState:
    """State for :func:`mala_span_step` from ``frame`` (…, r + 1, C) and ``across`` (…, C).

    memory_in_frame: (…, r + 1, K), from :func:`frame_memory`; ``across`` defaults to 0.
    """
    xp = _array_api.namespace(memory_in_frame, frame)
    beta = _as_beta(xp, beta, frame)
    if across is not None:
        across = xp.asarray(across, dtype=frame.dtype, device=_array_api.device(frame))
    return _mala_span_init(xp, _array_api.ops(xp), memory_in_frame, frame, beta, alpha, across)


def _mala_span_init(xp, ops, memory, frame, beta, alpha, across=None) -> SpanMalaState:
    cached = _mala_init(xp, ops, memory, memory.mT, frame, beta, alpha)
    across = xp.zeros_like(cached.energy) if across is None else across
    log_weight = -beta * cached.energy - _lazy_coefficient(beta, alpha) * across**2
    return SpanMalaState(cached.states, log_weight, cached.drift, across)


def span_state_energy(state: SpanMalaState, beta: float | Array, alpha: float) -> Array:
    """The energy E(ξ) (…, C) of the states a :class:`SpanMalaState` stands for."""
    lazy_sq = state.across**2
    return -(state.log_weight + _lazy_coefficient(beta, alpha) * lazy_sq) / beta + 0.5 * lazy_sq


class _FrameMoves(NamedTuple):
    """One step's draws for :func:`_mala_span_update`, already scaled by ``s = sqrt(2α/β)``."""

    frame: Array  # (…, r + 1, C) s·[ε_y; e]
    forward: Array  # (…, C) ½‖[ε_y; e]‖², the forward proposal term (β/4α)‖f* − μ(f)‖²
    across: Array  # (…, C) s·g
    rest_sq: Array  # (…, C) s²·χ²(m − 2)


def _frame_moves(ops, noise, across_noise, chi_square, scale) -> _FrameMoves:
    """Scale standard draws (any leading axes, e.g. a block of steps) into :class:`_FrameMoves`."""
    return _FrameMoves(
        scale[..., None, :] * noise,
        0.5 * ops.dots(noise, noise),
        scale * across_noise,
        scale**2 * chi_square,
    )


class _Coefficients(NamedTuple):
    """Per-run constants of :func:`_mala_span_update`: floats, or (C,) arrays."""

    decay: float  # 1 − α
    beta: Array  # β
    half_beta: Array  # β / 2
    backward: Array  # β / 4α
    lazy: Array  # αβ / 4


def _coefficients(beta: Array, alpha: float) -> _Coefficients:
    lazy = _lazy_coefficient(beta, alpha)
    return _Coefficients(1.0 - alpha, beta, 0.5 * beta, beta / (4.0 * alpha), lazy)


def mala_span_step(
    memory_in_frame: Array,
    state: SpanMalaState,
    noise: Array,
    across_noise: Array,
    chi_square: Array,
    log_uniform: Array,
    beta: float | Array,
    alpha: float,
) -> tuple[SpanMalaState, StepInfo]:
    """One exact MALA step at the span's cost (module docstring, "Exact MALA").

    memory_in_frame: (…, r + 1, K) (:func:`frame_memory`); noise: (…, r + 1, C) ~ N(0, I),
    its last row the orthogonal noise along u; across_noise: (…, C) ~ N(0, 1), along z's lazy
    direction v; chi_square: (…, C) ~ χ²(m − 2), the squared length of the rest (m = d − r;
    pass zeros for what does not exist when m ≤ 2); log_uniform: (…, C) with log u < 0.
    """
    xp = _array_api.namespace(memory_in_frame, state.frame, noise)
    ops = _array_api.ops(xp)
    beta = xp.broadcast_to(_as_beta(xp, beta, state.drift), tuple(state.drift.shape[-1:]))
    moves = _frame_moves(ops, noise, across_noise, chi_square, xp.sqrt(2.0 * alpha / beta))
    return _mala_span_update(
        xp,
        ops,
        memory_in_frame,
        alpha * memory_in_frame,
        memory_in_frame.mT,
        state,
        moves,
        log_uniform,
        _coefficients(beta, alpha),
    )


def _mala_span_update(
    xp: Any,
    ops: Any,
    memory: Array,
    scaled_memory: Array,
    memory_t: Array,
    state: SpanMalaState,
    moves: _FrameMoves,
    log_uniform: Array,
    c: _Coefficients,
) -> tuple[SpanMalaState, StepInfo]:
    """:func:`mala_span_step` on pre-scaled draws (the engine scales a block of them at once).

    memory: the memory (…, r + 1, K) in frame coordinates; scaled_memory: α·memory;
    memory_t: the memory transposed (…, K, r + 1). ``log r = Δ log_weight − (β/4α)‖f −
    μ(f*)‖² + ½‖ε_f‖²`` (the forward term ``(β/4α) s²‖ε_f‖²`` with ``s² = 2α/β``). When
    every chain accepts (most steps at α 0.01) the proposal is taken whole, without the
    per-chain selection (where knowing that costs no device synchronisation).
    """
    proposal = state.drift + moves.frame
    weights, lse = _attention(xp, ops, memory, memory_t, proposal, c.beta)
    drift = scaled_memory @ weights
    drift += c.decay * proposal
    across_sq = c.decay * state.across + moves.across
    across_sq *= across_sq
    across_sq += moves.rest_sq
    log_weight = lse - c.half_beta * ops.dots(proposal, proposal) - c.lazy * across_sq
    gap = state.frame - drift
    log_ratio = log_weight - state.log_weight - c.backward * ops.dots(gap, gap)
    log_ratio += moves.forward
    accepted = _accept(log_uniform, log_ratio)
    across = xp.sqrt(across_sq)
    if ops.known_all(accepted):
        return SpanMalaState(proposal, log_weight, drift, across), StepInfo(accepted, log_ratio)
    keep = accepted[..., None, :]
    new_state = SpanMalaState(
        xp.where(keep, proposal, state.frame),
        xp.where(accepted, log_weight, state.log_weight),
        xp.where(keep, drift, state.drift),
        xp.where(accepted, across, state.across),
    )
    return new_state, StepInfo(accepted, log_ratio)


# ------------------------------------------------------------------------------- driver


@dataclass(frozen=True)
class ChainRecords:
    """Every recorded state of one run of C chains (of B memories when batched): what
    :func:`run_chains` returns.

    Two consumers thin it: the library's protocols (:func:`multi_chain`,
    :func:`single_chain`, :func:`warm_start_sequence`) into a :class:`ChainSamples`, and
    the pipeline's sampler kinds (:mod:`stochastic_attention.methods.chains`) into a
    :class:`~stochastic_attention.methods.base.MethodSamples` (with the energy of every
    record as traces).

    ``records`` and ``acceptance`` are arrays of the input's library and device (NumPy for
    NumPy input; :func:`stochastic_attention.backends.run_chains` always returns NumPy).
    """

    records: Array  # (R, d, C), or (R, B, d, C): the states after each recorded step
    record_steps: np.ndarray  # (R,)
    acceptance: Array | None  # (C,) or (B, C) float64 MALA acceptance over all steps; SA: None
    wall_seconds: float


def _raise_diverged(values: np.ndarray, step: int, alpha: float, beta: np.ndarray) -> None:
    bad = np.argwhere(~np.isfinite(values))
    chain = int(bad[0, -1])
    where = f"chain {chain}" + (f" of memory {int(bad[0, 0])}" if values.ndim > 1 else "")
    raise SamplerDivergedError(
        f"{where} became non-finite at step {step} (alpha={alpha}, "
        f"beta={float(beta[chain])}); {len(bad)} chain(s) affected. The drift's stiffness "
        "grows like alpha·beta·‖memory‖²: lower alpha, or beta when alpha is already small, "
        "and check the memory for extreme values."
    )


class _Progress:
    """Logs ``label: step k/T`` about every ``interval`` seconds of a run (in the job's log).

    A run shorter than ``interval`` logs nothing; a long one logs at most one line per interval,
    whatever its number of steps (the clock is read every step: ~0.1 µs against a step's µs).
    """

    def __init__(self, n_steps: int, label: str, interval: float = 10.0) -> None:
        self.n_steps, self.label, self.interval = n_steps, label, interval
        self.start = self.last = time.perf_counter()

    def update(self, step: int) -> None:
        now = time.perf_counter()
        if now - self.last < self.interval:
            return
        self.last = now
        log.info("%s: step %d/%d (%.0f s)", self.label, step, self.n_steps, now - self.start)


def _check_record_steps(record_steps: Sequence[int]) -> np.ndarray:
    steps = np.asarray(record_steps, dtype=np.int64)
    if steps.ndim != 1 or steps.size == 0:
        raise ValueError("record_steps must be a non-empty 1-D list of step numbers")
    if np.any(np.diff(steps) <= 0) or steps[0] < 1:
        raise ValueError("record_steps must be strictly increasing and ≥ 1")
    return steps


def run_chains(
    memory: Array,
    initial_states: Array,
    *,
    kernel: Kernel,
    beta: float | Array,
    alpha: float,
    rng: Any,
    record_steps: Sequence[int],
    reduce: bool = True,
    dtype: Any = None,
) -> ChainRecords:
    """Advance C chains together and record their states after the given steps.

    memory: (d, K), or (B, d, K) for B memories at once; initial_states: (d, C), or
    (B, d, C) (chain c of memory b sees only memory b; β is shared by position c). Arrays
    of one library (NumPy, torch on any device; lists mean NumPy): the run and its records
    stay in that library and on that device. record_steps: increasing step numbers (a
    record at step t is the state after t updates). ``rng``: a NumPy ``Generator``, or a
    ``torch.Generator`` on the tensors' device (module docstring, "Array libraries").
    ``reduce`` runs the exact span reductions of the module docstring (SA and MALA);
    ``reduce=False`` the literal full-dimensional updates. ``dtype`` float32 or float64
    (``None``: the memory's, float64 for a non-float memory); float32 halves memory and
    noise traffic at float32 rounding.
    """
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; choose one of {KERNELS}")
    xp = _array_api.namespace(memory, initial_states)
    memory = xp.asarray(memory)
    dtype = _array_api.float_dtype(xp, dtype, memory.dtype)
    memory = xp.asarray(memory, dtype=dtype)
    where = _array_api.device(memory)
    states = xp.asarray(initial_states, dtype=dtype, device=where, copy=True)
    _check_inputs(xp, memory, states)
    alpha = _check_alpha(alpha)
    beta = _beta_vector(beta, states.shape[-1])
    steps = _check_record_steps(record_steps)
    draws = _array_api.draws(rng, xp, where, dtype)
    start = time.perf_counter()
    basis = reduced = None
    if reduce:
        basis, reduced = en.span_basis(_array_api.to_numpy(memory))
        if basis.shape[-1] == memory.shape[-2]:
            basis = reduced = None
        else:
            basis, reduced = (xp.asarray(part, device=where) for part in (basis, reduced))
    engine = _Engine(xp, memory, states, beta, alpha, draws, steps)
    acceptance = None
    with engine.ops.no_grad():
        if kernel == "sa":
            records = engine.sa(basis, reduced)
        elif basis is None:
            records, acceptance = engine.mala()
        else:
            records, acceptance = engine.mala_span(basis, reduced)
    records = engine.ops.released(records)
    acceptance = None if acceptance is None else engine.ops.released(acceptance)
    return ChainRecords(records, steps, acceptance, time.perf_counter() - start)


class _Engine:
    """The loops shared by every kernel: noise blocks, records, divergence checks, progress.

    Arrays carry an optional leading batch axis (B memories); ``beta`` (C,) broadcasts over it.
    """

    def __init__(self, xp, memory, states, beta, alpha, draws, steps) -> None:
        self.xp, self.ops = xp, _array_api.ops(xp)
        self.memory, self.states, self.alpha, self.draws = memory, states, alpha, draws
        where = _array_api.device(states)
        self.beta = beta  # float64 (C,) on the host, for messages
        self.beta_typed = xp.astype(xp.asarray(beta, device=where), states.dtype)
        self.scale = xp.sqrt(2.0 * alpha / self.beta_typed)  # (C,)
        self.steps = [int(step) for step in steps]
        self.records = xp.empty((len(self.steps), *states.shape), dtype=states.dtype, device=where)

    def _chains_shape(self) -> tuple[int, ...]:
        shape = tuple(self.states.shape)
        return (*shape[:-2], shape[-1])

    def _raise_if_bad(self, per_chain: Array, step: int) -> None:
        """Raise ``SamplerDivergedError`` if a chain of ``per_chain`` (…, C) is non-finite."""
        xp = self.xp
        if bool(xp.isfinite(xp.sum(per_chain))):
            return
        values = _array_api.to_numpy(per_chain)
        if not np.all(np.isfinite(values)):
            _raise_diverged(values, step, self.alpha, self.beta)

    def _drive(
        self,
        label: str,
        state: Any,
        advance: Callable[[Any, int], Any],
        per_chain: Callable[[Any], Array],
        new_block: Callable[[], None],
        on_record: Callable[[Any, int, int], Any],
        copy: Callable[[Any], Any] = lambda state: state,
    ) -> Any:
        """Run steps 1…T: ``advance(state, offset in the block)``, checks, ``on_record``.

        Checks (``per_chain(state)`` finite) at the end of each block and at every record;
        ``copy`` keeps the state of the last check for a replay (``advance`` may update in
        place), which on a failed check names the first bad step with the same draws.
        """
        xp = self.xp
        progress = _Progress(self.steps[-1], label)
        last, next_record = self.steps[-1], 0
        checkpoint, first = copy(state), 1
        for step in range(1, last + 1):
            offset = (step - 1) % _BLOCK
            if offset == 0:
                new_block()
            state = advance(state, offset)
            due = step == self.steps[next_record]
            if due or offset == _BLOCK - 1 or step == last:
                if not bool(xp.isfinite(xp.sum(per_chain(state)))):
                    for replayed in range(first, step + 1):  # same draws: find the first step
                        checkpoint = advance(checkpoint, (replayed - 1) % _BLOCK)
                        self._raise_if_bad(per_chain(checkpoint), replayed)
                    self._raise_if_bad(per_chain(state), step)
                if due:
                    state = on_record(state, step, next_record)
                    next_record += 1
                checkpoint, first = copy(state), step + 1
            progress.update(step)
        return state

    def sa(self, basis, reduced) -> Array:
        """ULA, literal (basis None) or span-reduced: y exactly, z as AR(1) between records."""
        xp, ops, alpha, beta, scale = self.xp, self.ops, self.alpha, self.beta_typed, self.scale
        if basis is None:
            values, span = self.memory, ops.copy(self.states)
        else:
            values, span = reduced, basis.mT @ self.states  # (…, r, K), (…, r, C)
            parts = {"orthogonal": self.states - basis @ span, "last": 0}
        values_t = values.mT
        decay = 1.0 - alpha
        block = {"noise": None}

        def new_block() -> None:
            block["noise"] = self.draws.normal((_BLOCK, *span.shape), out=block["noise"])
            block["noise"] *= scale

        def advance(current, offset):
            return _ula_update(
                xp, ops, values, values_t, current, block["noise"][offset], beta, alpha
            )

        def on_record(current, step, index):
            if basis is None:
                self.records[index, ...] = current
                return current
            n = step - parts["last"]
            # n AR(1) steps at once: z ← (1−α)ⁿ z + scale·sqrt(Σ_{j<n} (1−α)^{2j}) P⊥ε
            spread = float(np.sqrt((1.0 - decay ** (2 * n)) / (1.0 - decay**2)))
            fresh = self.draws.normal(tuple(self.states.shape))
            fresh -= basis @ (basis.mT @ fresh)
            parts["orthogonal"] = decay**n * parts["orthogonal"] + (scale * spread) * fresh
            self.records[index, ...] = basis @ current + parts["orthogonal"]
            self._raise_if_bad(xp.sum(self.records[index, ...], axis=-2), step)
            parts["last"] = step
            return current

        def per_chain(current):
            return xp.sum(current, axis=-2)

        self._drive("SA", span, advance, per_chain, new_block, on_record, ops.copy)
        return self.records

    def _acceptance(self, accepted: Array) -> Array:
        return self.xp.astype(accepted, self.xp.float64) / float(self.steps[-1])

    def mala(self) -> tuple[Array, Array]:
        """Literal full-dimensional MALA (the reference for :meth:`mala_span`)."""
        xp, ops, alpha, beta = self.xp, self.ops, self.alpha, self.beta_typed
        memory, memory_t = self.memory, self.memory.mT
        state = _mala_init(xp, ops, memory, memory_t, self.states, beta, alpha)
        chains = self._chains_shape()
        counts = {"accepted": xp.zeros(chains, dtype=xp.int64, device=_array_api.device(memory))}
        block = {}

        def new_block() -> None:
            block["noise"] = self.draws.normal((_BLOCK, *self.states.shape))
            block["log_uniform"] = self.draws.log_uniform((_BLOCK, *chains))

        def advance(current, offset):
            noise, log_uniform = block["noise"][offset], block["log_uniform"][offset]
            new, info = _mala_step(
                xp, ops, memory, memory_t, current, noise, log_uniform, beta, alpha
            )
            counts["accepted"] += info.accepted
            return new

        def on_record(current, step, index):
            self.records[index, ...] = current.states
            return current

        self._drive("MALA", state, advance, lambda current: current.energy, new_block, on_record)
        return self.records, self._acceptance(counts["accepted"])

    def mala_span(self, basis, reduced) -> tuple[Array, Array]:
        """Exact MALA in the frame [span, u] with z's remainder through ρ (module docstring)."""
        xp, ops, alpha = self.xp, self.ops, self.alpha
        m = self.states.shape[-2] - basis.shape[-1]  # dimension of the complement (≥ 1)
        memory = frame_memory(reduced)
        scaled_memory, memory_t = alpha * memory, ops.contiguous(memory.mT)
        coefficients = _coefficients(self.beta_typed, alpha)
        span = basis.mT @ self.states
        lazy = {}

        def frame_state(span, orthogonal) -> SpanMalaState:
            """State with u = z/‖z‖ (along = ‖z‖, across = 0); u kept for materialising."""
            length = xp.sqrt(ops.dots(orthogonal, orthogonal))
            lazy["direction"] = self._directions(basis, orthogonal, length)
            frame = xp.concat([span, length[..., None, :]], axis=-2)
            return _mala_span_init(xp, ops, memory, frame, self.beta_typed, alpha)

        state = frame_state(span, self.states - basis @ span)
        frame_shape, chains = tuple(state.frame.shape), self._chains_shape()
        counts = {"accepted": xp.zeros(chains, dtype=xp.int64, device=_array_api.device(memory))}
        block = {}

        def new_block() -> None:
            *draws, block["log_uniform"] = self._mala_span_block(frame_shape, chains, m)
            block["moves"] = _frame_moves(ops, *draws, self.scale)

        def advance(current, offset):
            moves = _FrameMoves(*(part[offset] for part in block["moves"]))
            new, info = _mala_span_update(
                xp,
                ops,
                memory,
                scaled_memory,
                memory_t,
                current,
                moves,
                block["log_uniform"][offset],
                coefficients,
            )
            counts["accepted"] += info.accepted
            return new

        def on_record(current, step, index):
            span, along = current.frame[..., :-1, :], current.frame[..., -1, :]
            orthogonal = self._materialise(basis, lazy["direction"], along, current.across)
            self.records[index, ...] = basis @ span + orthogonal
            self._raise_if_bad(xp.sum(self.records[index, ...], axis=-2), step)
            return frame_state(span, orthogonal)

        self._drive(
            "MALA", state, advance, lambda current: current.log_weight, new_block, on_record
        )
        return self.records, self._acceptance(counts["accepted"])

    def _mala_span_block(self, frame_shape, chains, m: int) -> tuple[Array, ...]:
        """Draws for _BLOCK steps: frame noise [ε_y; e], across normals g, χ²(m − 2), log u."""
        xp = self.xp
        noise = self.draws.normal((_BLOCK, *frame_shape))
        across_noise = self.draws.normal((_BLOCK, *chains))
        if m < 2:  # no room for v: ρ stays 0
            across_noise = xp.zeros_like(across_noise)
        dof = _chi_square_dof(m)
        if dof >= 1:
            chi_square = self.draws.chi_square(dof, (_BLOCK, *chains))
        else:
            chi_square = xp.zeros_like(across_noise)
        log_uniform = self.draws.log_uniform((_BLOCK, *chains))
        return noise, across_noise, chi_square, log_uniform

    def _uniform_directions(self, basis, exclude=None) -> Array:
        """Unit columns (…, d, C), uniform on the sphere orthogonal to the span (and exclude)."""
        xp, ops = self.xp, self.ops
        fresh = self.draws.normal(tuple(self.states.shape))
        fresh -= basis @ (basis.mT @ fresh)
        if exclude is not None:
            fresh -= exclude * ops.dots(exclude, fresh)[..., None, :]
        return fresh / xp.sqrt(ops.dots(fresh, fresh))[..., None, :]

    def _directions(self, basis, orthogonal, length) -> Array:
        """u = z / ‖z‖ per chain, or a uniform direction where z is exactly 0 (one sync)."""
        xp = self.xp
        zero = length == 0
        if not bool(xp.any(zero)):
            return orthogonal / length[..., None, :]
        fallback = self._uniform_directions(basis)
        safe = xp.where(zero, xp.ones_like(length), length)[..., None, :]
        return xp.where(zero[..., None, :], fallback, orthogonal / safe)

    def _materialise(self, basis, direction, along, across) -> Array:
        """z = along·u + across·v with v uniform on the sphere orthogonal to the span and u."""
        if direction.shape[-2] - basis.shape[-1] < 2:  # no room for v: across stays 0
            orthogonal = direction * along[..., None, :]
        else:
            lazy = self._uniform_directions(basis, exclude=direction)
            orthogonal = direction * along[..., None, :] + lazy * across[..., None, :]
        orthogonal -= basis @ (basis.mT @ orthogonal)  # no drift into the span by rounding
        return orthogonal


def _chi_square_dof(m: int) -> int:
    """Degrees of freedom of the orthogonal noise beyond u and v: m − 2 (module docstring)."""
    return m - 2


# ------------------------------------------------------------------------------ protocols


@dataclass(frozen=True)
class ChainSamples:
    """The kept samples of one protocol run with where each came from: what
    :func:`multi_chain`, :func:`single_chain` and :func:`warm_start_sequence` return,
    thinned from the run's :class:`ChainRecords`.

    The library-level result (the finance warm-start sequence, benchmarks, a notebook); the
    pipeline's sample step stores a method's
    :class:`~stochastic_attention.methods.base.MethodSamples` instead.
    """

    samples: np.ndarray  # (d, S)
    chain_ids: np.ndarray  # (S,) chain each sample came from
    steps: np.ndarray  # (S,) step after which each sample was recorded
    start_patterns: np.ndarray  # (C,) stored pattern each chain started from (−1: none)
    acceptance: np.ndarray | None  # (C,) MALA acceptance rate per chain, None for SA
    wall_seconds: float

    @property
    def overall_acceptance(self) -> float | None:
        """Mean acceptance over chains (all chains run the same number of steps)."""
        return None if self.acceptance is None else float(np.mean(self.acceptance))


def evenly_spaced_positions(n_available: int, n_keep: int) -> np.ndarray:
    """0-based positions of ``n_keep`` evenly spaced items out of ``n_available``.

    Rounds half up, so 5 of 30 gives positions 1, 8, 16, 23, 30 (1-based) as in SPEC §2.
    """
    if not 1 <= n_keep <= n_available:
        raise ValueError(f"cannot keep {n_keep} of {n_available} snapshots")
    return np.floor(np.linspace(0, n_available - 1, n_keep) + 0.5).astype(np.int64)


def chain_major(records: np.ndarray) -> np.ndarray:
    """Records (R, d, C) as samples (d, C·R), ordered chain by chain (chain 0's R first)."""
    n_records, d, n_chains = records.shape
    return records.transpose(1, 2, 0).reshape(d, n_chains * n_records)


def snapshot_steps(n_steps: int, burn_in: int, thin: int) -> np.ndarray:
    """Steps burn_in + thin, burn_in + 2·thin, …, ≤ n_steps at which a protocol records."""
    if burn_in < 0 or thin < 1 or n_steps <= burn_in:
        raise ValueError(
            f"need n_steps > burn_in ≥ 0 and thin ≥ 1, got n_steps={n_steps}, "
            f"burn_in={burn_in}, thin={thin}"
        )
    steps = np.arange(burn_in + thin, n_steps + 1, thin)
    if steps.size == 0:
        raise ValueError(f"no snapshot between burn-in {burn_in} and step {n_steps}")
    return steps


def draw_starts(
    memory: np.ndarray, n_chains: int, init_noise: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """SPEC §2 start draw: ``n_chains`` stored patterns plus ``N(0, init_noise² I)``.

    Patterns are drawn without replacement when C ≤ K (with replacement beyond that).
    Returns ``(start_patterns (C,), initial_states (d, C))``. Draw once per dataset and pass
    the pair as ``start=`` to every sampler for common random numbers.
    """
    n_patterns = memory.shape[1]
    if n_chains < 1:
        raise ValueError(f"n_chains must be ≥ 1, got {n_chains}")
    starts = rng.choice(n_patterns, size=n_chains, replace=n_chains > n_patterns)
    initial = memory[:, starts] + init_noise * rng.standard_normal((memory.shape[0], n_chains))
    return starts, initial


def _given_start(
    start: tuple[np.ndarray, np.ndarray], memory: np.ndarray, n_chains: int
) -> tuple[np.ndarray, np.ndarray]:
    patterns, initial = (np.asarray(part) for part in start)
    if initial.shape != (memory.shape[0], n_chains) or patterns.shape != (n_chains,):
        raise ValueError(
            f"start must be (start_patterns ({n_chains},), initial_states "
            f"({memory.shape[0]}, {n_chains})) as draw_starts returns, got shapes "
            f"{patterns.shape} and {initial.shape}"
        )
    return patterns, initial


def multi_chain(
    memory: np.ndarray,
    *,
    kernel: Kernel,
    beta: float,
    alpha: float,
    rng: np.random.Generator,
    n_chains: int,
    n_steps: int,
    burn_in: int,
    thin: int,
    keep: int,
    init_noise: float,
    reduce: bool = True,
    start: tuple[np.ndarray, np.ndarray] | None = None,
    dtype: DTypeLike = np.float64,
) -> ChainSamples:
    """SPEC §2 multi-chain protocol: C chains from distinct stored patterns + noise.

    The protocol's parameters are required: their defaults live in the config schema
    (``protocols.multi_chain``), the one place the pipeline reads them from.

    The start comes from :func:`draw_starts` on ``rng`` unless ``start`` (its result, drawn
    once and shared between samplers) is given. Snapshots every ``thin`` steps after
    ``burn_in``; ``keep`` evenly spaced ones per chain are returned, ordered chain by chain:
    samples (d, C·keep).
    """
    if start is None:
        starts, initial = draw_starts(memory, n_chains, init_noise, rng)
    else:
        starts, initial = _given_start(start, memory, n_chains)
    record_steps = snapshot_steps(n_steps, burn_in, thin)
    positions = evenly_spaced_positions(record_steps.size, keep)
    run = run_chains(
        memory,
        initial,
        kernel=kernel,
        beta=beta,
        alpha=alpha,
        rng=rng,
        record_steps=record_steps,
        reduce=reduce,
        dtype=dtype,
    )
    return ChainSamples(
        samples=chain_major(run.records[positions]),
        chain_ids=np.repeat(np.arange(n_chains), keep),
        steps=np.tile(record_steps[positions], n_chains),
        start_patterns=starts,
        acceptance=run.acceptance,
        wall_seconds=run.wall_seconds,
    )


def single_chain(
    memory: np.ndarray,
    *,
    kernel: Kernel,
    beta: float,
    alpha: float,
    rng: np.random.Generator,
    n_steps: int,
    burn_in: int,
    thin: int,
    start_pattern: int,
    init_noise: float,
    reduce: bool = True,
    start: tuple[np.ndarray, np.ndarray] | None = None,
    dtype: DTypeLike = np.float64,
) -> ChainSamples:
    """SPEC §2 single-chain protocol: one chain from stored pattern ``start_pattern``
    (parameters required, as :func:`multi_chain`'s: defaults in ``protocols.single_chain``).

    ``start`` = (start_patterns (1,), initial_states (d, 1)) replaces the start draw.
    """
    if start is None:
        if not 0 <= start_pattern < memory.shape[1]:
            raise ValueError(f"start_pattern {start_pattern} is not a column of the memory")
        noise = init_noise * rng.standard_normal((memory.shape[0], 1))
        patterns, initial = np.array([start_pattern]), memory[:, [start_pattern]] + noise
    else:
        patterns, initial = _given_start(start, memory, 1)
    record_steps = snapshot_steps(n_steps, burn_in, thin)
    run = run_chains(
        memory,
        initial,
        kernel=kernel,
        beta=beta,
        alpha=alpha,
        rng=rng,
        record_steps=record_steps,
        reduce=reduce,
        dtype=dtype,
    )
    return ChainSamples(
        samples=run.records[:, :, 0].T.copy(),
        chain_ids=np.zeros(record_steps.size, dtype=np.int64),
        steps=record_steps,
        start_patterns=patterns,
        acceptance=run.acceptance,
        wall_seconds=run.wall_seconds,
    )


def warm_start_sequence(
    memory: np.ndarray,
    *,
    beta: float,
    alpha: float,
    rng: np.random.Generator,
    n_days: int,
    inner_steps: int = 200,
    initial_state: np.ndarray | None = None,
    kernel: Kernel = "mala",
) -> ChainSamples:
    """SPEC §2 warm-start sequence: day t starts from day t−1's final state.

    One chain advances ``inner_steps`` per day; the state at the end of each day is that
    day's output: samples (d, n_days). Without ``initial_state`` the chain starts at the
    last stored pattern (the most recent day when columns are in time order).
    """
    if n_days < 1 or inner_steps < 1:
        raise ValueError("n_days and inner_steps must be ≥ 1")
    start = memory[:, -1] if initial_state is None else np.asarray(initial_state)
    record_steps = inner_steps * np.arange(1, n_days + 1)
    run = run_chains(
        memory,
        start.reshape(-1, 1),
        kernel=kernel,
        beta=beta,
        alpha=alpha,
        rng=rng,
        record_steps=record_steps,
    )
    return ChainSamples(
        samples=run.records[:, :, 0].T.copy(),
        chain_ids=np.zeros(n_days, dtype=np.int64),
        steps=record_steps,
        start_patterns=np.array([memory.shape[1] - 1 if initial_state is None else -1]),
        acceptance=run.acceptance,
        wall_seconds=run.wall_seconds,
    )
