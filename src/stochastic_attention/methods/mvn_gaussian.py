"""The ``mvn_gaussian`` method kind (SPEC §4, finance only): returns drawn i.i.d. from the
Gaussian with the days' mean and covariance (:func:`stochastic_attention.baselines.
finance_simple.mvn_draws`).

The samples are the pool's returns under the memory recipe
(:func:`~stochastic_attention.domains.finance.normalise_returns`); ``arrays["decoded"]``
keeps the returns (d, S) and ``arrays["path"]`` a sequence of K i.i.d. days (d, K).
"""

from __future__ import annotations

import time

from ..baselines.finance_simple import finance_returns, mvn_draws
from ..domains.base import Memory
from .base import MethodSamples, RunContext

__all__ = ["CATEGORY", "DOMAINS", "KIND", "PARAMS_SCHEMA", "run"]

KIND = "mvn_gaussian"
CATEGORY = "simple"
DOMAINS = ("finance",)
PARAMS_SCHEMA: dict = {"n_samples": {"type": "integer", "minimum": 2, "default": 900}}


def run(memory: Memory, spec: dict, context: RunContext) -> MethodSamples:
    """The ``mvn_gaussian`` pool (S draws) and a path of K i.i.d. draws."""
    from ..domains.finance import normalise_returns
    from ..metrics import consecutive_groups

    returns = finance_returns(memory, KIND)
    n = int(spec["n_samples"])
    start = time.perf_counter()
    pool = mvn_draws(returns, n, context.rng)
    path = mvn_draws(returns, returns.shape[1], context.rng)
    return MethodSamples(
        samples=normalise_returns(pool),
        groups=consecutive_groups(n),
        arrays={"decoded": pool, "path": path},
        scalars={"sampling_seconds": time.perf_counter() - start},
    )
