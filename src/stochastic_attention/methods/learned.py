"""Learned baseline kinds of SPEC §4: ``gmm_pca``, ``vae`` and ``ddpm``.

Each fits its model on the memory (or on ``context.train_memory``: E15's larger training
sets), logs its training loss per epoch (``loss_<term>`` arrays) and draws ``n_samples``;
with ``select_top_of`` it draws that many and keeps the ``n_samples`` closest to the memory
by max-cos. Training parameters (``train``) are checked by the model's parameter class
before any job runs (:func:`check_train_vae` …).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

import numpy as np

from ..domains.base import Memory
from ..metrics import consecutive_groups
from .base import RunContext, SampleResult

__all__ = ["CATEGORIES", "PARAMS_SCHEMAS"]

CATEGORIES = {"gmm_pca": "learned", "vae": "learned", "ddpm": "learned"}
PARAMS_SCHEMAS: dict[str, dict] = {"gmm_pca": {}, "vae": {}, "ddpm": {}}
_PARAMS = {"gmm_pca": "GmmPcaParams", "vae": "VaeParams", "ddpm": "DdpmParams"}


def _module(kind: str) -> Any:
    return import_module(f"stochastic_attention.baselines.{kind}")


def _params(kind: str, train: dict | None) -> Any:
    return getattr(_module(kind), _PARAMS[kind]).from_config(train or {})


def _run(kind: str, memory: Memory, spec: dict, context: RunContext) -> SampleResult:
    from ..baselines._common import top_by_max_cos

    params = _params(kind, spec.get("train"))
    training = memory if context.train_memory is None else context.train_memory
    fitted = _module(kind).fit(
        training.memory, params, context.seed, threads=context.threads,
        progress=context.progress,
    )
    n = int(spec["n_samples"])
    samples = fitted.sample(int(spec.get("select_top_of", n)), context.rng)
    if samples.shape[1] > n:
        samples = top_by_max_cos(samples, memory.memory, n)
    arrays = {f"loss_{key}": np.asarray(values) for key, values in fitted.history.items()}
    final = {f"final_{key}": float(values[-1]) for key, values in fitted.history.items() if values}
    scalars = {
        "train_seconds": fitted.train_seconds,
        "train_size": int(training.memory.shape[1]),
        "train_dataset": training.metadata.get("dataset"),
        **final,
    }
    return SampleResult(samples, consecutive_groups(n), arrays, scalars)


def run_gmm_pca(memory: Memory, spec: dict, context: RunContext) -> SampleResult:
    """GMM-PCA: a diagonal Gaussian mixture in the top principal directions."""
    return _run("gmm_pca", memory, spec, context)


def run_vae(memory: Memory, spec: dict, context: RunContext) -> SampleResult:
    """A small fully connected VAE."""
    return _run("vae", memory, spec, context)


def run_ddpm(memory: Memory, spec: dict, context: RunContext) -> SampleResult:
    """An MLP DDPM with ancestral sampling."""
    return _run("ddpm", memory, spec, context)


def check_train_gmm_pca(train: dict) -> None:
    _params("gmm_pca", train)


def check_train_vae(train: dict) -> None:
    _params("vae", train)


def check_train_ddpm(train: dict) -> None:
    _params("ddpm", train)
