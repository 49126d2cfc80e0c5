"""The paper's headline claims, evaluated on this run (``results/tables/claims.*``).

A claim is a config entry (``claims.<name>``), not code: a **figure** computed from table
rows of the run, a **comparison** and a **threshold**::

    claims:
      novelty_vs_vae:
        statement: "At generation temperature SA is 2.6× more novel than the VAE"
        figure: ratio                 # value | ratio | difference | paired_difference
        metric: novelty               # or a list: one line per metric
        first: {experiment: [E4, E5], method: sa_generation}
        second: {experiment: [E4, E5], method: vae}
        comparison: at_least          # at_least | at_most | matches
        threshold: 2.6

**Rows.** A side (``first``, ``second``) names one experiment or a list, and within it a
method (data experiments), optionally a ``dataset`` and ``where`` (swept values:
``{beta: 500}``; ``{series: real}`` of a sequence; ``{estimator: …}`` of a critical law).
Every table row it matches is used. Two sides are paired row by row on (experiment,
dataset, swept values); a side that matches a single row is paired with every row of the
other. Each pair is one **line** of the claims table.

**Figures** (``a``, ``b`` the two rows' values with SEs ``s_a``, ``s_b``):

* ``value``: ``a``, SE ``s_a``;
* ``ratio``: ``a / b``, SE by the delta method ``|a/b|·√((s_a/a)² + (s_b/b)²)`` (the two
  rows are independent runs);
* ``difference``: ``a − b``, SE ``√(s_a² + s_b²)``;
* ``paired_difference``: the experiment's paired ``a − b`` (same start draws), with the SE
  of the per-group differences (the pair must be listed under the experiment's ``paired``).

**SEs.** A data row's SE is its *replicate* SE: the SD over the R replicates / √R (the figure
is their mean); with R = 1 the SPEC §3 chain-group SE stands in and the line says so. A
paired difference has the chain-group SE of the difference (start-draw variation cancels).
A critical law's exponent has the SE of its least-squares slope; a sequence's share outside
the white-noise band has the binomial SE that a white-noise series would have.

**Verdict rule** (fixed before any number is seen; :func:`decide`), with z = 2:

* ``at_least t``: holds when ``value + z·SE ≥ t`` (the estimate reaches t within z SE);
* ``at_most t``: holds when ``value − z·SE ≤ t``;
* ``matches t``: holds when ``|value − t| ≤ max(z·SE, tolerance)`` (``tolerance`` defaults
  to 0); without an SE (and no tolerance) a match cannot be judged: not measurable;
* otherwise: does not hold. A line is **not measurable with this config** when a row does
  not exist in this config, a value is missing, a ratio's denominator is ≤ 0, or a
  ``matched_on`` condition fails (``|a − b|`` of that metric beyond z·SE of the difference:
  the comparison is not at matched values).

A claim with n lines holds when every line holds at the Bonferroni-widened
``z_n = Φ⁻¹(1 − p/(2n))``, ``p = 2(1 − Φ(2))`` (so z_1 = 2): a true claim checked on many
rows is not refuted by the one row in twenty that misses 2 SE by chance. It does not hold
when a line fails at z_n, and is not measurable otherwise.

The planning side (:func:`plan_lines`, called by the config checks and the workflow) turns
the config into lines with their input files; :func:`evaluate` is a pure function of the
claims, the lines and the loaded records; :func:`read_inputs` loads the files.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "COMPARISONS",
    "FIGURES",
    "HOLDS",
    "LAWS",
    "NOT_HOLDS",
    "NOT_MEASURABLE",
    "SOURCES",
    "Estimate",
    "Line",
    "RowRef",
    "check_claims",
    "claim_z",
    "combine",
    "decide",
    "evaluate",
    "plan_lines",
    "read_inputs",
]

FIGURES = ("value", "ratio", "difference", "paired_difference")
COMPARISONS = ("at_least", "at_most", "matches")
HOLDS, NOT_HOLDS, NOT_MEASURABLE = "holds", "does not hold", "not measurable with this config"
Z = 2.0
"""The z of a line's verdict: within 2 SE."""
SYMBOLS = {"at_least": "≥", "at_most": "≤", "matches": "="}


def claim_z(n_lines: int) -> float:
    """The Bonferroni-widened z of a claim checked on ``n_lines`` lines (z_1 = 2)."""
    from scipy import stats

    level = 2.0 * stats.norm.sf(Z)
    return float(stats.norm.isf(level / (2.0 * max(n_lines, 1))))


# ---------------------------------------------------------------------------- numbers


@dataclass(frozen=True)
class Estimate:
    """A figure and its SE (NaN when there is none); ``source`` says where the SE came from."""

    value: float
    se: float = float("nan")
    source: str = ""
    note: str = ""

    @property
    def missing(self) -> bool:
        return not math.isfinite(self.value)


MISSING = Estimate(float("nan"))


def _number(value: Any) -> float:
    if value is None or isinstance(value, bool | str):
        return float("nan")
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def combine(figure: str, first: Estimate, second: Estimate | None) -> Estimate:
    """The figure of a line from its rows' estimates (formulas in the module docstring)."""
    if figure in ("value", "paired_difference"):
        return first
    assert second is not None
    a, b, sa, sb = first.value, second.value, first.se, second.se
    sources = first.source if first.source == second.source else f"{first.source}; {second.source}"
    if figure == "difference":
        return Estimate(a - b, math.hypot(sa, sb), sources)
    if figure == "ratio":
        if not b > 0:
            return Estimate(float("nan"), note=f"the denominator is {b:.3g} (≤ 0): no ratio")
        ratio = a / b
        relative = math.hypot(sa / a if a else float("nan"), sb / b)
        return Estimate(ratio, abs(ratio) * relative, f"delta method ({sources})")
    raise ValueError(f"unknown figure {figure!r}; choose one of {FIGURES}")


def decide(
    estimate: Estimate,
    comparison: str,
    threshold: float,
    *,
    tolerance: float = 0.0,
    z: float = Z,
) -> str:
    """The verdict of one figure against its threshold (rule in the module docstring)."""
    value, se = estimate.value, estimate.se
    if not (math.isfinite(value) and math.isfinite(threshold)):
        return NOT_MEASURABLE
    spread = z * se if math.isfinite(se) else 0.0
    if comparison == "at_least":
        return HOLDS if value + spread >= threshold else NOT_HOLDS
    if comparison == "at_most":
        return HOLDS if value - spread <= threshold else NOT_HOLDS
    if comparison == "matches":
        if not math.isfinite(se) and tolerance <= 0:
            return NOT_MEASURABLE
        return HOLDS if abs(value - threshold) <= max(spread, tolerance) else NOT_HOLDS
    raise ValueError(f"unknown comparison {comparison!r}; choose one of {COMPARISONS}")


# ------------------------------------------------------------------------------- laws


def _retrieval_max_cos(record: Mapping[str, Any]) -> float:
    """SPEC §3 sanity law: max-cos ≈ (1 + d/β)^(−1/2), with d/β = α / (2 SNR²)."""
    alpha, snr = _number(record.get("alpha")), _number(record.get("snr"))
    if not (alpha > 0 and snr > 0):
        return float("nan")
    return (1.0 + alpha / (2.0 * snr**2)) ** -0.5


LAWS = {"retrieval_max_cos": _retrieval_max_cos}
"""Thresholds that depend on the row: ``threshold: {law: name}`` (data rows only)."""


# ------------------------------------------------------------------------------ rows


@dataclass(frozen=True)
class RowRef:
    """One table row a claim reads: its experiment, identity, file and how to read it.

    ``path`` is None when the row does not exist in this config (``missing`` says why).
    ``reader``: ``record`` (a metrics JSON), ``paired`` (a paired JSON) or ``table`` (one row
    of a CSV, selected by ``key``).
    """

    experiment: str
    key: tuple[tuple[str, Any], ...]
    path: str | None
    reader: str = "record"
    missing: str = ""
    label: str = ""

    def text(self, skip: Sequence[str] = ()) -> str:
        """``E14 mnist_digit3 sa_generation beta 500``: the experiment and the key's values
        (swept values with their names), leaving out the ``skip`` fields."""
        parts = [self.experiment]
        for name, value in self.key:
            if name in skip:
                continue
            plain = name in ("dataset", "method", "series", "estimator")
            parts.append(_show(value) if plain else f"{name} {_show(value)}")
        return " ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "key": [[name, value] for name, value in self.key],
            "path": self.path,
            "reader": self.reader,
            "missing": self.missing,
            "label": self.label,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RowRef:
        return cls(
            data["experiment"],
            tuple((name, value) for name, value in data["key"]),
            data["path"],
            data.get("reader", "record"),
            data.get("missing", ""),
            data.get("label", ""),
        )


def _show(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {_show(v)}" for k, v in value.items())
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class Line:
    """One row of the claims table: a claim's metric on one pair of rows."""

    claim: str
    metric: str
    first: RowRef
    second: RowRef | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "claim": self.claim,
            "metric": self.metric,
            "first": self.first.as_dict(),
            "second": None if self.second is None else self.second.as_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Line:
        second = data.get("second")
        return cls(
            data["claim"],
            data["metric"],
            RowRef.from_dict(data["first"]),
            None if second is None else RowRef.from_dict(second),
        )


def _error(message: str) -> Exception:
    from .errors import ConfigError

    return ConfigError(message)


class DataRows:
    """Rows of ``comparison``, ``sweep`` and ``spectrum`` experiments (metrics JSON files)."""

    KINDS = ("comparison", "sweep", "spectrum")
    PAIRED_METRICS = ("novelty", "diversity", "energy", "max_cosine")

    def metrics(self, experiment: Mapping[str, Any]) -> list[str]:
        from .report.experiment_tables import METRICS, TRAILING

        return [*METRICS, *TRAILING, *experiment.get("columns", [])]

    def where_keys(self, experiment: Mapping[str, Any]) -> list[str]:
        if experiment["kind"] == "spectrum":
            return ["beta"]
        return [key.split(".", 1)[1] for key in experiment.get("sweep", {})]

    def select(self, plan: Any, name: str, side: Mapping[str, Any], where: str) -> list[RowRef]:
        config = plan.config
        experiment = plan.experiments[name]
        block = experiment.config
        method = side.get("method")
        if method is None:
            raise _error(
                f"{where}: name the method (a {block['kind']} experiment's rows are methods)"
            )
        if method not in config["methods"]:
            raise _error(f"{where}.method: unknown method {method!r} (not under methods)")
        dataset = side.get("dataset")
        if dataset is not None and dataset not in config["datasets"]:
            raise _error(f"{where}.dataset: unknown dataset {dataset!r} (not under datasets)")
        conditions = dict(side.get("where", {}))
        allowed = self.where_keys(block)
        for key in conditions:
            if key not in allowed:
                known = ", ".join(allowed) or "none: this experiment sweeps nothing"
                raise _error(f"{where}.where: {name} does not sweep {key!r} (swept: {known})")
        methods = block.get("methods") or [block.get("method")]
        datasets = block.get("datasets") or [block.get("dataset")]
        key = tuple((k, v) for k, v in [("dataset", dataset), ("method", method)] if v)
        if method not in methods:
            return [RowRef(name, key, None, missing=f"{name} has no method {method}")]
        if dataset is not None and dataset not in datasets:
            return [RowRef(name, key, None, missing=f"{name} has no dataset {dataset}")]
        rows = []
        for row in experiment.rows:
            labels = dict(row.labels)
            if row.base_method != method or (dataset and row.base_dataset != dataset):
                continue
            if any(labels.get(k) != v for k, v in conditions.items()):
                continue
            rows.append(
                RowRef(
                    name,
                    (("dataset", row.base_dataset), ("method", method), *row.labels),
                    plan.metrics_path(row.dataset, row.method),
                    label=config["methods"][method].get("label", method),
                )
            )
        if not rows:
            shown = ", ".join(f"{k} {_show(v)}" for k, v in conditions.items())
            values = {
                k: list(dict.fromkeys(_show(dict(row.labels).get(k)) for row in experiment.rows))
                for k in conditions
            }
            known = "; ".join(f"{k}: {', '.join(v)}" for k, v in values.items())
            raise _error(f"{where}.where: {name} has no row with {shown} (it has {known})")
        return rows

    def paired(self, plan: Any, first: RowRef, second: RowRef) -> RowRef:
        """The paired-difference row of two rows of one experiment (or a missing one)."""
        experiment = plan.experiments[first.experiment]
        method_a, method_b = dict(first.key)["method"], dict(second.key)["method"]
        key = (*first.key[:1], ("method", f"{method_a} − {method_b}"), *first.key[2:])
        if first.experiment != second.experiment:
            return RowRef(first.experiment, key, None, "paired",
                          "a paired difference needs two rows of one experiment")  # fmt: skip
        for a, b in experiment.paired:
            if (a.base_method, b.base_method) != (method_a, method_b):
                continue
            if (a.base_dataset, a.labels) == (dict(first.key)["dataset"], first.key[2:]):
                path = plan.paired_path(a.dataset, a.method, b.method)
                label = f"{first.label} − {second.label}"
                return RowRef(first.experiment, key, path, "paired", label=label)
        return RowRef(first.experiment, key, None, "paired",
                      f"{first.experiment} does not pair {method_a} with {method_b}")  # fmt: skip

    @staticmethod
    def estimate(record: Mapping[str, Any], metric: str, reader: str) -> Estimate:
        if reader == "paired":
            value = _number(record.get(f"{metric}_diff"))
            return Estimate(value, _number(record.get(f"{metric}_diff_se")), "paired chain groups")
        value = _number(record.get(metric))
        replicates = int(record.get("replicates") or 1)
        spread = _number(record.get(f"{metric}_sd_rep"))
        if replicates > 1 and math.isfinite(spread):
            return Estimate(value, spread / math.sqrt(replicates), f"replicates (R = {replicates})")
        se = _number(record.get(f"{metric}_se"))
        return Estimate(value, se, "chain groups (R = 1)" if math.isfinite(se) else "no SE")


class TableRows:
    """Rows of an experiment's CSV, found by one key column (sequence, critical law)."""

    def __init__(self, kinds, column, suffix, metrics, se_source, names=None):
        self.KINDS = kinds
        self.column = column
        self.suffix = suffix
        self._metrics = metrics
        self.se_source = se_source
        self.names = names

    def metrics(self, experiment: Mapping[str, Any]) -> list[str]:
        return list(self._metrics() if callable(self._metrics) else self._metrics)

    def where_keys(self, experiment: Mapping[str, Any]) -> list[str]:
        return [self.column]

    def select(self, plan: Any, name: str, side: Mapping[str, Any], where: str) -> list[RowRef]:
        block = plan.experiments[name].config
        extra = sorted(set(side) - {"experiment", "where"})
        if extra:
            raise _error(
                f"{where}: a {block['kind']} experiment's rows are chosen by where: "
                f"{{{self.column}: …}}, not by {', '.join(extra)}"
            )
        conditions = dict(side.get("where", {}))
        for key in conditions:
            if key != self.column:
                raise _error(
                    f"{where}.where: {name}'s rows are chosen by {self.column!r}, not {key!r}"
                )
        path = f"{plan.results}/tables/{name}{self.suffix}"
        wanted = conditions.get(self.column)
        names = self.names(block) if self.names else None
        if wanted is not None and names is not None and wanted not in names:
            raise _error(
                f"{where}.where.{self.column}: {name} has no {self.column} {wanted!r} "
                f"(it has: {', '.join(names)})"
            )
        if wanted is not None:
            return [RowRef(name, ((self.column, wanted),), path, "table")]
        if names is None:
            raise _error(f"{where}: choose the row with where: {{{self.column}: …}}")
        return [RowRef(name, ((self.column, value),), path, "table") for value in names]

    def estimate(self, table: Any, key: Mapping[str, Any], metric: str) -> Estimate:
        rows = table[table[self.column].astype(str) == str(key[self.column])]
        if rows.empty or metric not in table.columns:
            return Estimate(float("nan"), note=f"no {self.column} {key[self.column]!r} / {metric}")
        row = rows.iloc[0]
        se = _number(row[f"{metric}_se"]) if f"{metric}_se" in table.columns else float("nan")
        return Estimate(_number(row[metric]), se, self.se_source.get(metric, "no SE"))


def _sequence_series(block: Mapping[str, Any]) -> list[str]:
    from .domains.finance_metrics import SAMPLER_SERIES

    return ["real", SAMPLER_SERIES, *block.get("methods", [])]


def _sequence_metrics() -> list[str]:
    from .domains.finance_metrics import SUMMARY_KEYS

    return ["days", *SUMMARY_KEYS, "acceptance"]


SOURCES: dict[str, Any] = {kind: DataRows() for kind in DataRows.KINDS}
"""How claims read each experiment kind's rows (a new kind adds its entry here)."""
SOURCES["sequence"] = TableRows(
    ("sequence",),
    "series",
    ".csv",
    _sequence_metrics,
    {f"outside_{s}": "binomial SE under white noise" for s in ("g", "g2", "abs")},
    _sequence_series,
)


def _critical_law_estimators(block: Mapping[str, Any]) -> list[str]:
    """The estimator rows of a critical law's fit table, as synthetic.critical_law names them
    (tests/test_claims.py checks the two agree)."""
    names = [
        f"{estimator} ({probes})"
        for probes in block.get("probe_sets", ["patterns", "random"])
        for estimator in ("steepest", "knee")
    ]
    return names + (["empirical"] if block.get("sweep", True) else [])


SOURCES["critical_law"] = TableRows(
    ("critical_law",),
    "estimator",
    "_fit.csv",
    ("exponent", "c_sqrt", "c_sqrt_spread", "prefactor", "r_squared"),
    {"exponent": "least-squares slope"},
    _critical_law_estimators,
)


# ---------------------------------------------------------------------------- planning


def _experiments(side: Mapping[str, Any]) -> list[str]:
    names = side["experiment"]
    return [names] if isinstance(names, str) else list(names)


def _side_rows(plan: Any, claim: str, side_name: str, side: Any, metrics: list[str]):
    """The rows of one side: a selector, or a list of selectors (their rows in order)."""
    if not isinstance(side, Mapping):
        rows: list[RowRef] = []
        for i, selector in enumerate(side):
            rows += _side_rows(plan, claim, f"{side_name}[{i}]", selector, metrics)
        return rows
    where = f"claims.{claim}.{side_name}"
    rows = []
    for name in _experiments(side):
        if name not in plan.experiments:
            known = ", ".join(plan.experiments)
            raise _error(f"{where}.experiment: unknown experiment {name!r} (known: {known})")
        block = plan.experiments[name].config
        source = SOURCES.get(block["kind"])
        if source is None:
            raise _error(
                f"{where}.experiment: claims cannot read {name!r} (kind {block['kind']}); "
                f"they read experiments of kind {', '.join(SOURCES)}"
            )
        known = source.metrics(block)
        for metric in metrics:
            if metric not in known:
                hint = (
                    f"; add it to experiments.{name}.columns"
                    if block["kind"] in DataRows.KINDS
                    else ""
                )
                raise _error(
                    f"claims.{claim}.metric: {name}'s table has no {metric!r} "
                    f"(it has: {', '.join(known)}){hint}"
                )
        rows += source.select(plan, name, side, where)
    return rows


def _identity(row: RowRef) -> tuple:
    """What pairs two sides' rows: experiment, dataset and swept values (not the method)."""
    return (row.experiment, json.dumps([kv for kv in row.key if kv[0] != "method"], default=str))


def _align(claim: str, first: list[RowRef], second: list[RowRef]) -> list[tuple[RowRef, RowRef]]:
    """Pairs of rows (rules in the module docstring); a row missing from this config on
    one side pairs with the other side's rows of the same experiment (not measurable)."""
    if len(second) == 1:
        return [(row, second[0]) for row in first]
    if len(first) == 1:
        return [(first[0], row) for row in second]
    by_identity = {_identity(row): row for row in second if row.path is not None}
    missing_second = {row.experiment: row for row in second if row.path is None}
    pairs, unpaired = [], []
    for row in first:
        if row.path is None:
            partners = [b for b in second if b.experiment == row.experiment] or [second[0]]
            pairs += [(row, partner) for partner in partners[:1]]
            continue
        partner = by_identity.get(_identity(row), missing_second.get(row.experiment))
        if partner is None:
            unpaired.append(row.text())
        else:
            pairs.append((row, partner))
    if unpaired:
        raise _error(
            f"claims.{claim}: cannot pair rows of first and second: no partner for "
            f"{'; '.join(unpaired)} (sides with several rows pair on experiment, dataset and "
            "swept values; narrow a side to one row with dataset or where)"
        )
    return pairs


def _metrics_of(claim: Mapping[str, Any]) -> list[str]:
    metric = claim["metric"]
    return [metric] if isinstance(metric, str) else list(metric)


def _check_claim(name: str, claim: Mapping[str, Any]) -> None:
    figure = claim["figure"]
    if figure == "value" and "second" in claim:
        raise _error(f"claims.{name}.second: a value figure reads one row; drop second")
    if figure != "value" and "second" not in claim:
        raise _error(f"claims.{name}: a {figure} figure compares two rows; add second")
    if claim.get("matched_on") and figure not in ("ratio", "difference"):
        raise _error(f"claims.{name}.matched_on: only ratio and difference figures compare rows")
    threshold = claim["threshold"]
    if isinstance(threshold, Mapping):
        if threshold.get("law") not in LAWS:
            raise _error(f"claims.{name}.threshold: unknown law {threshold.get('law')!r} "
                         f"(known: {', '.join(LAWS)})")  # fmt: skip
        if figure != "value":
            raise _error(f"claims.{name}.threshold: a law gives the target of a value figure")
    if claim.get("tolerance", 0) and claim["comparison"] != "matches":
        raise _error(f"claims.{name}.tolerance: only a matches comparison has a tolerance")


def plan_lines(plan: Any) -> list[Line]:
    """Every line of the claims table, with the files it reads (ConfigError on bad claims)."""
    lines: list[Line] = []
    if plan.config.get("claims") and "claims" in plan.experiments:
        raise _error("experiments.claims: the name 'claims' is the claims table's; rename it")
    for name, claim in (plan.config.get("claims") or {}).items():
        _check_claim(name, claim)
        metrics = _metrics_of(claim)
        needed = metrics + list(claim.get("matched_on", []))
        if claim["figure"] == "paired_difference":
            for metric in metrics:
                if metric not in DataRows.PAIRED_METRICS:
                    raise _error(
                        f"claims.{name}.metric: paired differences exist for "
                        f"{', '.join(DataRows.PAIRED_METRICS)}, not {metric!r}"
                    )
        first = _side_rows(plan, name, "first", claim["first"], needed)
        if claim["figure"] == "value":
            pairs: list[tuple[RowRef, RowRef | None]] = [(row, None) for row in first]
        else:
            second = _side_rows(plan, name, "second", claim["second"], needed)
            pairs = list(_align(name, first, second))
        if claim["figure"] == "paired_difference":
            pairs = [(_paired(plan, name, a, b), None) for a, b in pairs]
        for a, b in pairs:
            lines += [Line(name, metric, a, b) for metric in metrics]
    return lines


def _paired(plan: Any, claim: str, first: RowRef, second: RowRef) -> RowRef:
    for row in (first, second):
        if plan.experiments[row.experiment].kind not in DataRows.KINDS:
            raise _error(f"claims.{claim}: paired differences exist only in data experiments")
    if first.path is None or second.path is None:
        return RowRef(first.experiment, first.key, None, "paired", first.missing or second.missing)
    return SOURCES[plan.experiments[first.experiment].kind].paired(plan, first, second)


def check_claims(config: dict) -> None:
    """Check-time validation of ``config['claims']`` (raises ConfigError naming the claim)."""
    if not config.get("claims"):
        return
    from .plan import build_plan

    plan_lines(build_plan(config))


def input_paths(lines: Sequence[Line]) -> list[str]:
    """The distinct files the lines read, in order."""
    paths = []
    for line in lines:
        for row in (line.first, line.second):
            if row is not None and row.path and row.path not in paths:
                paths.append(row.path)
    return paths


# --------------------------------------------------------------------------- evaluation


def read_inputs(paths: Mapping[str, Path]) -> dict[str, Any]:
    """Load each input file: JSON records as dicts, CSV tables as DataFrames (by path)."""
    import pandas as pd

    loaded = {}
    for path in paths.values():
        loaded[str(path)] = (
            pd.read_csv(path) if str(path).endswith(".csv") else json.loads(Path(path).read_text())
        )
    return loaded


def _row_estimate(row: RowRef | None, metric: str, records: Mapping[str, Any]) -> Estimate:
    if row is None:
        return MISSING
    if row.path is None:
        return Estimate(float("nan"), note=row.missing)
    if row.path not in records:
        return Estimate(float("nan"), note=f"{row.path} was not read")
    record = records[row.path]
    if row.reader == "table":
        source = next(
            s for s in SOURCES.values() if isinstance(s, TableRows) and s.column == row.key[0][0]
        )
        return source.estimate(record, dict(row.key), metric)
    estimate = DataRows.estimate(record, metric, row.reader)
    if estimate.missing:
        return Estimate(float("nan"), note=f"{row.text()} has no {metric}")
    return estimate


def _one_fit_note(row: RowRef | None, records: Mapping[str, Any], refits: Mapping[str, bool]):
    """A learned baseline fitted once: its replicate SD holds draws of one fit only."""
    if row is None or row.reader != "record" or row.path not in records:
        return ""
    record = records[row.path]
    method = record.get("method", "")
    if "fits" in record:  # the record says how many fits its replicates drew from
        from .report.experiment_tables import one_fit

        return f"{method}: SD from draws of one fit" if one_fit(record) else ""
    if record.get("category") == "learned" and not refits.get(method, True):
        return f"{method}: SD from draws of one fit"
    return ""


@dataclass
class LineResult:
    """A line's figure and verdict, with the row texts and notes shown in the table."""

    line: Line
    estimate: Estimate
    threshold: float
    verdict: str
    notes: list[str] = field(default_factory=list)


def _threshold(claim: Mapping[str, Any], row: RowRef, records: Mapping[str, Any]) -> float:
    threshold = claim["threshold"]
    if isinstance(threshold, Mapping):
        record = records.get(row.path or "")
        return LAWS[threshold["law"]](record) if isinstance(record, Mapping) else float("nan")
    return float(threshold)


def evaluate_line(
    claim: Mapping[str, Any],
    line: Line,
    records: Mapping[str, Any],
    refits: Mapping[str, bool] | None = None,
) -> LineResult:
    """One line: its figure from the loaded ``records`` (by path) and its verdict at z = 2."""
    first = _row_estimate(line.first, line.metric, records)
    second = _row_estimate(line.second, line.metric, records) if line.second else None
    notes = [n for n in (first.note, second.note if second else "") if n]
    for row in (line.first, line.second):
        note = _one_fit_note(row, records, refits or {})
        if note and note not in notes:
            notes.append(note)
    threshold = _threshold(claim, line.first, records)
    if first.missing or (second is not None and second.missing):
        return LineResult(line, MISSING, threshold, NOT_MEASURABLE, notes)
    estimate = combine(claim["figure"], first, second)
    if estimate.note:
        notes.append(estimate.note)
    if estimate.missing:
        return LineResult(line, estimate, threshold, NOT_MEASURABLE, notes)
    if not math.isfinite(estimate.se):
        notes.append("no SE: compared directly")
    verdict = decide(estimate, claim["comparison"], threshold,
                     tolerance=float(claim.get("tolerance", 0.0)))  # fmt: skip
    for metric in claim.get("matched_on", []):
        a = _row_estimate(line.first, metric, records)
        b = _row_estimate(line.second, metric, records)
        gap = combine("difference", a, b)
        matched = decide(gap, "matches", 0.0) == HOLDS
        notes.append(
            f"{metric} {'matched' if matched else 'not matched'}: "
            f"{_value_text(a)} vs {_value_text(b)}"
        )
        if not matched:
            verdict = NOT_MEASURABLE
    return LineResult(line, estimate, threshold, verdict, notes)


def _value_text(estimate: Estimate) -> str:
    from .report.tables import format_value_se

    if not math.isfinite(estimate.se) or estimate.se == 0:
        return f"{estimate.value:.4g}"
    return format_value_se(estimate.value, estimate.se)


def claim_verdict(claim: Mapping[str, Any], results: Sequence[LineResult]) -> tuple[str, float]:
    """A claim's verdict over its lines, at the Bonferroni-widened z_n; returns (verdict, z_n)."""
    z = claim_z(len(results))
    verdicts = []
    for result in results:
        if result.verdict == NOT_MEASURABLE:
            verdicts.append(NOT_MEASURABLE)
            continue
        verdicts.append(decide(result.estimate, claim["comparison"], result.threshold,
                               tolerance=float(claim.get("tolerance", 0.0)), z=z))  # fmt: skip
    if verdicts and all(v == HOLDS for v in verdicts):
        return HOLDS, z
    if any(v == NOT_HOLDS for v in verdicts):
        return NOT_HOLDS, z
    return NOT_MEASURABLE, z


def _figure_text(claim: Mapping[str, Any], line: Line) -> str:
    def side(row: RowRef | None) -> str:
        if row is None:
            return ""
        key = dict(row.key)
        return str(key.get("method", key.get("series", key.get("estimator", ""))))

    a, b = side(line.first), side(line.second)
    figure = claim["figure"]
    if figure == "ratio":
        return f"{line.metric}: {a} / {b}"
    if figure == "difference":
        return f"{line.metric}: {a} − {b}"
    if figure == "paired_difference":
        return f"{line.metric}: {a} (paired)"
    return f"{line.metric}: {a}"


def _row_text(line: Line) -> str:
    def rest(row: RowRef) -> str:
        return row.text(skip=("method", "series", "estimator"))

    first = rest(line.first)
    if line.second is None or line.second.path is None:  # a missing row: the note says which
        return first
    second = rest(line.second)
    return first if second == first else f"{first} vs {second}"


def _threshold_text(claim: Mapping[str, Any], threshold: float) -> str:
    symbol = SYMBOLS[claim["comparison"]]
    shown = f"{threshold:.5g}" if math.isfinite(threshold) else "–"
    if isinstance(claim["threshold"], Mapping):
        shown = f"{claim['threshold']['law']} = {shown}"
    if claim.get("tolerance"):
        shown += f" (tolerance {claim['tolerance']:g})"
    return f"{symbol} {shown}"


def evaluate(
    claims: Mapping[str, Mapping[str, Any]],
    lines: Sequence[Line],
    records: Mapping[str, Any],
    refits: Mapping[str, bool] | None = None,
    order: Sequence[str] | None = None,
):
    """The claims table: (summary per claim, one row per line) as DataFrames.

    ``records`` maps each input path to its loaded content (:func:`read_inputs`);
    ``refits`` maps a learned method's name to whether it refits per replicate (a row of a
    method fitted once is marked); ``order`` the claims' order (default: that of ``claims``).
    """
    import pandas as pd

    by_claim: dict[str, list[LineResult]] = {name: [] for name in (order or claims)}
    for line in lines:
        by_claim[line.claim].append(evaluate_line(claims[line.claim], line, records, refits))
    summary, details = [], []
    for name, results in by_claim.items():
        claim = claims[name]
        verdict, z = claim_verdict(claim, results)
        verdicts = [result.verdict for result in results]
        counts = {v: verdicts.count(v) for v in (HOLDS, NOT_HOLDS, NOT_MEASURABLE)}
        short = {HOLDS: "hold", NOT_HOLDS: "do not hold", NOT_MEASURABLE: "not measurable"}
        tally = ", ".join(f"{n} {short[v]}" for v, n in counts.items() if n)
        summary.append(
            {
                "claim": name,
                "verdict": verdict,
                "lines (each at 2 SE)": f"{len(results)}: {tally}" if results else "0",
                "z of the claim": round(z, 2),
                "statement": claim["statement"],
            }
        )
        for result in results:
            details.append(
                {
                    "claim": name,
                    "rows": _row_text(result.line),
                    "figure": _figure_text(claim, result.line),
                    "estimate": result.estimate.value,
                    "estimate_se": result.estimate.se,
                    "SE from": result.estimate.source or "–",
                    "threshold": _threshold_text(claim, result.threshold),
                    "verdict": result.verdict,
                    "claim verdict": verdict,
                    "note": "; ".join(result.notes),
                }
            )
    return pd.DataFrame(summary), pd.DataFrame(details)


RULE = (
    "Verdict rule (z = 2): 'at least t' holds when estimate + z·SE ≥ t; 'at most t' when "
    "estimate − z·SE ≤ t; 'matches t' when |estimate − t| ≤ max(z·SE, tolerance). A line is "
    "not measurable when a row is missing from this config, a value is missing, a ratio's "
    "denominator is ≤ 0, a match has no SE, or a matched_on metric differs by more than "
    "z·SE. A claim holds when every line holds at the Bonferroni-widened z of its n lines "
    "(z_n = Φ⁻¹(1 − 0.0455/(2n)), z_1 = 2), does not hold when a line fails at z_n, and is "
    "not measurable otherwise. SEs: replicate SE (SD over replicates / √R) of data rows; "
    "chain-group SE of paired differences; least-squares SE of a fitted exponent; for a "
    "sequence's share outside the 99 % band, the binomial SE a white-noise series would have. "
    "A ratio's SE is the delta method on independent rows."
)


def write(summary: Any, details: Any, outputs: Mapping[str, Path], title: str) -> None:
    """CSV (one row per line, full precision), and Markdown, LaTeX and HTML documents."""
    from .report import tables

    details.to_csv(outputs["csv"], index=False, float_format="%.10g")
    sections = [("", RULE), ("Claims", summary), ("Lines (one per row compared)", details)]
    tables.write_document(
        title,
        sections,
        markdown_path=outputs.get("md"),
        latex_path=outputs.get("tex"),
        html_path=outputs.get("html"),
    )


TITLE = "Claims of the paper, evaluated on this run"


def claims_params(plan: Any, lines: Sequence[Line]) -> str:
    """JSON params of the claims step: the claims, their lines and which learned methods refit."""
    from .methods.base import get_method

    refits = {
        name: bool(spec.get("refit_replicates", True))
        for name, spec in plan.methods.items()
        if get_method(spec["kind"]).CATEGORY == "learned"
    }
    return json.dumps(
        {
            "claims": plan.config.get("claims", {}),
            "order": list(plan.config.get("claims", {})),  # the JSON sorts the claims' keys
            "lines": [line.as_dict() for line in lines],
            "refits": refits,
            "title": TITLE,
        },
        sort_keys=True,
        default=str,
    )
