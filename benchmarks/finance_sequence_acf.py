"""Where the warm-start sequence's return autocorrelation comes from (E9_sequence).

A measurement, not a speed benchmark. The warm-start sequence records one chain every
``inner_steps`` steps, so after its first days its lag-k ACF is the chain's autocorrelation
at k·inner_steps steps. This script measures that autocorrelation against the step lag with
many chains at once (decoded returns g = M softmax(β Xᵀξ), g², and the state ξ itself; mean
over tickers and chains), for MALA and SA, several α, β, ticker subsets of the offline
memory and synthetic factor-model memories of larger d, next to the warm start alone in a
pure quadratic well, (1 − α)^T. ``--case direct`` runs the sequence itself
(``domains.finance.sequence_run``) at ``--inner`` steps per day and prints the E9_sequence
summary (lag-1 ACF of g, share of ticker × lag values outside the 99 % band).

    PYTHONPATH=src python benchmarks/finance_sequence_acf.py \\
        --memory results/memory/finance/sp500.npz \\
        --case kernels|alpha|beta|subsets|synthetic|direct|all [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

LAGS = (50, 100, 200, 400, 600, 800, 1200)


def row_acf(series, lags):
    """ACF (mean removed, biased normalisation as statsmodels) at integer ``lags`` per row."""
    import numpy as np

    series = series - series.mean(axis=-1, keepdims=True)
    length = series.shape[-1]
    size = 1 << (2 * length - 1).bit_length()
    spectrum = np.fft.rfft(series, size, axis=-1)
    covariance = np.fft.irfft(spectrum * np.conj(spectrum), size, axis=-1)[..., :length]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (covariance / covariance[..., :1])[..., np.asarray(lags)]


def lag_curve(memory, returns, *, kernel, beta, alpha, chains, steps, every, lags, seed=0,
              burn_in=2000):  # fmt: skip
    """Autocorrelation of g, g² and ξ at the step ``lags`` from ``chains`` chains."""
    import numpy as np

    from stochastic_attention.energy import attention
    from stochastic_attention.samplers import run_chains

    rng = np.random.default_rng(seed)
    picks = rng.choice(memory.shape[1], chains, replace=False)
    starts = memory[:, picks] + 0.01 * rng.standard_normal((memory.shape[0], chains))
    record = np.arange(burn_in + every, steps + 1, every)
    clock = time.process_time()
    run = run_chains(memory, starts, kernel=kernel, beta=beta, alpha=alpha, rng=rng,
                     record_steps=record)  # fmt: skip
    seconds = time.process_time() - clock
    states = np.moveaxis(run.records, 0, -1)  # (d, C, T)
    decoded = np.stack([returns @ attention(memory, run.records[i], beta)
                        for i in range(run.records.shape[0])], axis=-1)  # fmt: skip
    index = np.asarray(lags) // every
    return {
        "g": np.nanmean(row_acf(decoded, index), axis=(0, 1)),
        "g2": np.nanmean(row_acf(decoded**2, index), axis=(0, 1)),
        "state": row_acf(states, index).mean(axis=(0, 1)),
        "seconds": seconds,
        "acceptance": None if run.acceptance is None else float(run.acceptance.mean()),
    }


def show(name, result, lags):
    accept = "" if result["acceptance"] is None else f", acceptance {result['acceptance']:.4f}"
    print(f"{name} ({result['seconds']:.0f} CPU-s{accept})")
    print(f"   step lag      {' '.join(f'{lag:>6d}' for lag in lags)}")
    for key in ("g", "g2", "state"):
        print(f"   ACF {key:<9s} {' '.join(f'{v:6.3f}' for v in result[key])}", flush=True)


def synthetic_returns(d, n_days, seed):
    """A one-factor model with Student-t (4) market and idiosyncratic returns: (d, n_days)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    market = 0.01 * rng.standard_t(4, n_days)
    loadings = rng.uniform(0.5, 1.5, d)
    return loadings[:, None] * market + 0.015 * rng.standard_t(4, (d, n_days))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory", type=Path, default=Path("results/memory/finance/sp500.npz"))
    parser.add_argument("--case", default="all")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--chains", type=int, default=20)
    parser.add_argument("--steps", type=int, default=30000)
    parser.add_argument("--inner", type=int, nargs="+", default=[200, 600, 1000],
                        help="inner steps per day of the direct sequences")  # fmt: skip
    args = parser.parse_args()
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(args.threads)

    import numpy as np

    from stochastic_attention.domains import finance
    from stochastic_attention.domains.base import load_memory_file
    from stochastic_attention.domains.finance_metrics import sequence_acf

    memory = load_memory_file(args.memory)
    X, M = memory.patterns, memory.arrays["returns"]
    n_days = X.shape[1]
    band = 2.5758 / np.sqrt(n_days)
    print(f"memory {args.memory}: d {X.shape[0]}, K {n_days} days; 99 % band ±{band:.3f}")
    cases = ["kernels", "alpha", "beta", "subsets", "synthetic", "direct"]
    chosen = cases if args.case == "all" else [args.case]
    common = {"chains": args.chains, "steps": args.steps, "every": 10, "lags": LAGS}
    if "kernels" in chosen:
        for kernel in ("mala", "sa"):
            show(f"offline d {X.shape[0]}, β 12, α 0.01, {kernel}",
                 lag_curve(X, M, kernel=kernel, beta=12.0, alpha=0.01, **common), LAGS)  # fmt: skip
        quadratic = " ".join(f"{0.99**lag:6.3f}" for lag in LAGS)
        print(f"   warm start alone (quadratic well), (1 − α)^T: {quadratic}")
    if "alpha" in chosen:
        lags = tuple(lag // 5 for lag in LAGS)
        show("offline, β 12, α 0.05, mala (step lags ÷ 5: the same α·T)",
             lag_curve(X, M, kernel="mala", beta=12.0, alpha=0.05, chains=args.chains,
                       steps=args.steps // 5, every=2, lags=lags, burn_in=400), lags)  # fmt: skip
    if "beta" in chosen:
        for beta in (0.6, 3.0, 6.0, 25.0):
            show(f"offline, β {beta:g}, α 0.01, mala",
                 lag_curve(X, M, kernel="mala", beta=beta, alpha=0.01, **common), LAGS)  # fmt: skip
    if "subsets" in chosen:
        rng = np.random.default_rng(5)
        for d in (5, 10):
            rows = np.sort(rng.choice(X.shape[0], d, replace=False))
            sub = finance.normalise_returns(M[rows])
            result = lag_curve(sub, M[rows], kernel="mala", beta=12.0, alpha=0.01, **common)
            show(f"offline, {d} of the tickers {rows.tolist()}, β 12, mala", result, LAGS)
    if "synthetic" in chosen:
        for d, beta in ((20, 12.0), (100, 12.0), (400, 12.0), (100, 60.0)):
            returns = synthetic_returns(d, n_days, d)
            chains, steps = (args.chains, args.steps) if d <= 100 else (10, 14000)
            show(f"synthetic factor model d {d}, K {n_days}, β {beta:g}, mala",
                 lag_curve(finance.normalise_returns(returns), returns, kernel="mala",
                           beta=beta, alpha=0.01, chains=chains, steps=steps, every=10,
                           lags=LAGS), LAGS)  # fmt: skip
    if "direct" in chosen:
        for inner in args.inner:
            clock = time.process_time()
            returns, _, acceptance = finance.sequence_run(
                memory, alpha=0.01, rng=np.random.default_rng(inner), beta=12.0,
                inner_steps=inner, n_days=n_days)  # fmt: skip
            summary = sequence_acf(returns, lags=10).summary
            print(
                f"sequence, β 12, α 0.01, {inner} inner steps, {n_days} days "
                f"({time.process_time() - clock:.0f} CPU-s, acceptance {acceptance:.4f}): "
                f"lag-1 ACF of g {summary['acf_g_lag1']:.3f}, outside band: g "
                f"{summary['outside_g']:.3f}, g² {summary['outside_g2']:.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
