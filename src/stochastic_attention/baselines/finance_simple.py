"""Simple finance baselines (SPEC §4, finance): a multivariate Gaussian and the bootstrap of days.

* :func:`mvn_draws`: returns drawn i.i.d. from ``N(m, S)`` with m, S the sample mean and
  covariance (ddof 1) of the days ``M`` (d, K); the method kind ``mvn_gaussian``
  (:mod:`stochastic_attention.methods.mvn_gaussian`) draws its pool (S draws) and its
  sequence path (K draws, i.i.d., so no clustering by construction) with it.
* bootstrap of days: the generic ``bootstrap`` baseline resamples memory columns; its returns
  are the raw days of those columns (:func:`stochastic_attention.domains.finance.decode_nearest`).
  :func:`bootstrap_days` draws the same thing directly and :func:`bootstrap_path` a path of
  K days resampled uniformly with replacement (the i.i.d. sequence reference).

"""

from __future__ import annotations

import numpy as np

from ..domains.base import Memory
from ..errors import MethodError

__all__ = ["bootstrap_days", "bootstrap_path", "finance_returns", "mvn_draws"]


def finance_returns(memory: Memory, what: str) -> np.ndarray:
    """The raw returns (d, K) a finance memory carries; ``what`` names the caller if none."""
    if "returns" not in memory.arrays:
        raise MethodError(f"{what} works on finance memories only (they carry the raw returns)")
    return np.asarray(memory.arrays["returns"], dtype=np.float64)


def mvn_draws(returns: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` draws (d, n) from the Gaussian with the mean and covariance of returns (d, K)."""
    mean = returns.mean(axis=1)
    covariance = np.cov(returns)
    return rng.multivariate_normal(mean, covariance, size=n, method="cholesky").T


def bootstrap_days(
    memory: Memory, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` days drawn uniformly with replacement → (states (d, n), returns (d, n))."""
    days = rng.integers(memory.n_patterns, size=n)
    return memory.patterns[:, days], finance_returns(memory, "the bootstrap of days")[:, days]


def bootstrap_path(memory: Memory, n_days: int, rng: np.random.Generator) -> np.ndarray:
    """A sequence of ``n_days`` days resampled i.i.d. from the history: returns (d, n_days)."""
    return bootstrap_days(memory, n_days, rng)[1]
