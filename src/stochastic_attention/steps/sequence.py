"""The ``sequence`` step: warm-start MALA through the finance memory's days (SPEC §2, E9).

An experiment of kind ``sequence`` runs it; the rows of its table are the real series, the
sampler's path and each baseline's path (``path`` in its samples file, else a bootstrap of
days).
"""

from __future__ import annotations

import numpy as np

from ..cli import step
from ..domains.base import load_memory_file
from .core import load_samples

__all__: list[str] = []


@step("sequence")
def sequence(params, inputs, outputs, seed, threads):
    """Warm-start MALA sequence (SPEC §2) against the real series and baselines' paths (E9).

    params: ``beta``, ``alpha``, ``inner_steps``, ``n_days`` (default K), ``lags``,
    ``methods`` (names of the inputs whose samples hold a ``path``; ``bootstrap`` draws
    days). inputs: ``memory``, one samples file per method. outputs: ``csv``, ``md``,
    ``tex``, ``html``, ``figure``.
    """
    import pandas as pd

    from ..baselines.finance_simple import bootstrap_path
    from ..domains import finance
    from ..domains.finance_metrics import SAMPLER_SERIES, sequence_acf
    from ..report import finance_figures, tables

    memory = load_memory_file(inputs["memory"])
    rng = np.random.default_rng(seed)
    n_days = int(params.get("n_days") or memory.n_patterns)
    lags = int(params["lags"])  # the block's, its default from the schema
    returns, _, acceptance = finance.sequence_run(
        memory, alpha=float(params["alpha"]), rng=rng, beta=float(params["beta"]),
        inner_steps=int(params["inner_steps"]), n_days=n_days,
    )  # fmt: skip
    series = {"real": memory.arrays["returns"][:, -n_days:], SAMPLER_SERIES: returns}
    for name in params["methods"]:
        loaded = load_samples(inputs[name])
        if "path" in loaded:
            series[name] = loaded["path"][:, :n_days]
        else:
            series[name] = bootstrap_path(memory, n_days, np.random.default_rng([seed, 1]))
    rows = []
    for name, values in series.items():
        summary = sequence_acf(values, lags=lags).summary
        rows.append({"series": name, "days": values.shape[1]} | summary)
    table = pd.DataFrame(rows)
    table["acceptance"] = [np.nan, acceptance] + [np.nan] * (len(rows) - 2)
    title = params.get("title") or "warm-start sequence"
    tables.write_table(table, outputs["csv"], None, title=title)
    tables.write_document(
        title,
        [
            (
                "",
                f"β {params['beta']:g}, α {params['alpha']:g}, {params['inner_steps']} MALA "
                f"steps per day, {n_days} days; ACF at lags 1–{lags} averaged over tickers; "
                "'outside' = share of ticker × lag values beyond the 99 % white-noise band "
                "(± the binomial SE a white-noise series' share would have).",
            ),
            ("", table),
        ],
        markdown_path=outputs["md"],
        latex_path=outputs["tex"],
        html_path=outputs["html"],
    )
    finance_figures.acf_panels(
        series, outputs["figure"], lags=20,
        title=f"{title}: autocorrelation of returns g and squared returns g²",
    )  # fmt: skip
    return {"acceptance": acceptance}
