"""The ``garch`` method kind (SPEC §4, finance only): a CCC-GARCH(1,1)-t fitted to the raw
returns of a finance memory (the model: :mod:`stochastic_attention.baselines.garch`).

``run(memory, spec, context)``: samples are the pool's returns under the memory recipe,
``arrays["decoded"]`` the returns (d, S), ``arrays["path"]`` a simulated path (d, K);
``scalars["train_seconds"]`` is the fit time.
"""

from __future__ import annotations

import time

import numpy as np

from ..baselines.finance_simple import finance_returns
from ..baselines.garch import fit_ccc_garch, sample_pool, simulate
from ..domains.base import Memory
from .base import MethodSamples, RunContext

__all__ = ["CATEGORY", "DOMAINS", "KIND", "PARAMS_SCHEMA", "SEEDED_FIT", "run"]

KIND = "garch"
CATEGORY = "learned"
DOMAINS = ("finance",)
LOGS_LOSS = False  # maximum-likelihood fits per ticker: no per-epoch loss to plot
SEEDED_FIT = False  # maximum likelihood from fixed starts: a refit per replicate repeats it
PARAMS_SCHEMA: dict = {
    "n_samples": {"type": "integer", "minimum": 2, "default": 900},
    "burn_in": {
        "type": "integer",
        "minimum": 0,
        "default": 250,
        "description": "days simulated before a pool draw or the start of the path",
    },
}


def run(memory: Memory, spec: dict, context: RunContext) -> MethodSamples:
    """Fit on ``memory.arrays["returns"]``, draw the pool and one path of K days."""
    from ..domains.finance import normalise_returns
    from ..metrics import consecutive_groups

    returns = finance_returns(memory, KIND)
    n = int(spec["n_samples"])
    burn_in = int(spec["burn_in"])
    model = fit_ccc_garch(returns)
    start = time.perf_counter()
    pool = sample_pool(model, n, context.rng, burn_in=burn_in)
    path = simulate(model, returns.shape[1], 1, context.rng, burn_in=burn_in)[0]
    return MethodSamples(
        samples=normalise_returns(pool),
        groups=consecutive_groups(n),
        arrays={"decoded": pool, "path": path, "persistence": model.persistence, "nu": model.nu},
        scalars={
            "train_seconds": model.train_seconds,
            "sampling_seconds": time.perf_counter() - start,
            "mean_persistence": float(np.mean(model.persistence)),
            "train_size": int(returns.shape[1]),
        },
    )
