"""Core pipeline steps: fetch → memory → sample / baseline → metrics → table, figures.

File formats (all NumPy ``.npz`` without pickles, JSON strings stored as 0-d arrays):

* memory: ``memory`` (d, K), ``metadata`` JSON (domain, dataset parameters, provenance).
* samples: ``samples`` (d, S), ``groups`` (S,) chain ids (consecutive groups of 5 for
  non-chain methods), ``steps`` (S,), ``acceptance`` (C,) (empty unless MALA),
  ``start_patterns`` (C,), ``loss_<name>`` per-epoch training losses of learned baselines,
  ``metadata`` JSON (method parameters, seed, timings).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .. import energy, metrics, samplers
from ..arrays import read_npz
from ..baselines import simple
from ..cli import StepError, step
from ..domains import mnist
from ..metrics import consecutive_groups

__all__ = ["load_memory", "load_samples"]

SAMPLER_KINDS = ("sa", "mala")
SIMPLE_KINDS = ("bootstrap", "gaussian", "convex", "matched_gaussian", "isotropic_gaussian")
LEARNED_PARAMS = {"gmm_pca": "GmmPcaParams", "vae": "VaeParams", "ddpm": "DdpmParams"}
LEARNED_KINDS = tuple(LEARNED_PARAMS)
DOMAINS = {"mnist": mnist}


# ------------------------------------------------------------------------------ file I/O


def _save_npz(path: Path, **arrays: Any) -> None:
    with open(path, "wb") as handle:  # path is already a temporary name (see cli.run_step)
        np.savez(handle, **arrays)


def _json_array(value: Any) -> np.ndarray:
    return np.array(json.dumps(value, sort_keys=True, default=str))


def load_memory(path: Path) -> tuple[np.ndarray, dict]:
    """The memory matrix (d, K) and its metadata."""
    data = read_npz(path, ("memory", "metadata"), "memory")
    return data["memory"], json.loads(str(data["metadata"]))


def load_samples(path: Path) -> dict[str, Any]:
    """Every array of a samples file, with ``metadata`` decoded."""
    loaded = read_npz(path, ("samples", "groups", "metadata"), "samples")
    loaded["metadata"] = json.loads(str(loaded["metadata"]))
    return loaded


def _domain(name: str):
    if name not in DOMAINS:
        raise StepError(f"unknown domain {name!r}; known domains: {', '.join(DOMAINS)}")
    return DOMAINS[name]


# ------------------------------------------------------------------------------- fetch


@step("fetch")
def fetch(params, inputs, outputs, seed, threads):
    """Resolve a domain's source into ``resources/{domain}/…`` (output ``raw``)."""
    module = _domain(params["domain"])
    provenance = module.fetch(params.get("source") or {"kind": "offline"}, outputs["raw"])
    return {"provenance": provenance}


# ------------------------------------------------------------------------------ memory


@step("memory")
def build_memory(params, inputs, outputs, seed, threads):
    """Raw data (input ``raw``) → memory matrix (output ``memory``)."""
    domain = params["domain"]
    if domain == "mnist":
        images, labels = mnist.load(inputs["raw"])
        memory, metadata = mnist.build_memory(
            images, labels, digit=params["digit"], n_patterns=params["n_patterns"]
        )
    else:
        raise StepError(f"no memory builder for domain {domain!r}")
    provenance_path = inputs["raw"].with_name(inputs["raw"].name + ".provenance.json")
    if provenance_path.exists():
        metadata["source"] = json.loads(provenance_path.read_text()).get("provenance")
    metadata |= {"domain": domain, "params": params}
    _save_npz(outputs["memory"], memory=memory, metadata=_json_array(metadata))
    return {"shape": list(memory.shape)}


# ------------------------------------------------------------------------------ sample


def _run_sampler(memory: np.ndarray, spec: dict, rng: np.random.Generator) -> dict[str, Any]:
    protocol = spec.get("protocol", "multi_chain")
    options = dict(spec.get("protocol_params", {}))
    common = {"kernel": spec["kind"], "beta": spec["beta"], "alpha": spec["alpha"], "rng": rng}
    if protocol == "multi_chain":
        result = samplers.multi_chain(memory, **common, **options)
    elif protocol == "single_chain":
        result = samplers.single_chain(memory, **common, **options)
    else:
        raise StepError(f"unknown protocol {protocol!r}; use multi_chain or single_chain")
    return {
        "samples": result.samples,
        "groups": result.chain_ids,
        "steps": result.steps,
        "start_patterns": result.start_patterns,
        "acceptance": np.array([]) if result.acceptance is None else result.acceptance,
        "sampling_seconds": result.wall_seconds,
    }


def _run_simple(memory, spec, rng, reference: np.ndarray | None) -> dict[str, Any]:
    kind, n = spec["kind"], int(spec["n_samples"])
    if kind == "bootstrap":
        samples = simple.bootstrap(memory, n, rng)
    elif kind == "gaussian":
        samples = simple.gaussian_perturbation(
            memory, n, rng, alpha=spec["alpha"], beta=spec["beta"]
        )
    elif kind == "convex":
        samples = simple.convex_combination(memory, n, rng)
    else:
        if reference is None:
            raise StepError(f"baseline {kind} needs the samples it controls (input 'reference')")
        function = (
            simple.matched_gaussian if kind == "matched_gaussian" else simple.isotropic_gaussian
        )
        samples = function(reference, n, rng)
    return {"samples": samples, "groups": consecutive_groups(n)}


def _run_learned(memory, spec, rng, seed: int, threads: int, train_memory=None) -> dict:
    """Fit a learned baseline (on ``train_memory`` when given) and draw its samples.

    With ``select_top_of`` it draws that many and keeps the ``n_samples`` closest to
    ``memory`` by max-cos (E15's filtering of an all-digit model).
    """
    from importlib import import_module

    from ..baselines._common import top_by_max_cos

    module = import_module(f"..baselines.{spec['kind']}", __package__)
    params = getattr(module, LEARNED_PARAMS[spec["kind"]]).from_config(spec.get("train", {}))
    training = memory if train_memory is None else train_memory
    fitted = module.fit(training, params, seed, threads=threads)
    n = int(spec["n_samples"])
    samples = fitted.sample(int(spec.get("select_top_of", n)), rng)
    if samples.shape[1] > n:
        samples = top_by_max_cos(samples, memory, n)
    arrays = {f"loss_{key}": np.asarray(values) for key, values in fitted.history.items()}
    return {
        "samples": samples,
        "groups": consecutive_groups(n),
        "train_seconds": fitted.train_seconds,
        "train_size": int(training.shape[1]),
        **arrays,
    }


@step("sample")
def sample(params, inputs, outputs, seed, threads):
    """S samples of one method from a memory (input ``memory``, output ``samples``)."""
    memory, _ = load_memory(inputs["memory"])
    kind = params.get("kind")
    rng = np.random.default_rng(seed)
    if kind in SAMPLER_KINDS:
        result = _run_sampler(memory, params, rng)
    elif kind in SIMPLE_KINDS:
        reference = load_samples(inputs["reference"])["samples"] if "reference" in inputs else None
        result = _run_simple(memory, params, rng, reference)
    elif kind in LEARNED_KINDS:
        train = load_memory(inputs["train_memory"])[0] if "train_memory" in inputs else None
        result = _run_learned(memory, params, rng, seed, threads, train)
    else:
        known = ", ".join(SAMPLER_KINDS + SIMPLE_KINDS + LEARNED_KINDS)
        raise StepError(f"unknown method kind {kind!r}; known kinds: {known}")
    scalars = ("sampling_seconds", "train_seconds", "train_size")
    timings = {key: result.pop(key) for key in scalars if key in result}
    metadata = {"params": params, "seed": seed, **timings}
    _save_npz(outputs["samples"], metadata=_json_array(metadata), **result)
    acceptance = result.get("acceptance")
    return {
        **timings,
        "acceptance": None if acceptance is None or not acceptance.size else acceptance.mean(),
    }


# ----------------------------------------------------------------------------- metrics


@step("metrics")
def compute_metrics(params, inputs, outputs, seed, threads):
    """SPEC §3 metrics of a samples file against its memory (output ``metrics`` JSON)."""
    memory, _ = load_memory(inputs["memory"])
    loaded = load_samples(inputs["samples"])
    method = loaded["metadata"]["params"]
    beta = float(params.get("beta", method.get("beta")))
    summary = metrics.summarise(loaded["samples"], memory, beta, loaded["groups"])
    acceptance = loaded.get("acceptance", np.array([]))
    alpha = method.get("alpha", params.get("alpha", 0.01))
    record = {
        "method": params["method"],
        "dataset": params["dataset"],
        "kind": method["kind"],
        "alpha": alpha,
        "snr": energy.snr(alpha, beta, memory.shape[0]),
        **summary.as_dict(),
        "acceptance": float(acceptance.mean()) if acceptance.size else None,
        "acceptance_min": float(acceptance.min()) if acceptance.size else None,
        "seconds": loaded["metadata"].get(
            "sampling_seconds", loaded["metadata"].get("train_seconds")
        ),
        "train_size": loaded["metadata"].get("train_size"),
    }
    outputs["metrics"].write_text(json.dumps(record, indent=2) + "\n")


# ------------------------------------------------------------------------------- table

TABLE_COLUMNS = [
    "dataset",
    "method",
    "kind",
    "beta",
    "snr",
    "n_samples",
    "novelty",
    "novelty_se",
    "diversity",
    "diversity_se",
    "energy",
    "energy_se",
    "max_cosine",
    "max_cosine_se",
    "acceptance",
]


@step("comparison-table")
def comparison_table(params, inputs, outputs, seed, threads):
    """Metrics JSON inputs → one row per (dataset, method): ``table`` CSV, markdown, latex."""
    import pandas as pd

    from ..report import tables

    rows = [json.loads(path.read_text()) for path in inputs.values()]
    table = pd.DataFrame(rows)
    columns = [c for c in TABLE_COLUMNS + params.get("extra_columns", []) if c in table.columns]
    table = table[columns]
    title = params.get("title", "")
    tables.write_table(
        table,
        outputs["table"],
        outputs.get("markdown"),
        title=title,
        latex_path=outputs.get("latex"),
    )
    return {"rows": len(table)}


# ----------------------------------------------------------------------------- figures


@step("sample-grids")
def sample_grid_figure(params, inputs, outputs, seed, threads):
    """4×4 decoded samples per method beside 16 stored patterns (inputs ``memory``, methods)."""
    from ..report import figures

    memory, metadata = load_memory(inputs.pop("memory"))
    domain = _domain(metadata["domain"])
    panels = [("stored patterns", domain.to_images(memory[:, :16]))]
    for method, path in inputs.items():
        samples = load_samples(path)["samples"]
        spread = np.unique(np.linspace(0, samples.shape[1] - 1, 16).round().astype(int))
        label = params.get("labels", {}).get(method, method)
        panels.append((label, domain.to_images(samples[:, spread])))
    figures.sample_grids(panels, outputs["figure"], title=params.get("title", ""))


@step("training-curves")
def training_curve_figure(params, inputs, outputs, seed, threads):
    """Per-epoch training losses of the learned baselines among the inputs."""
    from ..report import figures

    histories = {}
    for method, path in inputs.items():
        loaded = load_samples(path)
        losses = {k.removeprefix("loss_"): v for k, v in loaded.items() if k.startswith("loss_")}
        if losses:
            histories[method] = losses
    figures.training_curves(histories, outputs["figure"], title=params.get("title", ""))


@step("summary")
def summary(params, inputs, outputs, seed, threads):
    """Concatenate the Markdown tables into ``results/summary.md``."""
    parts = ["# stochastic-attention: summary of results\n"]
    for path in inputs.values():
        parts.append(path.read_text())
    outputs["summary"].write_text("\n".join(parts))
