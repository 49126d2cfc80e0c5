"""Config → the jobs and targets of the workflow (no logic lives in the .smk files).

:func:`build_plan` expands a validated config into a :class:`Plan`:

* every **dataset** and **method** the experiments use, including *derived* ones: a sweep
  over ``method.alpha`` makes one method per value (``sa_retrieval__alpha_0p005``), a sweep
  over ``dataset.n_patterns`` one dataset per value (``mnist_digit3__n_patterns_500``), a
  spectrum one method per β (``sa_generation__beta_50``);
* the **sample jobs** ``(dataset, method)`` (each one job for all replicates);
* per experiment its table **rows** (dataset, method and the swept values), its **paired**
  differences and its **figures** (one per figure name and dataset).

Derived names join the base name, the key and a token of the value with ``__``, which
user names may not contain, so they never collide. Every path the workflow writes is made
here too, under ``results_dir``.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from .experiments import base as experiments
from .experiments.base import get_experiment
from .methods.base import get_method, logs_loss, samples_at_beta, uses_protocol
from .seeds import derive_seed, replicate_seeds

__all__ = [
    "ExperimentPlan",
    "Plan",
    "Row",
    "add_dependencies",
    "build_plan",
    "expand_rows",
    "grid",
    "token",
]

BASELINE_KEYS = ("energy_beta", "n_samples")
"""Experiment keys that override every baseline of the experiment (a method kind that does
not sample at its own β, :func:`~.methods.base.samples_at_beta`)."""


def token(value: Any) -> str:
    """A file-name-safe token of a config value: 0.005 → 0p005, {critical: 5} → critical5."""
    if isinstance(value, dict):
        return "".join(f"{key}{token(item)}" for key, item in sorted(value.items()))
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    text = f"{value:g}" if isinstance(value, float) else str(value)
    text = text.replace(".", "p").replace("-", "m").replace("+", "")
    return "".join(c if c.isalnum() else "_" for c in text)


@dataclass(frozen=True)
class Row:
    """One table row: a dataset, a method and the swept values that made them."""

    dataset: str
    method: str
    labels: tuple[tuple[str, Any], ...] = ()
    base_dataset: str = ""
    base_method: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.base_dataset or self.dataset,
            "method": self.base_method or self.method,
            **dict(self.labels),
            "_dataset": self.dataset,
            "_method": self.method,
        }


@dataclass
class ExperimentPlan:
    """What one experiment computes: its rows, paired differences and figures."""

    name: str
    kind: str
    config: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    paired: list[tuple[Row, Row]] = field(default_factory=list)
    figures: list[tuple[str, str]] = field(default_factory=list)  # (figure, base dataset)

    def rows_of(self, dataset: str) -> list[Row]:
        """Rows whose base dataset is ``dataset``."""
        return [row for row in self.rows if (row.base_dataset or row.dataset) == dataset]


@dataclass
class Plan:
    """The expanded config: datasets, methods, sample jobs and experiments."""

    config: dict[str, Any]
    datasets: dict[str, dict] = field(default_factory=dict)
    methods: dict[str, dict] = field(default_factory=dict)
    experiments: dict[str, ExperimentPlan] = field(default_factory=dict)
    jobs: set[tuple[str, str]] = field(default_factory=set)

    # ---------------------------------------------------------------- paths
    @property
    def results(self) -> str:
        return self.config["results_dir"]

    def domain(self, dataset: str) -> str:
        return self.datasets[dataset]["domain"]

    def raw_path(self, domain: str) -> str:
        """The fetched raw file of a domain, named by a digest of its source block.

        Two configs with the same source share the download; a different source (another
        window, file or URL) gets its own file, so smoke and full runs never overwrite each
        other's raw data.
        """
        source = json.dumps(self.config.get("sources", {}).get(domain, {}), sort_keys=True)
        digest = hashlib.sha256(source.encode()).hexdigest()[:10]
        return f"resources/{domain}/{domain}-{digest}.npz"

    def memory_path(self, dataset: str) -> str:
        return f"{self.results}/memory/{self.domain(dataset)}/{dataset}.npz"

    def samples_path(self, dataset: str, method: str) -> str:
        return f"{self.results}/samples/{self.domain(dataset)}/{dataset}/{method}.npz"

    def metrics_path(self, dataset: str, method: str) -> str:
        return f"{self.results}/metrics/{self.domain(dataset)}/{dataset}/{method}.json"

    def paired_path(self, dataset: str, first: str, second: str) -> str:
        domain = self.domain(dataset)
        return f"{self.results}/metrics/{domain}/{dataset}/paired/{first}__minus__{second}.json"

    def table_paths(self, experiment: str) -> dict[str, str]:
        stem = f"{self.results}/tables/{experiment}"
        return {s: f"{stem}.{s}" for s in ("csv", "md", "tex", "html")}

    def figure_path(self, experiment: str, figure: str, dataset: str) -> str:
        return f"{self.results}/figures/{experiment}/{dataset}/{figure}.png"

    # ---------------------------------------------------------------- inputs
    def sample_inputs(self, dataset: str, method: str) -> dict[str, str]:
        """Input files of a sample job: the memory, a control's reference, a training memory."""
        spec = self.methods[method]
        inputs = {"memory": self.memory_path(dataset)}
        if spec.get("reference"):
            inputs["reference"] = self.samples_path(dataset, spec["reference"])
        if spec.get("train_dataset"):
            inputs["train_memory"] = self.memory_path(spec["train_dataset"])
        return inputs

    def sample_spec(self, dataset: str, method: str) -> dict[str, Any]:
        """Everything a sample job depends on, as one dict (a change re-runs the job)."""
        spec = copy.deepcopy(self.methods[method])
        for key in ("threads", "reference", "train_dataset", "label", "base"):
            spec.pop(key, None)
        for key in ("beta", "energy_beta"):
            if key in spec:
                spec[key] = self.beta_rule(spec[key])
        kind = get_method(spec["kind"])
        spec["category"] = kind.CATEGORY
        spec["replicates"] = spec.get("replicates", self.config["replicates"])
        if uses_protocol(kind):
            spec["protocol_params"] = self.config["protocols"][spec["protocol"]]
        spec["dataset"] = dataset
        spec["method"] = method
        spec["seeds"] = self.sample_seeds(dataset, method, spec)
        return spec

    def beta_rule(self, rule: Any) -> Any:
        """A β rule as a job resolves it: ``{critical: c}`` without a criterion takes the
        config's ``beta_criterion`` (a schema default; the rule keeps its own if it has one)."""
        if isinstance(rule, dict) and "critical" in rule and "criterion" not in rule:
            return rule | {"criterion": self.config["beta_criterion"]}
        return rule

    def sample_seeds(self, dataset: str, method: str, spec: dict) -> dict[str, list[int]]:
        """Every seed of a sample job, per replicate: the method's own draws (``method``,
        from dataset and method) and, for samplers, the common start draw (``start``, from
        dataset and protocol only: every sampler of a dataset starts alike)."""
        replicates = int(spec["replicates"])
        seeds = {"method": replicate_seeds(self.config["seed"], dataset, method,
                                           replicates=replicates)}  # fmt: skip
        if "protocol" in spec:
            seeds["start"] = [
                self.seed("start", dataset, spec["protocol"], f"replicate{r}")
                for r in range(replicates)
            ]
        return seeds

    def seed(self, *keys: str) -> int:
        """A job's seed: from the config's seed and the job's identity, never its order."""
        return derive_seed(self.config["seed"], *keys)

    def memory_spec(self, dataset: str) -> dict[str, Any]:
        """The memory job's params: the dataset's block, with ``selection: random`` the seed
        that draws its K files (from the config's seed and the dataset's name)."""
        spec = {k: v for k, v in self.datasets[dataset].items() if k != "base"}
        if spec.get("selection") == "random":
            spec["selection_seed"] = self.seed("selection", dataset)
        return {"dataset": dataset, "spec": spec}

    def threads(self, method: str) -> int:
        return int(self.methods[method]["threads"])

    # --------------------------------------------------------------- targets
    def targets(self) -> list[str]:
        """Every final output: each experiment kind's, the claims and the summary."""
        out = []
        for name, experiment in self.experiments.items():
            out += experiments.targets(get_experiment(experiment.kind), self, name)
        out += list(self.claims_paths().values())
        return [*out, f"{self.results}/summary.md"]

    def row_targets(self, name: str) -> list[str]:
        """The final files of an experiment with table rows: its table (CSV, Markdown, LaTeX,
        HTML), its figures per dataset and its samples in the domain's own format."""
        experiment = self.experiments[name]
        out = list(self.table_paths(name).values())
        out += [self.figure_path(name, f, d) for f, d in experiment.figures]
        return out + self.export_paths(experiment)

    def step_outputs(self, name: str) -> dict[str, str]:
        """The outputs of an experiment written by its kind's one step (``OUTPUTS``)."""
        kind = get_experiment(self.experiments[name].kind)
        return {
            output: f"{self.results}/{pattern.format(experiment=name)}"
            for output, pattern in kind.OUTPUTS.items()
        }

    def export_paths(self, experiment: ExperimentPlan) -> list[str]:
        """Samples in the domain's own file format (FASTA for protein), when it has one."""
        from .domains.base import get_domain

        out = []
        for row in experiment.rows:
            suffix = getattr(get_domain(self.domain(row.dataset)), "EXPORT_SUFFIX", None)
            if suffix:
                out.append(self.samples_path(row.dataset, row.method).removesuffix(".npz") + suffix)
        return out

    def claims_paths(self) -> dict[str, str]:
        """The claims table (``claims.csv|md|tex|html``) when the config has claims."""
        return self.table_paths("claims") if self.config.get("claims") else {}

    def table_markdowns(self) -> dict[str, str]:
        claims = {"claims": self.claims_paths()["md"]} if self.claims_paths() else {}
        return claims | {name: f"{self.results}/tables/{name}.md" for name in self.experiments}

    def experiment_params(self, name: str) -> dict[str, Any]:
        """An experiment's rows and settings for its table and figure steps."""
        experiment = self.experiments[name]
        return {
            "experiment": name,
            "kind": experiment.kind,
            "title": experiment.config.get("title", ""),
            "columns": experiment.config.get("columns", []),
            "rows": [row.as_dict() for row in experiment.rows],
            "paired": [
                {"first": a.as_dict(), "second": b.as_dict()} for a, b in experiment.paired
            ],
            "labels": {
                m: self.methods[m].get("label", self.methods[m].get("base", m))
                for m in {row.method for row in experiment.rows}
            },
        }


# ---------------------------------------------------------------------- expansion


def _derive(
    table: dict[str, dict], base: str, overrides: list[tuple[str, Any]]
) -> str:
    """Add (once) the entry ``base`` with ``overrides`` applied; return its name.

    Overrides that equal the base's own value are dropped, so a sweep point that is the
    base itself reuses its jobs (and its files) instead of repeating them.
    """
    overrides = [(key, value) for key, value in overrides if table[base].get(key) != value]
    if not overrides:
        return base
    name = "__".join([base, *(f"{key}_{token(value)}" for key, value in overrides)])
    if name not in table:
        spec = copy.deepcopy(table[base])
        for key, value in overrides:
            spec[key] = copy.deepcopy(value)
        spec["base"] = table[base].get("base", base)
        table[name] = spec
    return name


def grid(sweep: dict[str, list]) -> list[list[tuple[str, Any]]]:
    keys = list(sweep)
    return [list(zip(keys, values, strict=True)) for values in itertools.product(*sweep.values())]


def expand_rows(
    plan: Plan,
    name: str,
    experiment: dict,
    datasets: list[str],
    methods: list[str],
    points: list[list[tuple[str, Any]]],
) -> ExperimentPlan:
    """An experiment's rows: every dataset × sweep point × method, with derived datasets and
    methods for the swept values (``dataset.<key>``/``method.<key>``), its paired
    differences (``paired``) and its figures (``figures``, plus ``training`` when a method
    logs a loss). Registers every sample job on ``plan``."""
    result = ExperimentPlan(name, experiment["kind"], experiment)
    by_point: dict[tuple, dict[tuple[str, str], Row]] = {}
    for dataset, point in itertools.product(datasets, points):
        data_overrides = [(k.split(".", 1)[1], v) for k, v in point if k.startswith("dataset.")]
        derived_dataset = _derive(plan.datasets, dataset, data_overrides)
        for method in methods:
            method_overrides = [
                (k.split(".", 1)[1], v) for k, v in point if k.startswith("method.")
            ]
            if not samples_at_beta(get_method(plan.methods[method]["kind"])):
                method_overrides += [
                    (key, experiment[key]) for key in BASELINE_KEYS if key in experiment
                ]
            derived_method = _derive(plan.methods, method, method_overrides)
            add_dependencies(plan, derived_dataset, derived_method)
            labels = tuple((k.split(".", 1)[1], v) for k, v in point)
            row = Row(derived_dataset, derived_method, labels, dataset, method)
            result.rows.append(row)
            by_point.setdefault((dataset, json.dumps(point, default=str)), {})[
                (dataset, method)
            ] = row
    for first, second in experiment.get("paired", []):
        for rows in by_point.values():
            dataset = next(iter(rows))[0]
            if (dataset, first) in rows and (dataset, second) in rows:
                result.paired.append((rows[(dataset, first)], rows[(dataset, second)]))
    figures = list(experiment.get("figures", []))
    if any(logs_loss(get_method(plan.methods[m]["kind"])) for m in methods):
        figures.append("training")
    result.figures = [(figure, dataset) for dataset in datasets for figure in figures]
    return result


def add_dependencies(plan: Plan, dataset: str, method: str) -> None:
    """Register the sample job and the jobs it needs (a control's reference sampler)."""
    plan.jobs.add((dataset, method))
    reference = plan.methods[method].get("reference")
    if reference:
        plan.jobs.add((dataset, reference))


def build_plan(config: dict[str, Any]) -> Plan:
    """Expand a validated, checked config (see :func:`config.prepare`) into a :class:`Plan`."""
    plan = Plan(
        config=config,
        datasets=copy.deepcopy(config["datasets"]),
        methods=copy.deepcopy(config["methods"]),
    )
    for name, experiment in config["experiments"].items():
        kind = get_experiment(experiment["kind"])
        own = getattr(kind, "expand", None)  # else no rows or sample jobs (the step does all)
        plan.experiments[name] = (
            own(plan, name, experiment) if own else ExperimentPlan(name, kind.KIND, experiment)
        )
    return plan
