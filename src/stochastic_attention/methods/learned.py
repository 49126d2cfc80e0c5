"""Learned baseline kinds of SPEC §4: ``gmm_pca``, ``vae`` and ``ddpm``.

Each fits its model on the memory (or on ``context.train_memory``: E15's larger training
sets), logs its training loss per epoch and draws ``n_samples``; with ``select_top_of`` it
draws that many and keeps the ``n_samples`` closest to the memory by max-cos. Training
parameters (``train``) are checked by the model's parameter class before any job runs
(:func:`check_train_vae` …).

**Replicates** (:func:`run_replicates_vae` …, what the sample step calls). With
``refit_replicates: true`` (the default) replicate r fits its own model with its own seed
(the replicate's method seed), so the SD over replicates includes training variance (SPEC
§4); the VAE's and the DDPM's R fits train together as one stacked model
(``fit_replicates``), the GMM-PCA's one after another (each EM takes well under a second).
With ``refit_replicates: false`` one fit (replicate 0's seed) is drawn R times, as before;
the tables mark such rows. Arrays: ``loss_<term>`` ``(fits, epochs)`` (NaN-padded where EM
stops at different iterations); scalars: ``fits``, ``train_seconds`` (all fits together),
``final_<term>`` (mean over fits of the last epoch's value), ``final_<term>_sd_rep`` (SD over
fits, ``None`` for one fit) and ``final_<term>_replicates`` (one value per fit).
"""

from __future__ import annotations

import time
from importlib import import_module
from typing import Any

import numpy as np

from ..domains.base import Memory
from ..metrics import consecutive_groups
from .base import MethodSamples, RunContext

__all__ = [
    "CATEGORIES",
    "COST_MODELS",
    "LOSS_STYLES",
    "PARAMS_SCHEMAS",
    "run_replicates_ddpm",
    "run_replicates_gmm_pca",
    "run_replicates_vae",
]

CATEGORIES = {"gmm_pca": "learned", "vae": "learned", "ddpm": "learned"}
PARAMS_SCHEMAS: dict[str, dict] = {"gmm_pca": {}, "vae": {}, "ddpm": {}}
LOSS_STYLES = {"gmm_pca": "gmm", "vae": "vae", "ddpm": "ddpm"}  # methods.base.loss_style
COST_MODELS = {"vae": "vae", "ddpm": "ddpm"}  # methods.base.cost_model (GMM: small)
_PARAMS = {"gmm_pca": "GmmPcaParams", "vae": "VaeParams", "ddpm": "DdpmParams"}


def _module(kind: str) -> Any:
    return import_module(f"stochastic_attention.baselines.{kind}")


def _params(kind: str, train: dict | None) -> Any:
    """The kind's parameter class from ``train`` (torch-free: config checks call it)."""
    from ..baselines import params

    return getattr(params, _PARAMS[kind]).from_config(train or {})


def _run(kind: str, memory: Memory, spec: dict, context: RunContext) -> MethodSamples:
    result, _ = _run_replicates(kind, memory, spec, [context], refit=True)
    return result


def _fit_all(kind: str, training: np.ndarray, params: Any, seeds: list[int], context: RunContext):
    """One fit per seed: together where the model can (``fit_replicates``), else in turn."""
    module = _module(kind)
    options = {"threads": context.threads, "progress": context.progress}
    if hasattr(module, "fit_replicates"):
        return module.fit_replicates(training, params, seeds, **options)
    return [module.fit(training, params, seed, **options) for seed in seeds]


def _draw(fitted: Any, spec: dict, n: int, rng: np.random.Generator, memory: Memory):
    """``n`` samples of one fit, or the ``n`` best of ``select_top_of · n / n_samples``."""
    from ..baselines._common import top_by_max_cos

    drawn = int(spec.get("select_top_of", spec["n_samples"])) * n // int(spec["n_samples"])
    samples = fitted.sample(drawn, rng)
    return top_by_max_cos(samples, memory.patterns, n) if samples.shape[1] > n else samples


def _histories(fits: list[Any]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """``loss_<term>`` arrays ``(fits, epochs)`` and the ``final_<term>`` scalars."""
    arrays, scalars = {}, {}
    for key in fits[0].history:
        rows = [np.asarray(fitted.history[key], dtype=np.float64) for fitted in fits]
        stacked = np.full((len(rows), max(row.size for row in rows)), np.nan)
        for r, row in enumerate(rows):
            stacked[r, : row.size] = row
        arrays[f"loss_{key}"] = stacked
        last = [float(row[-1]) for row in rows if row.size]
        if last:
            scalars[f"final_{key}"] = float(np.mean(last))
            scalars[f"final_{key}_sd_rep"] = float(np.std(last, ddof=1)) if len(last) > 1 else None
            scalars[f"final_{key}_replicates"] = last
    return arrays, scalars


def _run_replicates(
    kind: str, memory: Memory, spec: dict, contexts: list[RunContext], *, refit: bool
) -> tuple[MethodSamples, np.ndarray]:
    """Every replicate's samples ``(d, R·n)`` and the replicate id of each sample."""
    params = _params(kind, spec["train"])
    first = contexts[0]
    training = memory if first.train_memory is None else first.train_memory
    n, replicates = int(spec["n_samples"]), len(contexts)
    seeds = [context.seed for context in contexts] if refit else [first.seed]
    start = time.perf_counter()
    fits = _fit_all(kind, training.patterns, params, seeds, first)
    seconds = time.perf_counter() - start
    if refit:
        parts = [_draw(f, spec, n, c.rng, memory) for f, c in zip(fits, contexts, strict=True)]
        samples = np.concatenate(parts, axis=1)
    else:  # one fit drawn R times: the R·n best of R·select_top_of, as one job always did
        samples = _draw(fits[0], spec, n * replicates, first.rng, memory)
    arrays, final = _histories(fits)
    scalars = {
        "train_seconds": seconds,
        "fits": len(fits),
        "train_size": int(training.patterns.shape[1]),
        "train_dataset": training.metadata.get("dataset"),
        **final,
    }
    groups = consecutive_groups(n * replicates)
    replicate_ids = np.arange(n * replicates) // n
    return MethodSamples(samples, groups, arrays, scalars), replicate_ids


def run_gmm_pca(memory: Memory, spec: dict, context: RunContext) -> MethodSamples:
    """GMM-PCA: a diagonal Gaussian mixture in the top principal directions."""
    return _run("gmm_pca", memory, spec, context)


def run_vae(memory: Memory, spec: dict, context: RunContext) -> MethodSamples:
    """A small fully connected VAE."""
    return _run("vae", memory, spec, context)


def run_ddpm(memory: Memory, spec: dict, context: RunContext) -> MethodSamples:
    """An MLP DDPM with ancestral sampling."""
    return _run("ddpm", memory, spec, context)


def _replicates(kind: str):
    def run_replicates(
        memory: Memory, spec: dict, contexts: list[RunContext]
    ) -> tuple[MethodSamples, np.ndarray]:
        """All replicates of one job: a fit per replicate unless ``refit_replicates`` is false
        (see the module docstring); returns the samples and each sample's replicate id."""
        return _run_replicates(kind, memory, spec, contexts, refit=bool(spec["refit_replicates"]))

    run_replicates.__name__ = f"run_replicates_{kind}"
    return run_replicates


run_replicates_gmm_pca = _replicates("gmm_pca")
run_replicates_vae = _replicates("vae")
run_replicates_ddpm = _replicates("ddpm")


def check_train_gmm_pca(train: dict) -> None:
    _params("gmm_pca", train)


def check_train_vae(train: dict) -> None:
    _params("vae", train)


def check_train_ddpm(train: dict) -> None:
    _params("ddpm", train)
