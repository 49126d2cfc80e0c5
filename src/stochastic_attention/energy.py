"""The modern Hopfield energy and everything derived from it (SPEC §1).

``memory`` has shape ``(d, K)``: one stored pattern per column. ``states`` has shape
``(d, C)``: one state per column, so every function is batched over ``C`` states; a single
state of shape ``(d,)`` is accepted too and gives scalar-shaped results.

All quantities use the stable log-sum-exp: they stay finite for ``beta`` up to 1e5 and for
states far from the memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._array_api import namespace, ops

Array = Any  # an array of any library of the array API standard (NumPy, torch)

__all__ = [
    "CRITERIA",
    "CriticalTemperature",
    "attention",
    "attention_entropy",
    "attention_parts",
    "beta_from_snr",
    "check_beta",
    "concentration",
    "critical_beta",
    "energy",
    "energy_and_retrieval",
    "entropy_slope",
    "gradient",
    "is_convex",
    "lipschitz_constant",
    "logits",
    "retrieval",
    "snr",
    "span_basis",
    "spectral_norm",
]


def check_beta(beta: float) -> float:
    """Return ``beta`` as a float, or raise ``ValueError`` unless it is finite and > 0."""
    beta = float(beta)
    if not np.isfinite(beta) or beta <= 0:
        raise ValueError(f"beta (inverse temperature) must be a finite number > 0, got {beta}")
    return beta


def _as_matrix(states: np.ndarray) -> tuple[np.ndarray, bool]:
    states = np.asarray(states)
    if states.ndim == 1:
        return states[:, None], True
    if states.ndim != 2:
        raise ValueError(f"states must have shape (d,) or (d, C), got {states.shape}")
    return states, False


def _check_shapes(memory: np.ndarray, states: np.ndarray) -> None:
    if memory.ndim != 2:
        raise ValueError(f"memory must have shape (d, K), got {memory.shape}")
    if states.shape[0] != memory.shape[0]:
        raise ValueError(
            f"states have dimension {states.shape[0]} but the memory patterns have "
            f"dimension {memory.shape[0]}"
        )


def _squeeze(value: np.ndarray, single: bool) -> np.ndarray:
    return value[..., 0] if single else value


def logits(memory: np.ndarray, states: np.ndarray) -> np.ndarray:
    """Similarities ``e = memoryᵀ states``: (K, C), or (K,) for one state."""
    states, single = _as_matrix(states)
    _check_shapes(memory, states)
    return _squeeze(memory.T @ states, single)


# Shifted logits below this are raised to it before exp. NumPy's exp leaves its vector path
# for arguments whose result underflows (float64: below about −708), which made the softmax
# at generation β (most logits far below the top one) 18× slower than needed. exp(−600) is
# 2.6e−261: added to a sum ≥ 1 and to retrievals of size ~1e−3 it vanishes in rounding, and
# in float32 it is 0 as before, so weights, log-sum-exp and samples do not change.
_EXP_FLOOR = -600.0


def attention_parts(
    similarities: Array,
    beta: float | Array,
    *,
    overwrite: bool = False,
    axis: int = -2,
    xp: Any = None,
) -> tuple[Array, Array]:
    """Softmax weights and ``logsumexp(β e)`` in one stable pass: the library's only softmax.

    similarities: (…, K, C), the logits ``e`` (any leading batch axes); beta: a scalar or one
    value per chain (C,). Returns weights (…, K, C) summing to 1 over K and the log-sum-exp
    (…, C). With ``overwrite`` the weights are written into ``similarities`` (no copy).
    ``axis`` is the K axis (``-1`` for logits laid out (…, C, K), with β shaped (…, C, 1)).
    Any array library of the array API standard (NumPy, torch on any device): ``xp`` is its
    namespace, looked up from ``similarities`` when not given.
    """
    xp = namespace(similarities) if xp is None else xp
    operations = ops(xp)
    if overwrite:
        similarities *= beta
        scaled = similarities
    else:
        scaled = similarities * beta
    top = xp.max(scaled, axis=axis, keepdims=True)
    scaled -= top
    scaled = operations.floor_(scaled, _EXP_FLOOR)  # same values, up to 18x faster exp (above)
    scaled = operations.exp_(scaled)
    total = xp.sum(scaled, axis=axis, keepdims=True)
    scaled /= total
    return scaled, xp.squeeze(top + xp.log(total), axis=axis)


def span_basis(memory: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal basis of the memory's column span and the memory in that basis.

    memory: (…, d, K) (any leading batch axes). Returns ``basis`` (…, d, r) with orthonormal
    columns and ``reduced = basisᵀ memory`` (…, r, K), so ``memory = basis @ reduced``. The
    rank r counts singular values above ``σ_max · max(d, K) · eps``; with a batch, r is the
    largest rank in it (a basis that spans more than a memory's span is still exact for it).
    """
    memory = np.asarray(memory)
    left, singular, _ = np.linalg.svd(memory, full_matrices=False)
    tolerance = singular[..., :1] * max(memory.shape[-2:]) * np.finfo(memory.dtype).eps
    rank = max(int(np.max(np.sum(singular > tolerance, axis=-1), initial=0)), 1)
    # column-major per matrix, as the earlier boolean-mask copy was: same bits downstream
    basis = np.swapaxes(np.ascontiguousarray(np.swapaxes(left[..., :rank], -1, -2)), -1, -2)
    return basis, np.swapaxes(basis, -1, -2) @ memory


def attention(memory: np.ndarray, states: np.ndarray, beta: float) -> np.ndarray:
    """Attention ``softmax(beta memoryᵀ ξ)`` over the K patterns: (K, C)."""
    beta = check_beta(beta)
    states, single = _as_matrix(states)
    _check_shapes(memory, states)
    weights, _ = attention_parts(memory.T @ states, beta)
    return _squeeze(weights, single)


def retrieval(memory: np.ndarray, states: np.ndarray, beta: float) -> np.ndarray:
    """Retrieval map ``T(ξ) = memory · attention(ξ)``: one attention head, (d, C)."""
    return memory @ attention(memory, states, beta)


def energy_and_retrieval(
    memory: np.ndarray, states: np.ndarray, beta: float
) -> tuple[np.ndarray, np.ndarray]:
    """Energy (C,) and retrieval map (d, C) from one evaluation of the logits."""
    beta = check_beta(beta)
    states, single = _as_matrix(states)
    _check_shapes(memory, states)
    weights, lse = attention_parts(memory.T @ states, beta)
    values = 0.5 * np.einsum("dc,dc->c", states, states) - lse / beta
    return _squeeze(values, single), _squeeze(memory @ weights, single)


def energy(memory: np.ndarray, states: np.ndarray, beta: float) -> np.ndarray:
    """``E(ξ) = ½‖ξ‖² − β⁻¹ logsumexp(β memoryᵀ ξ)``: (C,), or a scalar for one state."""
    return energy_and_retrieval(memory, states, beta)[0]


def gradient(memory: np.ndarray, states: np.ndarray, beta: float) -> np.ndarray:
    """``∇E(ξ) = ξ − T(ξ)``: (d, C)."""
    return np.asarray(states) - retrieval(memory, states, beta)


def _entropy_and_variance(
    memory: np.ndarray, states: np.ndarray, beta: float
) -> tuple[np.ndarray, np.ndarray]:
    return _entropy_and_variance_of(memory.T @ states, beta)


def _entropy_and_variance_of(
    similarities: np.ndarray, beta: float
) -> tuple[np.ndarray, np.ndarray]:
    """Attention entropy (C,) and ``Var_a(e)`` (C,) from the logits ``e`` (K, C)."""
    weights, lse = attention_parts(similarities, beta)
    mean = np.einsum("kc,kc->c", weights, similarities)
    # H = −Σ a log a with log a = β e − lse, so H = lse − β Σ a e (no log of tiny weights).
    entropy = np.maximum(lse - beta * mean, 0.0)
    variance = np.einsum("kc,kc->c", weights, (similarities - mean) ** 2)
    return entropy, variance


def attention_entropy(memory: np.ndarray, states: np.ndarray, beta: float) -> np.ndarray:
    """Entropy ``H = −Σ a_k log a_k`` of the attention, in nats: (C,)."""
    beta = check_beta(beta)
    states, single = _as_matrix(states)
    _check_shapes(memory, states)
    return _squeeze(_entropy_and_variance(memory, states, beta)[0], single)


def concentration(memory: np.ndarray, states: np.ndarray, beta: float) -> np.ndarray:
    """Concentration ``C = 1 − H / log K``: 0 for uniform attention, 1 for one pattern."""
    n_patterns = memory.shape[1]
    if n_patterns < 2:
        raise ValueError("concentration needs at least two stored patterns")
    return 1.0 - attention_entropy(memory, states, beta) / np.log(n_patterns)


def entropy_slope(memory: np.ndarray, states: np.ndarray, beta: float) -> np.ndarray:
    """Exact ``dH/dβ = −β Var_a(e)`` per state: (C,)."""
    beta = check_beta(beta)
    states, single = _as_matrix(states)
    _check_shapes(memory, states)
    variance = _entropy_and_variance(memory, states, beta)[1]
    return _squeeze(-beta * variance, single)


def snr(alpha: float, beta: float, d: int) -> float:
    """Signal-to-noise ratio of one Langevin step: ``sqrt(α β / (2 d))``."""
    return float(np.sqrt(alpha * check_beta(beta) / (2.0 * d)))


def beta_from_snr(snr_value: float, alpha: float, d: int) -> float:
    """Inverse of :func:`snr`: ``β = 2 d SNR² / α``."""
    if snr_value <= 0 or alpha <= 0:
        raise ValueError("snr and alpha must be > 0")
    return float(2.0 * d * snr_value**2 / alpha)


def spectral_norm(memory: np.ndarray) -> float:
    """``σ_max = ‖memory‖_op``, the largest singular value."""
    return float(np.linalg.norm(memory, ord=2))


def lipschitz_constant(memory: np.ndarray, beta: float) -> float:
    """Lipschitz bound of the gradient, ``L = 1 + β σ_max² / 2``."""
    return 1.0 + check_beta(beta) * spectral_norm(memory) ** 2 / 2.0


def is_convex(memory: np.ndarray, beta: float) -> bool:
    """Whether E is convex: ``β σ_max² < 2``."""
    return bool(check_beta(beta) * spectral_norm(memory) ** 2 < 2.0)


@dataclass(frozen=True)
class CriticalTemperature:
    """β* by the steepest-entropy-loss criterion and by the log-β knee, with the curves."""

    beta_star: float
    """Maximiser of the mean ``β·Var_a(e)`` over probes (steepest entropy loss)."""
    beta_knee: float
    """Most negative second difference of mean H against log β."""
    sqrt_d: float
    """Random-pattern prediction ``sqrt(d)``."""
    betas: np.ndarray
    """The log-spaced grid, (G,)."""
    mean_entropy: np.ndarray
    """Mean attention entropy over probes on the grid, (G,)."""
    mean_slope_magnitude: np.ndarray
    """Mean ``β·Var_a(e)`` (= −dH/dβ) over probes on the grid, (G,)."""

    def snr_star(self, alpha: float, d: int) -> float:
        """The SNR at β* for step size ``alpha``."""
        return snr(alpha, self.beta_star, d)

    def by_criterion(self, criterion: str = "inflection") -> float:
        """β* by ``criterion``: ``inflection`` (:attr:`beta_star`) or ``knee``."""
        if criterion not in CRITERIA:
            raise ValueError(f"unknown β* criterion {criterion!r}; use one of {CRITERIA}")
        return self.beta_star if criterion == "inflection" else self.beta_knee


CRITERIA = ("inflection", "knee")
"""β* criteria: the steepest entropy loss (d²H/dβ² = 0, the paper's stated condition) and the
knee of mean H against log β (the reference code's); the config's ``beta_criterion`` picks
one (default inflection, in the schema)."""


def _mean_slope_magnitude(similarities: np.ndarray, beta: float) -> float:
    return float(np.mean(beta * _entropy_and_variance_of(similarities, beta)[1]))


def critical_beta(
    memory: np.ndarray,
    probes: np.ndarray | None = None,
    *,
    beta_min: float = 1e-2,
    beta_max: float = 1e5,
    n_grid: int = 141,
) -> CriticalTemperature:
    """Critical inverse temperature β* of a memory (SPEC §1).

    ``probes`` (d, P) default to every stored pattern. The mean of ``β·Var_a(e)`` over the
    probes is evaluated on a log-spaced grid; β* is its maximiser, refined between the grid
    neighbours by a bounded scalar search in log β. The knee criterion takes the most
    negative second difference of the mean entropy against log β (grid resolution, refined
    by a parabola through the three neighbouring second differences).
    """
    from scipy.optimize import minimize_scalar  # imported here: scipy is slow to import

    probes = memory if probes is None else np.asarray(probes, dtype=memory.dtype)
    probes, _ = _as_matrix(probes)
    _check_shapes(memory, probes)
    if not 0 < beta_min < beta_max:
        raise ValueError(f"need 0 < beta_min < beta_max, got {beta_min}, {beta_max}")
    if n_grid < 5:
        raise ValueError("n_grid must be at least 5")
    betas = np.logspace(np.log10(beta_min), np.log10(beta_max), n_grid)
    similarities = memory.T @ probes  # (K, P): the logits do not depend on β
    entropies = np.empty(n_grid)
    slopes = np.empty(n_grid)
    for i, beta in enumerate(betas):
        entropy, variance = _entropy_and_variance_of(similarities, beta)
        entropies[i] = entropy.mean()
        slopes[i] = np.mean(beta * variance)

    best = int(np.argmax(slopes))
    lo, hi = np.log(betas[max(best - 1, 0)]), np.log(betas[min(best + 1, n_grid - 1)])
    refined = minimize_scalar(
        lambda log_beta: -_mean_slope_magnitude(similarities, float(np.exp(log_beta))),
        bounds=(lo, hi),
        method="bounded",
        options={"xatol": 1e-6},
    )
    beta_star = float(np.exp(refined.x))

    log_betas = np.log(betas)
    second = np.diff(entropies, 2)
    knee = int(np.argmin(second)) + 1
    beta_knee = float(betas[knee])
    if 1 < knee < n_grid - 2:
        y0, y1, y2 = second[knee - 2], second[knee - 1], second[knee]
        curvature = y0 - 2 * y1 + y2
        if curvature > 0:
            shift = 0.5 * (y0 - y2) / curvature
            step = log_betas[1] - log_betas[0]
            beta_knee = float(np.exp(log_betas[knee] + np.clip(shift, -1, 1) * step))

    return CriticalTemperature(
        beta_star=beta_star,
        beta_knee=beta_knee,
        sqrt_d=float(np.sqrt(memory.shape[0])),
        betas=betas,
        mean_entropy=entropies,
        mean_slope_magnitude=slopes,
    )
