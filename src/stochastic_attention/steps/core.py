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
from ..methods.base import RunContext, SampleResult, StartDraw, get_method
from ..seeds import derive_seed

__all__ = ["load_samples", "resolve_beta", "start_draw"]

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

    if rank > min(memory.memory.shape):
        raise StepError(
            f"pca_rank {rank} exceeds min(d, K) = {min(memory.memory.shape)} of this memory"
        )
    reduced, basis = pca_projection(memory.memory, rank)
    arrays = dict(memory.arrays) | {"pca_basis": basis, "full_memory": memory.memory}
    metadata = memory.metadata | {"pca_rank": rank, "full_d": memory.d}
    return Memory(reduced, metadata, arrays)


@step("memory")
def build_memory(params, inputs, outputs, seed, threads):
    """Raw data → the memory matrix of one dataset.

    params: ``dataset`` (name), ``spec`` (the dataset's config block, with ``domain``),
    ``seed`` (the config's, only with ``selection: random``).
    inputs: ``raw`` and ``provenance`` (domains with a source), the domain's own files.
    outputs: ``memory``.
    """
    spec = dict(params["spec"])
    domain = get_domain(spec["domain"])
    if spec.get("selection") == "random":  # which K files: from the config's seed and name
        base = int(params.get("seed", seed))
        spec["selection_seed"] = derive_seed(base, "selection", params["dataset"])
    built = domain.build_memory(spec, inputs.get("raw"))
    # every domain, also a plug-in: a NaN or zero column fails here, naming the column
    check_columns(built.memory, f"dataset {params['dataset']} ({spec['domain']} memory)")
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
    memory = Memory(built.memory, metadata, built.arrays)
    if spec.get("pca_rank"):
        memory = _pca_transform(memory, int(spec["pca_rank"]))
    save_memory_file(outputs["memory"], memory)
    return {"shape": list(memory.memory.shape)}


# ------------------------------------------------------------------------------ sample


def resolve_beta(rule: Any, memory: Memory, alpha: float | None, cache: dict) -> float:
    """A β from config: a number, ``{critical: c, criterion: …}`` (c·β* of the memory by the
    criterion, default inflection) or ``{snr: s}``.

    ``cache`` keeps the memory's :class:`~energy.CriticalTemperature` (both criteria, computed
    once) under ``critical`` and records the β* used (``beta_star``), its ``beta_criterion``
    and both values (``beta_star_inflection``, ``beta_star_knee``).
    """
    if isinstance(rule, int | float):
        return float(rule)
    if "critical" in rule:
        if "critical" not in cache:
            cache["critical"] = energy.critical_beta(memory.memory)
        critical = cache["critical"]
        criterion = rule.get("criterion", energy.DEFAULT_CRITERION)
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


def start_draw(memory: np.ndarray, protocol: str, options: dict, seeds: list[int]) -> StartDraw:
    """The common start draw of one dataset and protocol for every replicate.

    Replicate r draws from ``seeds[r]`` (derived from dataset, protocol and replicate, never
    from the method): multi-chain starts at ``n_chains`` distinct stored patterns (with
    replacement only when C > K), single-chain at ``start_pattern``; both add
    ``N(0, init_noise² I)``. Chains of all replicates are concatenated: (d, R·C).
    """
    from ..samplers import draw_starts

    n_patterns = memory.shape[1]
    patterns, states = [], []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        noise = float(options.get("init_noise", 0.01))
        if protocol == "multi_chain":
            starts, initial = draw_starts(memory, int(options["n_chains"]), noise, rng)
        else:
            start = int(options.get("start_pattern", 0))
            if not 0 <= start < n_patterns:
                raise StepError(
                    f"protocols: start_pattern {start} is not a column of this memory "
                    f"(K = {n_patterns})"
                )
            starts = np.array([start])
            initial = memory[:, starts] + noise * rng.standard_normal((memory.shape[0], 1))
        patterns.append(starts)
        states.append(initial)
    return StartDraw(np.concatenate(patterns), np.concatenate(states, axis=1))


def _replicate_seed(base: int, *keys: str, replicate: int) -> int:
    """Replicate 0 keeps the plain job seed, so one replicate equals the earlier runs."""
    extra = () if replicate == 0 else (f"replicate{replicate}",)
    return derive_seed(base, *keys, *extra)


def _concatenate(results: list[SampleResult]) -> tuple[SampleResult, np.ndarray]:
    """Stack per-replicate results: groups renumbered, replicate ids per sample."""
    groups, replicate, offset = [], [], 0
    for r, result in enumerate(results):
        groups.append(np.asarray(result.groups) + offset)
        offset = int(groups[-1].max()) + 1
        replicate.append(np.full(result.samples.shape[1], r))
    arrays: dict[str, np.ndarray] = {}
    for key in results[0].arrays:
        values = [np.asarray(result.arrays[key]) for result in results]
        if key.startswith("loss_"):  # one training history per replicate: (R, epochs)
            arrays[key] = np.full((len(values), max(v.size for v in values)), np.nan)
            for r, value in enumerate(values):
                arrays[key][r, : value.size] = value.ravel()
        else:
            arrays[key] = np.concatenate(values, axis=-1) if values[0].ndim else np.stack(values)
    scalars = dict(results[0].scalars)
    for key, value in results[0].scalars.items():
        column = [result.scalars.get(key) for result in results]
        if key.endswith("seconds"):
            scalars[key] = float(sum(value or 0.0 for value in column))
        elif key.startswith("final_") and isinstance(value, int | float) and len(column) > 1:
            scalars[key] = float(np.mean(column))  # one final loss per refit: mean, SD, each
            scalars[f"{key}_sd_rep"] = float(np.std(column, ddof=1))
            scalars[f"{key}_replicates"] = [float(v) for v in column]
    merged = SampleResult(
        np.concatenate([result.samples for result in results], axis=1),
        np.concatenate(groups),
        arrays,
        scalars,
    )
    return merged, np.concatenate(replicate)


def _refits(kind: Any, spec: dict) -> bool:
    """Whether a learned kind fits once per replicate: ``refit_replicates`` (default true),
    unless the kind's fit draws nothing at random (``SEEDED_FIT = False``: refits would be
    identical, so one fit is drawn R times)."""
    return bool(spec.get("refit_replicates", True)) and bool(getattr(kind, "SEEDED_FIT", True))


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

    params: the method's resolved spec (``kind``, ``category``, ``replicates``, ``seed`` =
    the config's base seed, ``dataset``, ``method``, protocol and kind parameters).
    inputs: ``memory``; ``reference`` (controls); ``train_memory`` (learned, other data).
    outputs: ``samples``.
    """
    memory = load_memory_file(inputs["memory"])
    spec = dict(params)
    kind = get_method(spec["kind"])
    replicates = int(spec.get("replicates", 1))
    base = int(spec.get("seed", 0))
    dataset, method = spec["dataset"], spec["method"]
    cache: dict = {}
    if kind.CATEGORY == "sampler":
        spec["beta"] = resolve_beta(spec["beta"], memory, spec["alpha"], cache)
        spec["energy_beta"] = spec["beta"]
    else:
        if "energy_beta" not in spec:
            raise StepError(
                f"method {method}: a baseline needs energy_beta (the β its energies are "
                "reported at), on the method or on the experiment"
            )
        spec["energy_beta"] = resolve_beta(spec["energy_beta"], memory, spec.get("alpha"), cache)
        if spec["kind"] == "gaussian":  # its noise temperature: its own β, else energy_beta
            spec["beta"] = resolve_beta(spec.get("beta", spec["energy_beta"]), memory,
                                        spec.get("alpha"), cache)
    seeds = {"method": [_replicate_seed(base, dataset, method, replicate=r)
                        for r in range(replicates)]}
    train = load_memory_file(inputs["train_memory"]) if "train_memory" in inputs else None
    reference = load_samples(inputs["reference"]) if "reference" in inputs else None

    def context(r: int, **extra: Any) -> RunContext:
        return RunContext(
            rng=np.random.default_rng(seeds["method"][r]),
            seed=seeds["method"][r],
            threads=threads,
            replicate=r,
            train_memory=train,
            progress=_progress(f"{method} on {dataset}"),
            **extra,
        )

    if kind.CATEGORY == "sampler":
        protocol = spec["protocol"]
        seeds["start"] = [
            derive_seed(base, "start", dataset, protocol, f"replicate{r}")
            for r in range(replicates)
        ]
        options = spec["protocol_params"]
        start = start_draw(memory.memory, options.get("kind", protocol), options, seeds["start"])
        result = kind.run(memory, spec, context(0, start=start))
        per_replicate = start.start_patterns.size // replicates
        replicate_ids = np.asarray(result.arrays["chains"]) // per_replicate
    elif getattr(kind, "run_replicates", None) is not None:  # learned: fits per replicate
        contexts = [context(r) for r in range(replicates)]
        result, replicate_ids = kind.run_replicates(memory, spec, contexts)
    elif kind.CATEGORY == "learned" and not _refits(kind, spec):
        scaled = spec | {"n_samples": spec["n_samples"] * replicates}
        if "select_top_of" in spec:
            scaled["select_top_of"] = spec["select_top_of"] * replicates
        result = kind.run(memory, scaled, context(0))
        result.scalars.setdefault("fits", 1)
        replicate_ids = np.arange(result.samples.shape[1]) // int(spec["n_samples"])
    else:
        runs = []
        for r in range(replicates):
            extra = {}
            if reference is not None:
                mask = reference.get("replicate", np.zeros(reference["samples"].shape[1])) == r
                extra["reference"] = reference["samples"][:, mask]
            runs.append(kind.run(memory, spec, context(r, **extra)))
        result, replicate_ids = _concatenate(runs)
        if kind.CATEGORY == "learned":
            result.scalars.setdefault("fits", replicates)
    if kind.CATEGORY == "learned":
        result.scalars["seeded_fit"] = bool(getattr(kind, "SEEDED_FIT", True))
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
    rows = []
    for r in np.unique(replicate):
        mask = replicate == r
        samples, groups = loaded["samples"][:, mask], loaded["groups"][mask]
        row = metrics.summarise(samples, memory.memory, energy_beta, groups).as_dict()
        row.pop("beta", None)
        row["frechet_diagonal"] = metrics.frechet_diagonal(samples, memory.memory)
        if hasattr(domain, "domain_metrics"):
            sampler_beta = meta.get("beta") if meta["category"] == "sampler" else None
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
        best = metrics.max_cosine(loaded["samples"], memory.memory)
        per_sample[name] = {
            "novelty": 1.0 - best,
            "max_cosine": best,
            "energy": energy.energy(memory.memory, loaded["samples"], energy_beta),
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


# ---------------------------------------------------------------------------- sequence


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
    lags = int(params.get("lags", 10))
    returns, _, acceptance = finance.sequence_run(
        memory, alpha=float(params["alpha"]), rng=rng, beta=float(params["beta"]),
        inner_steps=int(params["inner_steps"]), n_days=n_days,
    )  # fmt: skip
    series = {"real": memory.arrays["returns"][:, -n_days:], SAMPLER_SERIES: returns}
    for name in params.get("methods", []):
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
