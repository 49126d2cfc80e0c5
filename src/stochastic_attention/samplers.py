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
full-dimensional update. MALA cannot split this way (its acceptance ratio couples ``z`` to ``y``
through ``‖z‖²``), but it runs in the rotated coordinates ``Uᵀ ξ`` with ``U = [Q, Q⊥]``: the
same chain in an orthonormal basis, where the logits and retrievals cost r instead of d
rows per step and only the isotropic noise and the norms stay d-dimensional.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np

from .errors import UserError

__all__ = [
    "ChainRun",
    "MalaState",
    "SampleSet",
    "SamplerDivergedError",
    "StepInfo",
    "evenly_spaced_positions",
    "mala_init",
    "mala_step",
    "multi_chain",
    "run_chains",
    "single_chain",
    "snapshot_steps",
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
    if memory.ndim != 2:
        raise ValueError(f"memory must have shape (d, K), got {memory.shape}")
    if states.ndim != 2 or states.shape[0] != memory.shape[0]:
        raise ValueError(
            f"states must have shape (d, C) with d = {memory.shape[0]} (the memory's "
            f"dimension), got {states.shape}"
        )
    if not np.all(np.isfinite(memory)):
        raise ValueError("memory contains non-finite values (NaN or inf)")
    if not np.all(np.isfinite(states)):
        raise ValueError("initial states contain non-finite values (NaN or inf)")


# -------------------------------------------------------------------------------- kernels


def _attention_parts(
    memory: np.ndarray, states: np.ndarray, beta: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Attention weights (K, C) and ``logsumexp(β e)`` (C,)."""
    scaled = memory.T @ states
    scaled *= beta
    top = scaled.max(axis=0)
    scaled -= top
    np.exp(scaled, out=scaled)
    total = scaled.sum(axis=0)
    scaled /= total
    return scaled, top + np.log(total)


def ula_step(
    memory: np.ndarray,
    states: np.ndarray,
    noise: np.ndarray,
    beta: float | np.ndarray,
    alpha: float,
) -> np.ndarray:
    """One SA / ULA step: ``(1−α) ξ + α memory·softmax(β memoryᵀ ξ) + sqrt(2α/β) ε``.

    memory: (d, K); states, noise: (d, C) with ``noise ~ N(0, I)``; returns (d, C).
    """
    beta = np.asarray(beta)
    weights, _ = _attention_parts(memory, states, beta)
    return (1.0 - alpha) * states + alpha * (memory @ weights) + np.sqrt(2.0 * alpha / beta) * noise


def mala_init(
    memory: np.ndarray, states: np.ndarray, beta: float | np.ndarray, alpha: float
) -> MalaState:
    """Cache energy (C,) and drift (d, C) of ``states`` (d, C) for :func:`mala_step`.

    ``memory`` may have fewer rows than ``states`` (r ≤ d): it then acts on the first r
    coordinates only, as a memory whose remaining rows are zero would (the rotated
    coordinates of the module docstring), without multiplying by those zeros.
    """
    beta = np.asarray(beta)
    rank = memory.shape[0]
    weights, lse = _attention_parts(memory, states[:rank], beta)
    energy = 0.5 * np.einsum("dc,dc->c", states, states) - lse / beta
    drift = (1.0 - alpha) * states
    drift[:rank] += alpha * (memory @ weights)
    return MalaState(states, energy, drift)


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
    when ``log u < min(0, log r)``; a NaN ratio is a rejection.
    """
    beta = np.asarray(beta)
    scale = np.sqrt(2.0 * alpha / beta)
    proposal = state.drift + scale * noise
    proposed = mala_init(memory, proposal, beta, alpha)
    backward = state.states - proposed.drift
    forward_sq = scale**2 * np.einsum("dc,dc->c", noise, noise)  # ‖ξ* − μ(ξ)‖²
    log_ratio = -beta * (proposed.energy - state.energy) - beta / (4.0 * alpha) * (
        np.einsum("dc,dc->c", backward, backward) - forward_sq
    )
    with np.errstate(invalid="ignore"):
        accepted = log_uniform < np.minimum(0.0, log_ratio)
    new_state = MalaState(
        np.where(accepted, proposed.states, state.states),
        np.where(accepted, proposed.energy, state.energy),
        np.where(accepted, proposed.drift, state.drift),
    )
    return new_state, StepInfo(accepted, log_ratio)


# ------------------------------------------------------------------------------- driver


@dataclass(frozen=True)
class ChainRun:
    """States recorded during a run of C chains."""

    records: np.ndarray  # (R, d, C): the states after each recorded step
    record_steps: np.ndarray  # (R,)
    acceptance: np.ndarray | None  # (C,) MALA acceptance rate over all steps, None for SA
    wall_seconds: float


def _raise_diverged(values: np.ndarray, step: int, alpha: float, beta: np.ndarray) -> None:
    bad = np.flatnonzero(~np.isfinite(values))
    chain = int(bad[0])
    raise SamplerDivergedError(
        f"chain {chain} became non-finite at step {step} (alpha={alpha}, "
        f"beta={float(beta[chain])}); {bad.size} chain(s) affected. Lower alpha or check "
        "the memory for extreme values."
    )


def _span_basis(memory: np.ndarray) -> np.ndarray:
    """Orthonormal basis ``Q`` (d, r) of the column span of ``memory`` (d, K)."""
    left, singular, _ = np.linalg.svd(memory, full_matrices=False)
    tolerance = singular[0] * max(memory.shape) * np.finfo(memory.dtype).eps
    return left[:, singular > tolerance]


class _Progress:
    """Logs a line at every 10 % of a long run (visible in the job's log)."""

    def __init__(self, n_steps: int, label: str) -> None:
        self.n_steps, self.label, self.next = n_steps, label, 0.1
        self.start = time.perf_counter()

    def update(self, step: int) -> None:
        if self.n_steps >= 10_000 and step / self.n_steps >= self.next:
            elapsed = time.perf_counter() - self.start
            log.info("%s: step %d/%d (%.0f s)", self.label, step, self.n_steps, elapsed)
            self.next += 0.1


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
) -> ChainRun:
    """Advance C chains together and record their states after the given steps.

    memory: (d, K); initial_states: (d, C); record_steps: increasing step numbers (a record
    at step t is the state after t updates). ``reduce`` uses the exact span reduction for SA
    (module docstring); it has no effect on MALA.
    """
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; choose one of {KERNELS}")
    memory = np.asarray(memory, dtype=np.float64)
    states = np.array(initial_states, dtype=np.float64)
    _check_inputs(memory, states)
    alpha = _check_alpha(alpha)
    beta = _beta_vector(beta, states.shape[1])
    steps = _check_record_steps(record_steps)
    start = time.perf_counter()
    if kernel == "sa":
        basis = _span_basis(memory) if reduce else None
        if basis is not None and basis.shape[1] < memory.shape[0]:
            records = _run_ula_reduced(memory, states, basis, beta, alpha, rng, steps)
        else:
            records = _run_ula_full(memory, states, beta, alpha, rng, steps)
        acceptance = None
    else:
        records, acceptance = _run_mala(memory, states, beta, alpha, rng, steps)
    return ChainRun(records, steps, acceptance, time.perf_counter() - start)


def _run_ula_full(memory, states, beta, alpha, rng, steps) -> np.ndarray:
    d, n_chains = states.shape
    records = np.empty((steps.size, d, n_chains))
    progress = _Progress(int(steps[-1]), "SA")
    next_record = 0
    noise = np.empty(0)
    for step in range(1, int(steps[-1]) + 1):
        offset = (step - 1) % _BLOCK
        if offset == 0:
            noise = rng.standard_normal((_BLOCK, d, n_chains))
        states = ula_step(memory, states, noise[offset], beta, alpha)
        column_sums = states.sum(axis=0)
        if not np.all(np.isfinite(column_sums)):
            _raise_diverged(column_sums, step, alpha, beta)
        if step == steps[next_record]:
            records[next_record] = states
            next_record += 1
        progress.update(step)
    return records


def _run_ula_reduced(memory, states, basis, beta, alpha, rng, steps) -> np.ndarray:
    d, n_chains = states.shape
    rank = basis.shape[1]
    reduced_memory = basis.T @ memory  # (r, K): logits are reduced_memoryᵀ y
    span = basis.T @ states  # (r, C)
    orthogonal = states - basis @ span  # (d, C)
    decay = 1.0 - alpha
    scale = np.sqrt(2.0 * alpha / beta)  # (C,)
    records = np.empty((steps.size, d, n_chains))
    progress = _Progress(int(steps[-1]), "SA")
    next_record, last_record = 0, 0
    noise = np.empty(0)
    for step in range(1, int(steps[-1]) + 1):
        offset = (step - 1) % _BLOCK
        if offset == 0:
            noise = rng.standard_normal((_BLOCK, rank, n_chains))
        span = ula_step(reduced_memory, span, noise[offset], beta, alpha)
        column_sums = span.sum(axis=0)
        if not np.all(np.isfinite(column_sums)):
            _raise_diverged(column_sums, step, alpha, beta)
        if step == steps[next_record]:
            n = step - last_record
            # n AR(1) steps at once: z ← (1−α)ⁿ z + scale·sqrt(Σ_{j<n} (1−α)^{2j}) P⊥ε
            spread = np.sqrt((1.0 - decay ** (2 * n)) / (1.0 - decay**2))
            fresh = rng.standard_normal((d, n_chains))
            fresh -= basis @ (basis.T @ fresh)
            orthogonal = decay**n * orthogonal + (scale * spread) * fresh
            records[next_record] = basis @ span + orthogonal
            if not np.all(np.isfinite(records[next_record])):
                _raise_diverged(records[next_record].sum(axis=0), step, alpha, beta)
            next_record, last_record = next_record + 1, step
        progress.update(step)
    return records


def _rotation(memory: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Orthogonal ``U`` (d, d) whose first r columns span the memory, and ``(Uᵀ memory)[:r]``."""
    left, singular, right = np.linalg.svd(memory, full_matrices=True)
    tolerance = singular[0] * max(memory.shape) * np.finfo(memory.dtype).eps
    rank = int(np.sum(singular > tolerance))
    return left, singular[:rank, None] * right[:rank]


def _run_mala(memory, states, beta, alpha, rng, steps) -> tuple[np.ndarray, np.ndarray]:
    """MALA in rotated coordinates ``U = [Q, Q⊥]`` when the memory's rank r is below d.

    An orthogonal change of variables maps isotropic proposals to isotropic proposals, so
    this is the literal full-dimensional MALA (same law, same acceptance ratio); only the
    logits and retrievals shrink from d to r rows. States are rotated back at records.
    """
    d, n_chains = states.shape
    rotation, reduced = _rotation(memory) if memory.shape[1] < d else (None, memory)
    if rotation is not None:
        memory, states = reduced, rotation.T @ states
    records = np.empty((steps.size, d, n_chains))
    accepted = np.zeros(n_chains, dtype=np.int64)
    state = mala_init(memory, states, beta, alpha)
    progress = _Progress(int(steps[-1]), "MALA")
    next_record = 0
    noise = log_uniform = np.empty(0)
    for step in range(1, int(steps[-1]) + 1):
        offset = (step - 1) % _BLOCK
        if offset == 0:
            noise = rng.standard_normal((_BLOCK, d, n_chains))
            log_uniform = np.log(rng.random((_BLOCK, n_chains)))
        state, info = mala_step(memory, state, noise[offset], log_uniform[offset], beta, alpha)
        accepted += info.accepted
        if not np.all(np.isfinite(state.energy)):
            _raise_diverged(state.energy, step, alpha, beta)
        if step == steps[next_record]:
            records[next_record] = state.states if rotation is None else rotation @ state.states
            next_record += 1
        progress.update(step)
    return records, accepted / float(steps[-1])


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
) -> SampleSet:
    """SPEC §2 multi-chain protocol: C chains from distinct stored patterns + noise.

    Starting patterns are drawn without replacement when C ≤ K (with replacement beyond
    that). Snapshots every ``thin`` steps after ``burn_in``; ``keep`` evenly spaced ones per
    chain are returned, ordered chain by chain: samples (d, C·keep).
    """
    n_patterns = memory.shape[1]
    if n_chains < 1:
        raise ValueError(f"n_chains must be ≥ 1, got {n_chains}")
    starts = rng.choice(n_patterns, size=n_chains, replace=n_chains > n_patterns)
    initial = memory[:, starts] + init_noise * rng.standard_normal((memory.shape[0], n_chains))
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
    )
    kept = run.records[positions]  # (keep, d, C)
    samples = kept.transpose(1, 2, 0).reshape(memory.shape[0], n_chains * keep)
    return SampleSet(
        samples=samples,
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
) -> SampleSet:
    """SPEC §2 single-chain protocol: one chain from stored pattern ``start_pattern``."""
    if not 0 <= start_pattern < memory.shape[1]:
        raise ValueError(f"start_pattern {start_pattern} is not a column of the memory")
    initial = memory[:, [start_pattern]] + init_noise * rng.standard_normal((memory.shape[0], 1))
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
    )
    return SampleSet(
        samples=run.records[:, :, 0].T.copy(),
        chain_ids=np.zeros(record_steps.size, dtype=np.int64),
        steps=record_steps,
        start_patterns=np.array([start_pattern]),
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
