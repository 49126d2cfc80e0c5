"""Finance metrics of SPEC §3: returns (d, n) = d tickers × n days (or samples).

Pool metrics (generated samples are unordered draws):

* :func:`ks_affine` — per ticker, the generated returns are standardised to the real
  ticker's mean and standard deviation (``g' = (g − mean_g)/sd_g · sd_r + mean_r``, ddof 1),
  then compared with the real returns by a two-sample KS test (``scipy.stats.ks_2samp``,
  two-sided). Pass rate = fraction of tickers with p ≥ 0.05; mean p over tickers. The
  correction makes the test about the *shape* of the distribution: a sampler that emits
  convex mixtures of days shrinks their spread, which the affine map undoes.
* :func:`correlation_frobenius` — ``‖C_gen − C_real‖_F / ‖C_real‖_F`` with C the full d × d
  Pearson correlation matrices across tickers (unit diagonal included).
* :func:`portfolio_kurtosis` — excess kurtosis ``m4/m2² − 3`` (population moments) of the
  equal-weight, daily rebalanced portfolio's log return ``log(mean_i exp(g_i))``;
  :func:`ticker_kurtosis` is the mean of the per-ticker excess kurtoses.
* :func:`tail_survival` — loss tail of the standardised portfolio return z:
  ``P(−z > x)`` for thresholds x (standardised, so scale-free like the KS test);
  :func:`tail_probability` is one point of it.

Sequence metrics (ordered days): :func:`sequence_acf` — per-ticker ACFs of g, g² and |g| at
lags 1…L (``statsmodels.tsa.stattools.acf``), the 99 % white-noise band ``±z₀.₉₉₅/√T``, and
their summaries. The share of ticker × lag values outside the band comes with the binomial
SE ``√(q(1 − q)/n)`` (q = 1 − 0.99, n = tickers × lags) that a white-noise series' share
would have (ticker ACFs of correlated returns are themselves correlated, so this SE is a
lower bound).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = [
    "SAMPLER_SERIES",
    "SUMMARY_KEYS",
    "AcfSummary",
    "KsResult",
    "affine_match",
    "correlation_frobenius",
    "ks_affine",
    "portfolio_kurtosis",
    "portfolio_returns",
    "sequence_acf",
    "standardise",
    "tail_probability",
    "tail_survival",
    "ticker_kurtosis",
    "white_noise_band",
]


def _matrix(values: np.ndarray, what: str, min_cols: int = 2) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] < min_cols:
        raise ValueError(f"{what} must be (d, n) with n ≥ {min_cols}, got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{what} contains non-finite values")
    return values


@dataclass(frozen=True)
class KsResult:
    """Per-ticker KS statistics and p-values (d,), pass rate at ``level`` and mean p."""

    statistics: np.ndarray
    p_values: np.ndarray
    pass_rate: float
    mean_p: float


def affine_match(real: np.ndarray, generated: np.ndarray) -> np.ndarray:
    """Generated returns (d, m) mapped per ticker to the real (d, n) mean and sd (ddof 1).

    A ticker with constant generated returns is set to the real mean.
    """
    real, generated = _matrix(real, "real returns"), _matrix(generated, "generated returns")
    if real.shape[0] != generated.shape[0]:
        raise ValueError(f"real {real.shape} and generated {generated.shape} differ in tickers")
    sd_g = generated.std(axis=1, ddof=1, keepdims=True)
    z = np.divide(
        generated - generated.mean(axis=1, keepdims=True),
        sd_g,
        out=np.zeros_like(generated),
        where=sd_g > 0,
    )
    return z * real.std(axis=1, ddof=1, keepdims=True) + real.mean(axis=1, keepdims=True)


def ks_affine(real: np.ndarray, generated: np.ndarray, level: float = 0.05) -> KsResult:
    """Two-sample KS per ticker after :func:`affine_match`; pass = p ≥ ``level``."""
    matched = affine_match(real, generated)
    tests = [stats.ks_2samp(r, g) for r, g in zip(np.asarray(real, float), matched, strict=True)]
    statistic = np.array([t.statistic for t in tests])
    p_values = np.array([t.pvalue for t in tests])
    return KsResult(
        statistic, p_values, float(np.mean(p_values >= level)), float(np.mean(p_values))
    )


def _correlation(values: np.ndarray, what: str) -> np.ndarray:
    values = _matrix(values, what)
    if np.any(values.std(axis=1) == 0):
        row = int(np.flatnonzero(values.std(axis=1) == 0)[0])
        raise ValueError(f"{what}: ticker row {row} is constant; its correlation is undefined")
    return np.corrcoef(values)


def correlation_frobenius(real: np.ndarray, generated: np.ndarray) -> float:
    """Relative Frobenius error ``‖C_gen − C_real‖_F / ‖C_real‖_F`` of (d, d) correlations."""
    c_real = _correlation(real, "real returns")
    c_gen = _correlation(generated, "generated returns")
    return float(np.linalg.norm(c_gen - c_real) / np.linalg.norm(c_real))


def portfolio_returns(returns: np.ndarray) -> np.ndarray:
    """Log return of the equal-weight, daily rebalanced portfolio: ``log(mean_i e^{g_i})`` (n,)."""
    returns = _matrix(returns, "returns", min_cols=1)
    top = returns.max(axis=0)
    return top + np.log(np.mean(np.exp(returns - top), axis=0))


def _excess_kurtosis(values: np.ndarray, axis: int = -1) -> np.ndarray:
    return stats.kurtosis(values, axis=axis, fisher=True, bias=True)


def portfolio_kurtosis(returns: np.ndarray) -> float:
    """Excess kurtosis (``m4/m2² − 3``) of the equal-weight portfolio's returns."""
    return float(_excess_kurtosis(portfolio_returns(returns)))


def ticker_kurtosis(returns: np.ndarray) -> float:
    """Mean over tickers of the excess kurtosis of each ticker's returns."""
    return float(np.mean(_excess_kurtosis(_matrix(returns, "returns"), axis=1)))


def standardise(values: np.ndarray) -> np.ndarray:
    """``(v − mean) / sd`` (ddof 1) of a 1-D series."""
    values = np.asarray(values, dtype=np.float64)
    sd = values.std(ddof=1)
    if not sd > 0:
        raise ValueError("cannot standardise a constant series")
    return (values - values.mean()) / sd


def tail_survival(returns: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """``P(−z > x)`` for each threshold x, z = standardised portfolio return: (len(x),)."""
    losses = -standardise(portfolio_returns(returns))
    thresholds = np.asarray(thresholds, dtype=np.float64)
    return np.mean(losses[None, :] > thresholds[:, None], axis=1)


def tail_probability(returns: np.ndarray, threshold: float = 3.0) -> float:
    """``P(z < −threshold)`` of the standardised equal-weight portfolio return."""
    return float(tail_survival(returns, np.array([threshold]))[0])


def white_noise_band(n_days: int, level: float = 0.01) -> float:
    """Half-width ``z_{1−level/2} / √T`` of the white-noise band of a sample ACF."""
    return float(stats.norm.ppf(1.0 - level / 2.0) / np.sqrt(n_days))


SAMPLER_SERIES = "SA (MALA) sequence"
"""The name of the warm-start sampler's series in the sequence table."""
SUMMARY_KEYS = (
    "acf_g_mean", "acf_g2_mean", "acf_abs_mean", "acf_g_lag1", "acf_g2_lag1", "band",
    "outside_g", "outside_g2", "outside_abs",
)  # fmt: skip
"""The summary columns of :func:`sequence_acf` (each ``outside_*`` also has ``*_se``)."""


@dataclass(frozen=True)
class AcfSummary:
    """ACFs (d, L) at lags 1…L of g, g² and |g|, the band half-width and summaries.

    ``summary``: ``acf_g_mean``, ``acf_g2_mean``, ``acf_abs_mean`` (means over tickers and
    lags), ``acf_g_lag1`` and ``acf_g2_lag1`` (means over tickers at lag 1), ``band`` (the
    half-width), ``outside_g``, ``outside_g2``, ``outside_abs`` (fractions of ticker × lag
    values outside the band) and their white-noise SEs ``outside_*_se``.
    """

    acf_g: np.ndarray
    acf_g2: np.ndarray
    acf_abs: np.ndarray
    band: float
    summary: dict[str, float]


def _acf_rows(series: np.ndarray, lags: int) -> np.ndarray:
    from statsmodels.tsa.stattools import acf

    return np.array([acf(row, nlags=lags, fft=True)[1:] for row in series])


def sequence_acf(series: np.ndarray, lags: int = 10, level: float = 0.01) -> AcfSummary:
    """ACFs of a return sequence (d, T) in time order, against the white-noise band."""
    series = _matrix(series, "return sequence", min_cols=lags + 2)
    band = white_noise_band(series.shape[1], level)
    acf_g = _acf_rows(series, lags)
    acf_g2 = _acf_rows(series**2, lags)
    acf_abs = _acf_rows(np.abs(series), lags)
    null_se = float(np.sqrt(level * (1.0 - level) / acf_g.size))
    summary = {
        "acf_g_mean": float(acf_g.mean()),
        "acf_g2_mean": float(acf_g2.mean()),
        "acf_abs_mean": float(acf_abs.mean()),
        "acf_g_lag1": float(acf_g[:, 0].mean()),
        "acf_g2_lag1": float(acf_g2[:, 0].mean()),
        "band": band,
    }
    for name, values in (("g", acf_g), ("g2", acf_g2), ("abs", acf_abs)):
        summary[f"outside_{name}"] = float(np.mean(np.abs(values) > band))
        summary[f"outside_{name}_se"] = null_se
    return AcfSummary(acf_g, acf_g2, acf_abs, band, summary)
