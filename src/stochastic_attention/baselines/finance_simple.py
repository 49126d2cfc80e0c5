"""Simple finance baselines (SPEC §4, finance): a multivariate Gaussian and the bootstrap of days.

* ``mvn_gaussian`` (method plug-in, ``KIND``): returns drawn i.i.d. from ``N(m, S)`` with m, S
  the sample mean and covariance (ddof 1) of the days ``M`` (d, K); the pool is S draws, the
  sequence path K draws (i.i.d., so no clustering by construction).
* bootstrap of days: the generic ``bootstrap`` baseline resamples memory columns; its returns
  are the raw days of those columns (:func:`stochastic_attention.domains.finance.decode_nearest`).
  :func:`bootstrap_days` draws the same thing directly and :func:`bootstrap_path` a path of
  K days resampled uniformly with replacement (the i.i.d. sequence reference).

Every returned sample set carries ``arrays["decoded"]`` (the returns) and samples under the
memory recipe (:func:`~stochastic_attention.domains.finance.normalise_returns`).
"""

from __future__ import annotations

import time

import numpy as np

from ..domains.base import Memory
from ..methods.base import MethodError, RunContext, SampleResult

__all__ = [
    "CATEGORY",
    "DOMAINS",
    "KIND",
    "PARAMS_SCHEMA",
    "bootstrap_days",
    "bootstrap_path",
    "mvn_draws",
    "run",
]

KIND = "mvn_gaussian"
CATEGORY = "simple"
DOMAINS = ("finance",)
PARAMS_SCHEMA: dict = {"n_samples": {"type": "integer", "minimum": 2, "default": 900}}


def _returns(memory: Memory) -> np.ndarray:
    if "returns" not in memory.arrays:
        raise MethodError(f"{KIND} works on finance memories only (they carry the raw returns)")
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
    return memory.patterns[:, days], _returns(memory)[:, days]


def bootstrap_path(memory: Memory, n_days: int, rng: np.random.Generator) -> np.ndarray:
    """A sequence of ``n_days`` days resampled i.i.d. from the history: returns (d, n_days)."""
    return bootstrap_days(memory, n_days, rng)[1]


def run(memory: Memory, spec: dict, context: RunContext) -> SampleResult:
    """The ``mvn_gaussian`` pool (S draws) and a path of K i.i.d. draws."""
    from ..domains.finance import normalise_returns
    from ..metrics import consecutive_groups

    returns = _returns(memory)
    n = int(spec.get("n_samples", PARAMS_SCHEMA["n_samples"]["default"]))
    start = time.perf_counter()
    pool = mvn_draws(returns, n, context.rng)
    path = mvn_draws(returns, returns.shape[1], context.rng)
    return SampleResult(
        samples=normalise_returns(pool),
        groups=consecutive_groups(n),
        arrays={"decoded": pool, "path": path},
        scalars={"sampling_seconds": time.perf_counter() - start},
    )
