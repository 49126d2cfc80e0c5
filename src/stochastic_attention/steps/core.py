"""Core pipeline steps: fetch → memory → sample → metrics → tables, figures, summary.

Every step works for every domain and method kind through the plug-in registries
(:mod:`stochastic_attention.domains.base`, :mod:`stochastic_attention.methods.base`).

File formats (NumPy ``.npz`` without pickles; JSON strings stored as 0-d arrays):

* memory: ``memory`` (d, K), ``metadata`` JSON, ``extra_<name>`` arrays the domain needs.
* samples: ``samples`` (d, S), ``groups`` (S,) standard-error groups (chain ids, or
  consecutive groups of 5), ``replicate`` (S,), the method's extra arrays (``acceptance``,
  ``loss_<term>``, ``trace_energy``, ``start_patterns``, ``decoded`` …) and ``metadata`` JSON:
  the resolved ``beta``/``alpha``/``energy_beta`` and every seed. The samples file is the one
  record of what was drawn: the metrics step reads β and α from it, not from the config.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from .. import energy, metrics
from ..arrays import load_samples
from ..cli import StepError, step
from ..domains.base import (
    Memory,
    check_columns,
    get_domain,
    load_memory_file,
    save_memory_file,
)
from ..methods.base import RunContext, betas_of, get_method, run_replicates, samples_at_beta

__all__ = ["load_samples", "resolve_beta"]

log = logging.getLogger("stochastic_attention")


def _save_npz(target: Path, /, **arrays: Any) -> None:
    with open(target, "wb") as handle:  # path is already a temporary name (see cli.run_step)
        np.savez(handle, **arrays)


def _json_array(value: Any) -> np.ndarray:
    return np.array(json.dumps(value, sort_keys=True, default=str))


# ------------------------------------------------------------------------------- fetch


@step("fetch")
def fetch(params, inputs, outputs, seed, threads):
    """Resolve a domain's data source into one raw file.

    params: ``domain`` (name), ``source`` (the ``sources.<domain>`` block).
    outputs: ``raw`` (``resources/<domain>/<domain>.npz``).
    """
    domain = get_domain(params["domain"])
    provenance = domain.fetch(params.get("source") or {}, outputs["raw"])
    return {"provenance": provenance}


# ------------------------------------------------------------------------------ memory


def _pca_transform(memory: Memory, rank: int) -> Memory:
    """Project the memory onto its top ``rank`` principal directions (``pca_rank``)."""
    from ..transforms import pca_projection

    if rank > min(memory.patterns.shape):
        raise StepError(
            f"pca_rank {rank} exceeds min(d, K) = {min(memory.patterns.shape)} of this memory"
        )
    reduced, basis = pca_projection(memory.patterns, rank)
    arrays = dict(memory.arrays) | {"pca_basis": basis, "full_memory": memory.patterns}
    metadata = memory.metadata | {"pca_rank": rank, "full_d": memory.d}
    return Memory(reduced, metadata, arrays)


@step("memory")
def build_memory(params, inputs, outputs, seed, threads):
    """Raw data → the memory matrix of one dataset.

    params: ``dataset`` (name), ``spec`` (the dataset's config block, with ``domain``, and
    with ``selection: random`` the plan's ``selection_seed``).
    inputs: ``raw`` and ``provenance`` (domains with a source), the domain's own files.
    outputs: ``memory``.
    """
    spec = dict(params["spec"])
    domain = get_domain(spec["domain"])
    built = domain.build_memory(spec, inputs.get("raw"))
    # every domain, also a plug-in: a NaN or zero column fails here, naming the column
    check_columns(built.patterns, f"dataset {params['dataset']} ({spec['domain']} memory)")
    metadata = dict(built.metadata)
    if "provenance" in inputs:
        metadata["source"] = json.loads(inputs["provenance"].read_text()).get("provenance")
    # what a reader decided about the data (a dropped ticker, a header line): logged here
    # and carried to every table of the dataset (metrics → experiment table notes)
    source_notes = (metadata.get("source") or {}).get("notes", [])
    metadata["notes"] = [*source_notes, *metadata.get("notes", [])]
    for note in metadata["notes"]:
        log.warning("dataset %s: %s", params["dataset"], note)
    metadata |= {"domain": spec["domain"], "dataset": params["dataset"], "params": spec}
    memory = Memory(built.patterns, metadata, built.arrays)
    if spec.get("pca_rank"):
        memory = _pca_transform(memory, int(spec["pca_rank"]))
    save_memory_file(outputs["memory"], memory)
    return {"shape": list(memory.patterns.shape)}


# ------------------------------------------------------------------------------ sample


def resolve_beta(rule: Any, memory: Memory, alpha: float | None, cache: dict) -> float:
    """A β from config: a number, ``{critical: c, criterion: …}`` (c·β* of the memory by the
    criterion; :meth:`~..plan.Plan.beta_rule` writes the config's ``beta_criterion`` into a
    rule without one) or ``{snr: s}``.

    ``cache`` keeps the memory's :class:`~energy.CriticalTemperature` (both criteria, computed
    once) under ``critical`` and records the β* used (``beta_star``), its ``beta_criterion``
    and both values (``beta_star_inflection``, ``beta_star_knee``).
    """
    if isinstance(rule, int | float):
        return float(rule)
    if "critical" in rule:
        if "critical" not in cache:
            cache["critical"] = energy.critical_beta(memory.patterns)
        critical = cache["critical"]
        criterion = rule["criterion"]  # the plan fills in the config's beta_criterion
        cache["beta_star"] = critical.by_criterion(criterion)
        cache["beta_criterion"] = criterion
        cache["beta_star_inflection"] = critical.beta_star
        cache["beta_star_knee"] = critical.beta_knee
        return float(rule["critical"]) * cache["beta_star"]
    if "snr" in rule:
        alpha = rule.get("alpha", alpha)
        if alpha is None:
            raise StepError(
                f"the β rule {rule} needs an α: give the method an alpha or write "
                "{snr: s, alpha: a}"
            )
        return energy.beta_from_snr(float(rule["snr"]), float(alpha), memory.d)
    raise StepError(f"cannot read the inverse temperature {rule!r}")


def _progress(label: str):
    """A progress callback that logs at most every ~10 s (epoch/iteration k and loss)."""
    state = {"last": time.perf_counter()}

    def report(step_number: int, loss: float) -> None:
        now = time.perf_counter()
        if now - state["last"] >= 10.0:
            log.info("%s: epoch %d, loss %.6g", label, step_number, loss)
            state["last"] = now

    return report


@step("sample")
def sample(params, inputs, outputs, seed, threads):
    """S samples of one method from one memory, for every replicate.

    params: the method's resolved spec (``kind``, ``category``, ``replicates``, ``dataset``,
    ``method``, ``seeds`` = the plan's per-replicate ``method`` seeds and, for samplers, the
    ``start`` seeds of the common start draw; protocol and kind parameters). The kind
    resolves its β rules (:func:`~..methods.base.betas_of`) and runs its replicates
    (:func:`~..methods.base.run_replicates`). inputs: ``memory``; ``reference`` (controls);
    ``train_memory`` (learned, other data). outputs: ``samples``.
    """
    memory = load_memory_file(inputs["memory"])
    spec = dict(params)
    seeds = spec.pop("seeds")
    kind = get_method(spec["kind"])
    replicates = int(spec["replicates"])
    dataset, method = spec["dataset"], spec["method"]
    cache: dict = {}
    spec |= betas_of(kind)(spec, lambda rule, alpha: resolve_beta(rule, memory, alpha, cache))
    train = load_memory_file(inputs["train_memory"]) if "train_memory" in inputs else None
    reference = load_samples(inputs["reference"]) if "reference" in inputs else None

    def context(r: int) -> RunContext:
        extra = {}
        if reference is not None:  # a control matches replicate r of its sampler
            mask = reference.get("replicate", np.zeros(reference["samples"].shape[1])) == r
            extra["reference"] = reference["samples"][:, mask]
        return RunContext(
            rng=np.random.default_rng(seeds["method"][r]),
            seed=seeds["method"][r],
            threads=threads,
            replicate=r,
            train_memory=train,
            progress=_progress(f"{method} on {dataset}"),
            **extra,
        )

    contexts = [context(r) for r in range(replicates)]
    result, replicate_ids = run_replicates(kind, memory, spec | {"seeds": seeds}, contexts)
    if not np.all(np.isfinite(result.samples)):
        raise StepError(f"method {method} produced non-finite samples on {dataset}")
    metadata = {
        "params": spec,
        "kind": spec["kind"],
        "category": kind.CATEGORY,
        "beta": spec.get("beta"),
        "alpha": spec.get("alpha"),
        "energy_beta": spec["energy_beta"],
        "replicates": replicates,
        "seeds": seeds,
        **result.scalars,
    }
    for key in ("beta_star", "beta_criterion", "beta_star_inflection", "beta_star_knee"):
        if key in cache:
            metadata[key] = cache[key]
    _save_npz(
        outputs["samples"],
        samples=result.samples,
        groups=result.groups,
        replicate=replicate_ids,
        metadata=_json_array(metadata),
        **result.arrays,
    )
    acceptance = result.arrays.get("acceptance")
    return {
        **result.scalars,
        "acceptance": None if acceptance is None else float(np.mean(acceptance)),
    }


# ----------------------------------------------------------------------------- metrics


def _chain_diagnostics(loaded: dict) -> dict[str, float]:
    """Effective sample size and R-hat of the per-chain energy traces (samplers only)."""
    traces = loaded.get("trace_energy")
    if traces is None or traces.shape[0] < 4 or traces.shape[1] < 2:
        return {}
    diagnostics = metrics.chain_diagnostics(traces.T)
    return {"ess": float(diagnostics["ess"]), "rhat": float(diagnostics["rhat"])}


def _per_replicate(values: list[dict[str, float]]) -> dict[str, float]:
    """Mean over replicates, the mean within-replicate SE, and the SD across replicates."""
    keys = [k for k in values[0] if isinstance(values[0][k], int | float)]
    out: dict[str, float] = {}
    for key in keys:
        column = np.array([float(v[key]) for v in values])
        out[key] = float(np.mean(column))
        if not key.endswith("_se") and key not in ("n_samples", "beta"):
            out[f"{key}_sd_rep"] = float(np.std(column, ddof=1)) if column.size > 1 else None
    out["n_samples"] = int(sum(int(v["n_samples"]) for v in values))
    return out


@step("metrics")
def compute_metrics(params, inputs, outputs, seed, threads):
    """SPEC §3 metrics (and the domain's own) of a samples file against its memory.

    inputs: ``memory``, ``samples``. outputs: ``metrics`` (JSON). β, α and the reporting β
    come from the samples file. With replicates each metric is the mean over replicates,
    ``*_se`` the mean within-replicate chain-group SE (SPEC §3) and ``*_sd_rep`` the SD over
    replicates.
    """
    memory = load_memory_file(inputs["memory"])
    loaded = load_samples(inputs["samples"])
    meta = loaded["metadata"]
    domain = get_domain(memory.metadata["domain"])
    energy_beta = float(meta["energy_beta"])
    replicate = loaded.get("replicate", np.zeros(loaded["samples"].shape[1], dtype=int))
    # a domain's metrics receive the β the samples were drawn at (None for a baseline)
    sampler_beta = meta["beta"] if samples_at_beta(get_method(meta["kind"])) else None
    rows = []
    for r in np.unique(replicate):
        mask = replicate == r
        samples, groups = loaded["samples"][:, mask], loaded["groups"][mask]
        row = metrics.summarise(samples, memory.patterns, energy_beta, groups).as_dict()
        row.pop("beta", None)
        row["frechet_diagonal"] = metrics.frechet_diagonal(samples, memory.patterns)
        if hasattr(domain, "domain_metrics"):
            extra = {"beta": sampler_beta, "decoded": None}
            if "decoded" in loaded:
                extra["decoded"] = loaded["decoded"][..., mask]
            row |= domain.domain_metrics(samples, memory, groups, **extra)
        rows.append(row)
    record = {
        "dataset": params.get("dataset", memory.metadata.get("dataset")),
        "method": params.get("method", meta["params"].get("method")),
        "kind": meta["kind"],
        "category": meta["category"],
        "beta": meta.get("beta"),
        "alpha": meta.get("alpha"),
        "energy_beta": energy_beta,
        "snr": energy.snr(meta["alpha"], meta["beta"], memory.d)
        if meta.get("alpha") and meta.get("beta")
        else None,
        "replicates": int(np.unique(replicate).size),
        **_per_replicate(rows),
    }
    acceptance = loaded.get("acceptance")
    record["acceptance"] = float(acceptance.mean()) if acceptance is not None else None
    record["acceptance_min"] = float(acceptance.min()) if acceptance is not None else None
    record |= _chain_diagnostics(loaded)
    record["seconds"] = meta.get("sampling_seconds", meta.get("train_seconds"))
    for key in ("train_size", "train_dataset", "beta_star", "fits", "seeded_fit"):
        record[key] = meta.get(key)
    for key in ("beta_criterion", "beta_star_inflection", "beta_star_knee"):
        if key in meta:
            record[key] = meta[key]
    if "decoding" in memory.metadata:  # the primary decoding of a domain's metrics (protein)
        record["decoding"] = memory.metadata["decoding"]
    record["notes"] = list(memory.metadata.get("notes", []))
    for key, value in meta.items():
        if key.startswith("final_"):
            record[key] = value
    outputs["metrics"].write_text(json.dumps(record, indent=2, default=float) + "\n")


@step("paired")
def paired(params, inputs, outputs, seed, threads):
    """Paired differences ``first − second`` of N, D and Ē with their SE (SPEC §3).

    The two samplers share start draws (common random numbers), so chain group g of one
    is paired with chain group g of the other. params: ``first``, ``second`` (method names,
    recorded). inputs: ``memory``, ``first``, ``second`` (samples files). outputs: ``paired``
    (JSON: ``<metric>_diff`` and ``<metric>_diff_se`` for N, D, D_within, Ē and max-cos).
    """
    memory = load_memory_file(inputs["memory"])
    first, second = load_samples(inputs["first"]), load_samples(inputs["second"])
    if first["samples"].shape != second["samples"].shape or not np.array_equal(
        first["groups"], second["groups"]
    ):
        raise StepError(
            "paired differences need two samples files with the same chain groups "
            f"({inputs['first']}, {inputs['second']})"
        )
    energy_beta = float(first["metadata"]["energy_beta"])
    per_sample = {}
    for name, loaded in (("first", first), ("second", second)):
        best = metrics.max_cosine(loaded["samples"], memory.patterns)
        per_sample[name] = {
            "novelty": 1.0 - best,
            "max_cosine": best,
            "energy": energy.energy(memory.patterns, loaded["samples"], energy_beta),
        }
    groups = first["groups"]
    record = {"first": params.get("first"), "second": params.get("second")}
    for key in ("novelty", "max_cosine", "energy"):
        difference = per_sample["first"][key] - per_sample["second"][key]
        record[f"{key}_diff"] = float(np.mean(difference))
        record[f"{key}_diff_se"] = metrics.grouped_standard_error(difference, groups)
    within = []
    for g in np.unique(groups):
        mask = groups == g
        within.append(
            metrics.diversity(first["samples"][:, mask])
            - metrics.diversity(second["samples"][:, mask])
        )
    record["diversity_diff"] = metrics.diversity(first["samples"]) - metrics.diversity(
        second["samples"]
    )
    record["diversity_diff_se"] = float(np.std(within, ddof=1) / np.sqrt(len(within)))
    record["diversity_within_diff"] = float(np.mean(within))  # D_within(first) − D_within(second)
    record["diversity_within_diff_se"] = record["diversity_diff_se"]
    outputs["paired"].write_text(json.dumps(record, indent=2) + "\n")


# ------------------------------------------------------------------------------- tables


@step("experiment-table")
def experiment_table(params, inputs, outputs, seed, threads):
    """One experiment's table: a row per (dataset, method, swept values).

    params: the experiment plan (``rows``, ``paired``, ``labels``, ``columns``, ``title``).
    inputs: ``row0`` … (metrics JSON per row), ``pair0`` … (paired JSON).
    outputs: ``csv``, ``md``, ``tex``, ``html``.
    """
    from ..report import experiment_tables

    rows = [json.loads(inputs[f"row{i}"].read_text()) for i in range(len(params["rows"]))]
    pairs = [json.loads(inputs[f"pair{i}"].read_text()) for i in range(len(params["paired"]))]
    table, paired_table = experiment_tables.build(params, rows, pairs)
    notes = experiment_tables.notes(rows)
    experiment_tables.write(params, table, paired_table, outputs, notes)
    return {"rows": len(table)}


@step("figure")
def figure(params, inputs, outputs, seed, threads):
    """One figure of an experiment for one dataset (see ``report.experiment_figures``).

    params: ``figure`` (name), ``experiment``, ``dataset``, ``rows``, ``labels``, ``title``.
    inputs: ``memory``, ``samples<i>`` and ``metrics<i>`` per row of this dataset.
    outputs: ``figure``.
    """
    from ..report import experiment_figures

    experiment_figures.draw(params, inputs, outputs["figure"])


@step("summary")
def summary(params, inputs, outputs, seed, threads):
    """Every experiment's Markdown table in one page (``results/summary.md``).

    params: ``config_files`` (named at the top). inputs: one Markdown table per experiment
    (any names). outputs: ``summary``.
    """
    config_files = params.get("config_files") or []
    parts = ["# stochastic-attention: summary of results\n"]
    if config_files:
        parts.append(f"Config: {', '.join(config_files)}\n")
    for path in inputs.values():
        parts.append(path.read_text())
    outputs["summary"].write_text("\n".join(parts))


@step("claims")
def claims_table(params, inputs, outputs, seed, threads):
    """The paper's headline claims evaluated on this run (:mod:`stochastic_attention.claims`).

    params: ``claims`` (the config block), ``order`` (the claims' names in config order),
    ``lines`` (:func:`claims.plan_lines`, as dicts), ``refits`` (learned method → refits per
    replicate), ``title``. inputs: the files the
    lines read (any names). outputs: ``csv``, ``md``, ``tex``, ``html``.
    """
    from .. import claims

    lines = [claims.Line.from_dict(line) for line in params["lines"]]
    records = claims.read_inputs(inputs)
    summary, details = claims.evaluate(
        params["claims"], lines, records, params.get("refits"), params.get("order")
    )
    claims.write(summary, details, outputs, params.get("title") or claims.TITLE)
    return {"verdicts": dict(zip(summary["claim"], summary["verdict"], strict=True))}


@step("export")
def export(params, inputs, outputs, seed, threads):
    """Samples in the domain's own file format (FASTA for protein).

    params: none. inputs: ``memory``, ``samples``. outputs: ``export`` (its suffix is the
    domain's ``EXPORT_SUFFIX``).
    """
    memory = load_memory_file(inputs["memory"])
    domain = get_domain(memory.metadata["domain"])
    if not hasattr(domain, "export_samples"):
        raise StepError(f"domain {memory.metadata['domain']} has no sample export")
    domain.export_samples(load_samples(inputs["samples"]), memory, outputs["export"])
