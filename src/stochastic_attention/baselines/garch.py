"""CCC-GARCH(1,1) baseline of SPEC §4 (finance only).

Fit (:func:`fit_ccc_garch`): per ticker a GARCH(1,1) with constant mean and standardised
Student-t innovations (``arch.arch_model(100·g, mean="Constant", vol="GARCH", p=1, q=1,
dist="t")``, returns scaled by 100 as ``arch`` recommends); the tickers are joined by the
constant conditional correlation R of the standardised residuals (Bollerslev 1990).

Simulation (:func:`simulate`): ``r_t = μ + σ_t z_t``, ``σ²_{t+1} = ω + α (σ_t z_t)² + β σ²_t``
per ticker, each path started at the ticker's sample variance. The innovations ``z_t`` keep
each ticker's fitted t marginal and the correlation R through a Gaussian copula:
``u = L n`` (``L Lᵀ = R``, ``n ~ N(0, I)``), ``z_i = F⁻¹_{ν_i}(Φ(u_i)) · sqrt((ν_i − 2)/ν_i)``
(unit-variance t). The copula correlation of z equals R up to the small distortion of the
marginal transform.

* i.i.d. pool (:func:`sample_pool`): ``n`` independent paths of ``burn_in`` days (default 250;
  with persistence ≈ 0.97 the start is forgotten to 0.05 %), keep each path's last day.
* sequence (:func:`simulate`): one path of K days after the same burn-in, for the ACF
  comparison (volatility clustering).

The method kind ``garch`` (fit on a finance memory, draw the pool and a path) is
:mod:`stochastic_attention.methods.garch`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..errors import MethodError

__all__ = ["CccGarch", "fit_ccc_garch", "sample_pool", "simulate"]

_SCALE = 100.0  # arch fits percent returns


@dataclass(frozen=True)
class CccGarch:
    """Fitted CCC-GARCH(1,1)-t on returns (not percent). Arrays (d,) per ticker; R (d, d)."""

    mu: np.ndarray
    omega: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    nu: np.ndarray
    correlation: np.ndarray
    start_variance: np.ndarray
    train_seconds: float

    @property
    def persistence(self) -> np.ndarray:
        """``α + β`` per ticker (d,)."""
        return self.alpha + self.beta


def fit_ccc_garch(returns: np.ndarray) -> CccGarch:
    """Fit per-ticker GARCH(1,1)-t and the residual correlation to returns (d, K)."""
    from arch import arch_model

    returns = np.asarray(returns, dtype=np.float64)
    if returns.ndim != 2 or returns.shape[1] < 50:
        raise MethodError(f"garch needs returns (d, K) with K ≥ 50 days, got {returns.shape}")
    start = time.perf_counter()
    params, residuals = [], []
    for row, series in enumerate(returns):
        result = arch_model(_SCALE * series, mean="Constant", vol="GARCH", p=1, q=1, dist="t").fit(
            disp="off"
        )
        if result.convergence_flag != 0:
            raise MethodError(
                f"garch: the GARCH(1,1) fit of ticker row {row} did not converge "
                f"(optimizer flag {result.convergence_flag})"
            )
        p = result.params
        params.append((p["mu"], p["omega"], p["alpha[1]"], p["beta[1]"], p["nu"]))
        residuals.append(np.asarray(result.std_resid))
    mu, omega, alpha, beta, nu = (np.array(v, dtype=np.float64) for v in zip(*params, strict=True))
    correlation = np.corrcoef(np.array(residuals))
    return CccGarch(
        mu=mu / _SCALE,
        omega=omega / _SCALE**2,
        alpha=alpha,
        beta=beta,
        nu=nu,
        correlation=correlation,
        start_variance=returns.var(axis=1, ddof=1),
        train_seconds=time.perf_counter() - start,
    )


def _innovations(
    model: CccGarch, cholesky: np.ndarray, n: int, rng: np.random.Generator
) -> np.ndarray:
    """Unit-variance t innovations (d, n) with the Gaussian-copula correlation R."""
    normal = cholesky @ rng.standard_normal((model.mu.size, n))
    nu = model.nu[:, None]
    from scipy import stats  # imported here: scipy.stats is slow to import

    return stats.t.ppf(stats.norm.cdf(normal), nu) * np.sqrt((nu - 2.0) / nu)


def simulate(
    model: CccGarch, n_days: int, n_paths: int, rng: np.random.Generator, *, burn_in: int = 250
) -> np.ndarray:
    """``n_paths`` independent paths of ``n_days`` days after ``burn_in``: (n_paths, d, n_days)."""
    if n_days < 1 or n_paths < 1 or burn_in < 0:
        raise MethodError(
            f"garch: need n_days, n_paths ≥ 1 and burn_in ≥ 0, got {n_days}, {n_paths}, {burn_in}"
        )
    cholesky = np.linalg.cholesky(model.correlation)
    d = model.mu.size
    variance = np.repeat(model.start_variance[:, None], n_paths, axis=1)
    out = np.empty((n_paths, d, n_days))
    omega, alpha, beta = model.omega[:, None], model.alpha[:, None], model.beta[:, None]
    for day in range(burn_in + n_days):
        shock = np.sqrt(variance) * _innovations(model, cholesky, n_paths, rng)
        if day >= burn_in:
            out[:, :, day - burn_in] = (model.mu[:, None] + shock).T
        variance = omega + alpha * shock**2 + beta * variance
    return out


def sample_pool(
    model: CccGarch, n: int, rng: np.random.Generator, *, burn_in: int = 250
) -> np.ndarray:
    """``n`` i.i.d. draws (d, n): the last day of ``n`` independent paths of ``burn_in`` days."""
    return simulate(model, 1, n, rng, burn_in=max(burn_in - 1, 0))[:, :, 0].T.copy()
