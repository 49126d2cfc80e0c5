"""Training-free baselines of SPEC §4: resampling, perturbation, mixing, matched noise.

Each function returns ``n`` samples as columns, shape ``(d, n)``; randomness comes only from
the ``rng`` passed in.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "bootstrap",
    "convex_combination",
    "gaussian_perturbation",
    "isotropic_gaussian",
    "matched_gaussian",
]


def bootstrap(memory: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Stored patterns drawn uniformly with replacement: (d, n)."""
    return memory[:, rng.integers(memory.shape[1], size=n)]


def gaussian_perturbation(
    memory: np.ndarray, n: int, rng: np.random.Generator, *, alpha: float, beta: float
) -> np.ndarray:
    """A stored pattern plus ``N(0, σ² I)`` with ``σ = sqrt(2α/β)`` (one SA step's noise)."""
    if not (0 < alpha < 1 and beta > 0):
        raise ValueError(f"gaussian baseline needs 0 < alpha < 1 and beta > 0, got {alpha}, {beta}")
    sigma = np.sqrt(2.0 * alpha / beta)
    return bootstrap(memory, n, rng) + sigma * rng.standard_normal((memory.shape[0], n))


def convex_combination(memory: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``memory · w`` with ``w ~ Dirichlet(1, …, 1)``: uniform over the convex hull's simplex."""
    weights = rng.dirichlet(np.ones(memory.shape[1]), size=n)  # (n, K)
    return memory @ weights.T


def matched_gaussian(reference: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Independent coordinates with the per-coordinate mean and variance of ``reference``."""
    mean = reference.mean(axis=1, keepdims=True)
    std = reference.std(axis=1, ddof=1, keepdims=True)
    return mean + std * rng.standard_normal((reference.shape[0], n))


def isotropic_gaussian(reference: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``N(0, I)`` draws, each rescaled to the mean norm of the ``reference`` samples."""
    draws = rng.standard_normal((reference.shape[0], n))
    target = np.mean(np.linalg.norm(reference, axis=0))
    return draws * (target / np.linalg.norm(draws, axis=0))
