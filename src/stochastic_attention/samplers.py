"""Langevin (SA / ULA) and MALA samplers of ``exp(−β E)`` over a ``(d, C)`` state matrix.

Kernels are small pure functions in the style of BlackJAX: the random draws come in as
arguments (``noise`` of shape ``(d, C)``, ``log_uniform`` of shape ``(C,)``), ``MalaState``
caches the energy and the drift of the current states so MALA evaluates the attention once
per step, and ``StepInfo`` reports what happened. Protocols (multi-chain, single-chain,
warm-start sequence) drive the kernels with an explicit ``numpy.random.Generator`` and turn
them into a :class:`SampleSet`.

``beta`` may be a scalar or one value per chain ``(C,)``, so chains at different
temperatures advance together in one matrix.

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
from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import DTypeLike

from . import energy as en
from .errors import UserError

__all__ = [
    "ChainRun",
    "MalaState",
    "SampleSet",
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

Kernel = Literal["sa", "mala"]
KERNELS: tuple[str, ...] = ("sa", "mala")
_BLOCK = 100  # steps of noise drawn at once; part of the seeded stream, so fixed
log = logging.getLogger(__name__)


class SamplerDivergedError(UserError, RuntimeError):
    """A chain became non-finite; the message names chain, step, alpha and beta."""


class MalaState(NamedTuple):
    """Current states with their cached energy and drift ``μ(ξ) = (1−α) ξ + α T(ξ)``."""

    states: np.ndarray  # (d, C)
    energy: np.ndarray  # (C,)
    drift: np.ndarray  # (d, C)


class StepInfo(NamedTuple):
    """What one MALA step did, per chain."""

    accepted: np.ndarray  # (C,) bool
    log_ratio: np.ndarray  # (C,) log acceptance ratio (NaN counts as rejection)


# ----------------------------------------------------------------------------- validation


def _check_alpha(alpha: float) -> float:
    alpha = float(alpha)
    if not (np.isfinite(alpha) and 0.0 < alpha < 1.0):
        raise ValueError(f"alpha (step size) must lie in the open interval (0, 1), got {alpha}")
    return alpha


def _beta_vector(beta: float | np.ndarray, n_chains: int) -> np.ndarray:
    values = np.asarray(beta, dtype=np.float64)
    if values.ndim == 0:
        values = np.full(n_chains, float(values))
    if values.shape != (n_chains,):
        raise ValueError(
            f"beta must be a scalar or one value per chain ({n_chains},), got {values.shape}"
        )
    if not np.all(np.isfinite(values) & (values > 0)):
        raise ValueError(f"beta (inverse temperature) must be finite and > 0, got {beta}")
    return values


def _check_inputs(memory: np.ndarray, states: np.ndarray) -> None:
    if memory.ndim not in (2, 3):
        raise ValueError(f"memory must have shape (d, K) or (B, d, K), got {memory.shape}")
    if states.shape[:-1] != memory.shape[:-1] or states.ndim != memory.ndim:
        raise ValueError(
            f"states must have shape {'(B, d, C)' if memory.ndim == 3 else '(d, C)'} with "
            f"the memory's leading sizes {memory.shape[:-1]}, got {states.shape}"
        )
    if not np.all(np.isfinite(memory)):
        raise ValueError("memory contains non-finite values (NaN or inf)")
    if not np.all(np.isfinite(states)):
        raise ValueError("initial states contain non-finite values (NaN or inf)")


# -------------------------------------------------------------------------------- kernels


def _t(array: np.ndarray) -> np.ndarray:
    return np.swapaxes(array, -1, -2)


def _sq(array: np.ndarray) -> np.ndarray:
    """Squared column norms: (…, d, C) → (…, C)."""
    return np.einsum("...dc,...dc->...c", array, array)


def ula_step(
    memory: np.ndarray,
    states: np.ndarray,
    noise: np.ndarray,
    beta: float | np.ndarray,
    alpha: float,
) -> np.ndarray:
    """One SA / ULA step: ``(1−α) ξ + α memory·softmax(β memoryᵀ ξ) + sqrt(2α/β) ε``.

    memory: (…, d, K); states, noise: (…, d, C) with ``noise ~ N(0, I)``; returns (…, d, C).
    """
    beta = np.asarray(beta)
    weights, _ = en.attention_parts(_t(memory) @ states, beta, overwrite=True)
    return (1.0 - alpha) * states + alpha * (memory @ weights) + np.sqrt(2.0 * alpha / beta) * noise


def _ula_update(
    memory: np.ndarray, states: np.ndarray, scaled_noise: np.ndarray, beta, alpha: float
) -> None:
    """:func:`ula_step` in place with the noise already scaled (bit for bit the same values)."""
    weights, _ = en.attention_parts(_t(memory) @ states, beta, overwrite=True)
    retrieved = memory @ weights
    retrieved *= alpha
    states *= 1.0 - alpha
    states += retrieved
    states += scaled_noise


def mala_init(
    memory: np.ndarray, states: np.ndarray, beta: float | np.ndarray, alpha: float
) -> MalaState:
    """Cache energy (…, C) and drift (…, d, C) of ``states`` (…, d, C) for :func:`mala_step`."""
    beta = np.asarray(beta)
    weights, lse = en.attention_parts(_t(memory) @ states, beta, overwrite=True)
    energy = 0.5 * _sq(states) - lse / beta
    drift = (1.0 - alpha) * states + alpha * (memory @ weights)
    return MalaState(states, energy, drift)


def _accept(log_uniform: np.ndarray, log_ratio: np.ndarray) -> np.ndarray:
    """``log u < min(0, log r)``, written ``log u < log r`` since ``log u < 0`` (u ∈ [0, 1));
    a NaN ratio compares False: a rejection."""
    return log_uniform < log_ratio


def mala_step(
    memory: np.ndarray,
    state: MalaState,
    noise: np.ndarray,
    log_uniform: np.ndarray,
    beta: float | np.ndarray,
    alpha: float,
) -> tuple[MalaState, StepInfo]:
    """One MALA step (SPEC §2) with one attention evaluation (at the proposal).

    ``log r = −β [E(ξ*) − E(ξ)] − (β / 4α) [‖ξ − μ(ξ*)‖² − ‖ξ* − μ(ξ)‖²]``; a chain accepts
    when ``log u < min(0, log r)``; a NaN ratio is a rejection. noise: (…, d, C);
    log_uniform: (…, C).
    """
    beta = np.asarray(beta)
    scale = np.sqrt(2.0 * alpha / beta)
    proposal = state.drift + scale * noise
    proposed = mala_init(memory, proposal, beta, alpha)
    backward = state.states - proposed.drift
    forward_sq = scale**2 * _sq(noise)  # ‖ξ* − μ(ξ)‖²
    log_ratio = -beta * (proposed.energy - state.energy) - beta / (4.0 * alpha) * (
        _sq(backward) - forward_sq
    )
    accepted = _accept(log_uniform, log_ratio)
    keep = accepted[..., None, :]
    new_state = MalaState(
        np.where(keep, proposed.states, state.states),
        np.where(accepted, proposed.energy, state.energy),
        np.where(keep, proposed.drift, state.drift),
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

    frame: np.ndarray  # (…, r + 1, C) coordinates [y; along]
    log_weight: np.ndarray  # (…, C) −β E_frame − (αβ/4) across²
    drift: np.ndarray  # (…, r + 1, C) (1−α) frame + α [reduced; 0] a(y)
    across: np.ndarray  # (…, C) length ρ ≥ 0 of z's part orthogonal to u (direction lazy)


def frame_memory(reduced: np.ndarray) -> np.ndarray:
    """The memory in frame coordinates: ``reduced`` (…, r, K) with a zero row, (…, r + 1, K)."""
    zero_row = np.zeros_like(reduced[..., :1, :])
    return np.concatenate([reduced, zero_row], axis=-2)


def _lazy_coefficient(beta, alpha):
    """``αβ/4``: the lazy part's share of log r is ``−(αβ/4)(ρ*² − ρ²)``.

    For coordinates w that move as ``w* = (1−α) w + s η`` without touching the memory,
    ``−β ½(‖w*‖² − ‖w‖²) − (β/4α)[‖w − (1−α)w*‖² − ‖w* − (1−α)w‖²]`` reduces to this: the
    cross terms ``⟨w, w*⟩`` cancel and ``1 − (1−α)² = 2α − α²``.
    """
    return 0.25 * alpha * beta


def mala_span_init(
    memory_in_frame: np.ndarray,
    frame: np.ndarray,
    beta: float | np.ndarray,
    alpha: float,
    across: np.ndarray | None = None,
) -> SpanMalaState:
    """State for :func:`mala_span_step` from ``frame`` (…, r + 1, C) and ``across`` (…, C).

    memory_in_frame: (…, r + 1, K), from :func:`frame_memory`; ``across`` defaults to 0.
    """
    beta = np.asarray(beta)
    cached = mala_init(memory_in_frame, frame, beta, alpha)
    across = np.zeros_like(cached.energy) if across is None else np.asarray(across)
    log_weight = -beta * cached.energy - _lazy_coefficient(beta, alpha) * across**2
    return SpanMalaState(cached.states, log_weight, cached.drift, across)


def span_state_energy(state: SpanMalaState, beta: float | np.ndarray, alpha: float) -> np.ndarray:
    """The energy E(ξ) (…, C) of the states a :class:`SpanMalaState` stands for."""
    lazy_sq = state.across**2
    return -(state.log_weight + _lazy_coefficient(beta, alpha) * lazy_sq) / beta + 0.5 * lazy_sq


class _FrameMoves(NamedTuple):
    """One step's draws for :func:`_mala_span_update`, already scaled by ``s = sqrt(2α/β)``."""

    frame: np.ndarray  # (…, r + 1, C) s·[ε_y; e]
    forward: np.ndarray  # (…, C) ½‖[ε_y; e]‖², the forward proposal term (β/4α)‖f* − μ(f)‖²
    across: np.ndarray  # (…, C) s·g
    rest_sq: np.ndarray  # (…, C) s²·χ²(m − 2)


def _frame_moves(noise, across_noise, chi_square, scale) -> _FrameMoves:
    """Scale standard draws (any leading axes, e.g. a block of steps) into :class:`_FrameMoves`."""
    return _FrameMoves(
        scale[..., None, :] * noise, 0.5 * _sq(noise), scale * across_noise, scale**2 * chi_square
    )


class _Coefficients(NamedTuple):
    """Per-run constants of :func:`_mala_span_update`: floats, or (C,) arrays."""

    decay: float  # 1 − α
    beta: np.ndarray  # β
    half_beta: np.ndarray  # β / 2
    backward: np.ndarray  # β / 4α
    lazy: np.ndarray  # αβ / 4


def _coefficients(beta: np.ndarray, alpha: float) -> _Coefficients:
    lazy = _lazy_coefficient(beta, alpha)
    return _Coefficients(1.0 - alpha, beta, 0.5 * beta, beta / (4.0 * alpha), lazy)


def mala_span_step(
    memory_in_frame: np.ndarray,
    state: SpanMalaState,
    noise: np.ndarray,
    across_noise: np.ndarray,
    chi_square: np.ndarray,
    log_uniform: np.ndarray,
    beta: float | np.ndarray,
    alpha: float,
) -> tuple[SpanMalaState, StepInfo]:
    """One exact MALA step at the span's cost (module docstring, "Exact MALA").

    memory_in_frame: (…, r + 1, K) (:func:`frame_memory`); noise: (…, r + 1, C) ~ N(0, I),
    its last row the orthogonal noise along u; across_noise: (…, C) ~ N(0, 1), along z's lazy
    direction v; chi_square: (…, C) ~ χ²(m − 2), the squared length of the rest (m = d − r;
    pass zeros for what does not exist when m ≤ 2); log_uniform: (…, C) with log u < 0.
    """
    beta = np.broadcast_to(np.asarray(beta, dtype=state.drift.dtype), state.drift.shape[-1:])
    moves = _frame_moves(noise, across_noise, chi_square, np.sqrt(2.0 * alpha / beta))
    scaled_memory = alpha * memory_in_frame
    return _mala_span_update(
        scaled_memory, _t(memory_in_frame), state, moves, log_uniform, _coefficients(beta, alpha)
    )


def _mala_span_update(
    scaled_memory: np.ndarray,
    memory_t: np.ndarray,
    state: SpanMalaState,
    moves: _FrameMoves,
    log_uniform: np.ndarray,
    c: _Coefficients,
) -> tuple[SpanMalaState, StepInfo]:
    """:func:`mala_span_step` on pre-scaled draws (the engine scales a block of them at once).

    scaled_memory: α·memory (…, r + 1, K) in frame coordinates; memory_t: the memory
    transposed (…, K, r + 1). ``log r = Δ log_weight − (β/4α)‖f − μ(f*)‖² + ½‖ε_f‖²`` (the
    forward term ``(β/4α) s²‖ε_f‖²`` with ``s² = 2α/β``). When every chain accepts (most
    steps at α 0.01) the proposal is taken whole, without the per-chain selection.
    """
    proposal = state.drift + moves.frame
    weights, lse = en.attention_parts(memory_t @ proposal, c.beta, overwrite=True)
    drift = scaled_memory @ weights
    drift += c.decay * proposal
    across_sq = c.decay * state.across + moves.across
    across_sq *= across_sq
    across_sq += moves.rest_sq
    log_weight = lse - c.half_beta * _sq(proposal) - c.lazy * across_sq
    log_ratio = log_weight - state.log_weight - c.backward * _sq(state.frame - drift)
    log_ratio += moves.forward
    accepted = _accept(log_uniform, log_ratio)
    across = np.sqrt(across_sq)
    if np.count_nonzero(accepted) == accepted.size:
        return SpanMalaState(proposal, log_weight, drift, across), StepInfo(accepted, log_ratio)
    keep = accepted[..., None, :]
    new_state = SpanMalaState(
        np.where(keep, proposal, state.frame),
        np.where(accepted, log_weight, state.log_weight),
        np.where(keep, drift, state.drift),
        np.where(accepted, across, state.across),
    )
    return new_state, StepInfo(accepted, log_ratio)


# ------------------------------------------------------------------------------- driver


@dataclass(frozen=True)
class ChainRun:
    """States recorded during a run of C chains (of B memories when batched)."""

    records: np.ndarray  # (R, d, C), or (R, B, d, C): the states after each recorded step
    record_steps: np.ndarray  # (R,)
    acceptance: np.ndarray | None  # (C,) or (B, C) MALA acceptance over all steps; None for SA
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


def _check_finite(
    values: np.ndarray, step: int, alpha: float, beta: np.ndarray, *, matrix: bool
) -> None:
    """Raise when a chain of ``values`` — states (…, d, C) or scalars (…, C) — is not finite."""
    if np.isfinite(values.sum()):
        return
    per_chain = values.sum(axis=-2) if matrix else values
    if not np.all(np.isfinite(per_chain)):
        _raise_diverged(per_chain, step, alpha, beta)


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
    memory: np.ndarray,
    initial_states: np.ndarray,
    *,
    kernel: Kernel,
    beta: float | np.ndarray,
    alpha: float,
    rng: np.random.Generator,
    record_steps: Sequence[int],
    reduce: bool = True,
    dtype: DTypeLike = np.float64,
) -> ChainRun:
    """Advance C chains together and record their states after the given steps.

    memory: (d, K), or (B, d, K) for B memories at once; initial_states: (d, C), or
    (B, d, C) (chain c of memory b sees only memory b; β is shared by position c).
    record_steps: increasing step numbers (a record at step t is the state after t updates).
    ``reduce`` runs the exact span reductions of the module docstring (SA and MALA);
    ``reduce=False`` the literal full-dimensional updates. ``dtype`` float32 halves memory
    and noise traffic at float32 rounding (float64 by default).
    """
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; choose one of {KERNELS}")
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    memory = np.asarray(memory, dtype=dtype)
    states = np.array(initial_states, dtype=dtype)
    _check_inputs(memory, states)
    alpha = _check_alpha(alpha)
    beta = _beta_vector(beta, states.shape[-1])
    steps = _check_record_steps(record_steps)
    start = time.perf_counter()
    engine = _Engine(memory, states, beta, alpha, rng, steps, dtype)
    basis = reduced = None
    if reduce:
        basis, reduced = en.span_basis(memory)
        if basis.shape[-1] == memory.shape[-2]:
            basis = reduced = None
    acceptance = None
    if kernel == "sa":
        records = engine.sa(basis, reduced)
    elif basis is None:
        records, acceptance = engine.mala()
    else:
        records, acceptance = engine.mala_span(basis, reduced)
    return ChainRun(records, steps, acceptance, time.perf_counter() - start)


class _Engine:
    """The loops shared by every kernel: noise blocks, records, divergence checks, progress.

    Arrays carry an optional leading batch axis (B memories); ``beta`` (C,) broadcasts over it.
    """

    def __init__(self, memory, states, beta, alpha, rng, steps, dtype) -> None:
        self.memory, self.states, self.alpha, self.rng = memory, states, alpha, rng
        self.beta, self.beta_typed = beta, beta.astype(dtype)
        self.scale = np.sqrt(2.0 * alpha / self.beta_typed)  # (C,)
        self.steps, self.dtype = steps, dtype
        self.records = np.empty((steps.size, *states.shape), dtype=dtype)

    def _normal(self, *shape: int) -> np.ndarray:
        return self.rng.standard_normal(shape, dtype=self.dtype)

    def _loop(self, label: str):
        """Yield (step, offset in the noise block, record index or None) for steps 1…T."""
        progress = _Progress(int(self.steps[-1]), label)
        next_record = 0
        for step in range(1, int(self.steps[-1]) + 1):
            due = step == self.steps[next_record]
            yield step, (step - 1) % _BLOCK, next_record if due else None
            next_record += due
            progress.update(step)

    def sa(self, basis, reduced) -> np.ndarray:
        """ULA, literal (basis None) or span-reduced: y exactly, z as AR(1) between records."""
        alpha, beta, scale = self.alpha, self.beta_typed, self.scale
        if basis is None:
            values, span = self.memory, self.states.copy()
        else:
            values, span = reduced, _t(basis) @ self.states  # (…, r, K), (…, r, C)
            orthogonal = self.states - basis @ span
        decay = 1.0 - alpha
        noise = np.empty((_BLOCK, *span.shape), dtype=self.dtype)
        last_record = 0
        for step, offset, record in self._loop("SA"):
            if offset == 0:
                self.rng.standard_normal(out=noise, dtype=self.dtype)
                noise *= scale
            _ula_update(values, span, noise[offset], beta, alpha)
            _check_finite(span, step, alpha, self.beta, matrix=True)
            if record is None:
                continue
            if basis is None:
                self.records[record] = span
                continue
            n = step - last_record
            # n AR(1) steps at once: z ← (1−α)ⁿ z + scale·sqrt(Σ_{j<n} (1−α)^{2j}) P⊥ε
            spread = float(np.sqrt((1.0 - decay ** (2 * n)) / (1.0 - decay**2)))
            fresh = self._normal(*self.states.shape)
            fresh -= basis @ (_t(basis) @ fresh)
            orthogonal = decay**n * orthogonal + (scale * spread) * fresh
            self.records[record] = basis @ span + orthogonal
            _check_finite(self.records[record], step, alpha, self.beta, matrix=True)
            last_record = step
        return self.records

    def mala(self) -> tuple[np.ndarray, np.ndarray]:
        """Literal full-dimensional MALA (the reference for :meth:`mala_span`)."""
        alpha, beta = self.alpha, self.beta_typed
        state = mala_init(self.memory, self.states, beta, alpha)
        accepted = np.zeros(self.states.shape[:-2] + self.states.shape[-1:], dtype=np.int64)
        noise = log_uniform = np.empty(0)
        for step, offset, record in self._loop("MALA"):
            if offset == 0:
                noise = self._normal(_BLOCK, *self.states.shape)
                log_uniform = _log_uniform(self.rng, (_BLOCK, *accepted.shape), self.dtype)
            state, info = mala_step(
                self.memory, state, noise[offset], log_uniform[offset], beta, alpha
            )
            accepted += info.accepted
            _check_finite(state.energy, step, alpha, self.beta, matrix=False)
            if record is not None:
                self.records[record] = state.states
        return self.records, accepted / float(self.steps[-1])

    def mala_span(self, basis, reduced) -> tuple[np.ndarray, np.ndarray]:
        """Exact MALA in the frame [span, u] with z's remainder through ρ (module docstring)."""
        alpha, beta = self.alpha, self.beta_typed
        m = self.states.shape[-2] - basis.shape[-1]  # dimension of the complement (≥ 1)
        memory = frame_memory(reduced)
        scaled_memory, memory_t = alpha * memory, np.ascontiguousarray(_t(memory))
        coefficients = _coefficients(beta, alpha)
        span = _t(basis) @ self.states
        orthogonal = self.states - basis @ span
        state, direction = self._frame_state(memory, basis, span, orthogonal)
        accepted = np.zeros(state.across.shape, dtype=np.int64)
        moves, log_uniforms = _FrameMoves(*(np.empty(0),) * 4), np.empty(0)
        for step, offset, record in self._loop("MALA"):
            if offset == 0:
                *draws, log_uniforms = self._mala_span_block(state.frame.shape, m)
                moves = _frame_moves(*draws, self.scale)
            state, info = _mala_span_update(
                scaled_memory,
                memory_t,
                state,
                _FrameMoves(*(block[offset] for block in moves)),
                log_uniforms[offset],
                coefficients,
            )
            accepted += info.accepted
            _check_finite(state.log_weight, step, alpha, self.beta, matrix=False)
            if record is not None:
                span = state.frame[..., :-1, :]
                along = state.frame[..., -1, :]
                orthogonal = self._materialise(basis, direction, along, state.across)
                self.records[record] = basis @ span + orthogonal
                _check_finite(self.records[record], step, alpha, self.beta, matrix=True)
                state, direction = self._frame_state(memory, basis, span, orthogonal)
        return self.records, accepted / float(self.steps[-1])

    def _frame_state(self, memory, basis, span, orthogonal) -> tuple[SpanMalaState, np.ndarray]:
        """State with u = z/‖z‖ (along = ‖z‖, across = 0) and the direction u (…, d, C)."""
        length = np.sqrt(_sq(orthogonal))
        direction = self._directions(basis, orthogonal, length)
        frame = np.concatenate([span, length[..., None, :]], axis=-2)
        return mala_span_init(memory, frame, self.beta_typed, self.alpha), direction

    def _mala_span_block(self, frame_shape, m: int) -> tuple[np.ndarray, ...]:
        """Draws for _BLOCK steps: frame noise [ε_y; e], across normals g, χ²(m − 2), log u."""
        noise = self._normal(_BLOCK, *frame_shape)
        chains = (*frame_shape[:-2], frame_shape[-1])
        across_noise = self._normal(_BLOCK, *chains)
        if m < 2:  # no room for v: ρ stays 0
            across_noise[...] = 0.0
        dof = _chi_square_dof(m)
        if dof >= 1:
            chi_square = self.rng.chisquare(dof, (_BLOCK, *chains)).astype(self.dtype)
        else:
            chi_square = np.zeros((_BLOCK, *chains), dtype=self.dtype)
        log_uniform = _log_uniform(self.rng, (_BLOCK, *chains), self.dtype)
        return noise, across_noise, chi_square, log_uniform

    def _uniform_directions(self, basis, exclude=None) -> np.ndarray:
        """Unit columns (…, d, C), uniform on the sphere orthogonal to the span (and exclude)."""
        fresh = self._normal(*self.states.shape)
        fresh -= basis @ (_t(basis) @ fresh)
        if exclude is not None:
            fresh -= exclude * np.einsum("...dc,...dc->...c", exclude, fresh)[..., None, :]
        return fresh / np.sqrt(_sq(fresh))[..., None, :]

    def _directions(self, basis, orthogonal, length) -> np.ndarray:
        """u = z / ‖z‖ per chain, or a uniform direction where z is exactly 0."""
        zero = length == 0
        if not np.any(zero):
            return orthogonal / length[..., None, :]
        fallback = self._uniform_directions(basis)
        safe = np.where(zero, 1, length)[..., None, :]
        return np.where(zero[..., None, :], fallback, orthogonal / safe)

    def _materialise(self, basis, direction, along, across) -> np.ndarray:
        """z = along·u + across·v with v uniform on the sphere orthogonal to the span and u."""
        if direction.shape[-2] - basis.shape[-1] < 2:  # no room for v: across stays 0
            orthogonal = direction * along[..., None, :]
        else:
            lazy = self._uniform_directions(basis, exclude=direction)
            orthogonal = direction * along[..., None, :] + lazy * across[..., None, :]
        orthogonal -= basis @ (_t(basis) @ orthogonal)  # no drift into the span by rounding
        return orthogonal


def _log_uniform(rng: np.random.Generator, shape: tuple[int, ...], dtype) -> np.ndarray:
    """log u for u ~ U[0, 1); u = 0 (possible in float32) gives −inf, an acceptance."""
    with np.errstate(divide="ignore"):
        return np.log(rng.random(shape, dtype))


def _chi_square_dof(m: int) -> int:
    """Degrees of freedom of the orthogonal noise beyond u and v: m − 2 (module docstring)."""
    return m - 2


# ------------------------------------------------------------------------------ protocols


@dataclass(frozen=True)
class SampleSet:
    """Samples of one job with where they came from."""

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
    n_chains: int = 30,
    n_steps: int = 5000,
    burn_in: int = 2000,
    thin: int = 100,
    keep: int = 5,
    init_noise: float = 0.01,
    reduce: bool = True,
    start: tuple[np.ndarray, np.ndarray] | None = None,
    dtype: DTypeLike = np.float64,
    runner: Callable[..., ChainRun] | None = None,
) -> SampleSet:
    """SPEC §2 multi-chain protocol: C chains from distinct stored patterns + noise.

    The start comes from :func:`draw_starts` on ``rng`` unless ``start`` (its result, drawn
    once and shared between samplers) is given. Snapshots every ``thin`` steps after
    ``burn_in``; ``keep`` evenly spaced ones per chain are returned, ordered chain by chain:
    samples (d, C·keep). ``runner`` replaces :func:`run_chains` (same arguments but
    ``reduce`` and ``dtype``) for chains run another way: in PCA space
    (``transforms.projected_chains``) or as several heads (``multihead.multihead_run``).
    """
    if start is None:
        starts, initial = draw_starts(memory, n_chains, init_noise, rng)
    else:
        starts, initial = _given_start(start, memory, n_chains)
    record_steps = snapshot_steps(n_steps, burn_in, thin)
    positions = evenly_spaced_positions(record_steps.size, keep)
    common = {"kernel": kernel, "beta": beta, "alpha": alpha, "rng": rng}
    if runner is None:
        run = run_chains(
            memory, initial, record_steps=record_steps, reduce=reduce, dtype=dtype, **common
        )
    else:
        run = runner(memory, initial, record_steps=record_steps, **common)
    return SampleSet(
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
    n_steps: int = 50_000,
    burn_in: int = 10_000,
    thin: int = 100,
    start_pattern: int = 0,
    init_noise: float = 0.01,
    reduce: bool = True,
    start: tuple[np.ndarray, np.ndarray] | None = None,
    dtype: DTypeLike = np.float64,
) -> SampleSet:
    """SPEC §2 single-chain protocol: one chain from stored pattern ``start_pattern``.

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
    return SampleSet(
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
) -> SampleSet:
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
    return SampleSet(
        samples=run.records[:, :, 0].T.copy(),
        chain_ids=np.zeros(n_days, dtype=np.int64),
        steps=record_steps,
        start_patterns=np.array([memory.shape[1] - 1 if initial_state is None else -1]),
        acceptance=run.acceptance,
        wall_seconds=run.wall_seconds,
    )
