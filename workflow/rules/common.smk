# Helpers that compute targets, inputs and params from the plan. No science here: the
# library does it (stochastic_attention.plan expands the config into jobs and targets).
import json
import os
import shlex
import sys

from stochastic_attention.claims import claims_params, plan_lines
from stochastic_attention.claims import input_paths as claim_input_paths
from stochastic_attention.digests import dataset_digest, source_digest
from stochastic_attention.experiments.base import (
    TABLE_CSV,
    TABLE_HTML,
    experiment_kinds,
    get_experiment,
    step_inputs,
    subcategory,
)
from stochastic_attention.plan import build_plan

PLAN = build_plan(config)
R = PLAN.results


def _uses_conda():
    methods = getattr(workflow.deployment_settings, "deployment_method", set()) or set()
    return any(str(m).lower().endswith("conda") for m in methods)


# Jobs call the library through the interpreter running Snakemake (no venv on PATH needed),
# or the rule's conda environment's python; PYTHONPATH makes them use this checkout's code.
PYTHON = "python" if _uses_conda() else shlex.quote(sys.executable)
CLI = f"{PYTHON} -m stochastic_attention"
# the run's config files, for the exact rebuild command in error messages (errors.py)
_CONFIG_FILES = shlex.quote(os.pathsep.join(map(str, workflow.configfiles)))
shell.prefix(
    f"export PYTHONPATH={shlex.quote(os.path.join(WORKFLOW_DIR, 'src'))}${{{{PYTHONPATH:+:$PYTHONPATH}}}}; "
    f"export STOCHASTIC_ATTENTION_PLUGINS={shlex.quote(','.join(config.get('plugins', [])))}; "
    f"export STOCHASTIC_ATTENTION_CONFIGFILES={_CONFIG_FILES.replace('{', '{{').replace('}', '}}')}; "
)


wildcard_constraints:
    domain="[a-z][a-z0-9_]*",
    dataset="[A-Za-z0-9_]+",
    method="[A-Za-z0-9_]+",
    first="[A-Za-z0-9_]+",
    second="[A-Za-z0-9_]+",
    experiment="[A-Za-z0-9_]+",
    figure="[a-z_]+",


def named(paths):
    """A name → path mapping as the CLI's name=path pairs, each quoted for the shell."""
    return " ".join(shlex.quote(f"{name}={path}") for name, path in paths.items())


def get_seed(*keys):
    """A job's seed, derived by the plan (the one place seeds are made)."""
    return PLAN.seed(*keys)


def get_final_outputs():
    return PLAN.targets()


def names_of(kind):
    """A wildcard regex matching exactly the experiments of one kind (names are [A-Za-z0-9_]+)."""
    names = [n for n, e in PLAN.experiments.items() if e.kind == kind]
    return "|".join(names) if names else "(?!)"


def row_experiments():
    """A wildcard regex matching exactly the experiments whose tables and figures the generic
    experiment_table and figure rules make (kinds without a STEP of their own)."""
    names = [n for n, e in PLAN.experiments.items() if get_experiment(e.kind).STEP is None]
    return "|".join(names) if names else "(?!)"


def step_kinds():
    """Every experiment kind (built-in and plug-in) that writes its outputs in one step."""
    return [get_experiment(k) for k in experiment_kinds() if get_experiment(k).STEP]


# ------------------------------------------------------------------- data jobs
def get_source_spec(wildcards):
    return json.dumps(
        {"domain": wildcards.domain, "source": PLAN.config["sources"].get(wildcards.domain, {})},
        sort_keys=True,
    )


def get_memory_inputs(wildcards):
    spec = PLAN.datasets[wildcards.dataset]
    from stochastic_attention.domains.base import get_domain

    domain = get_domain(spec["domain"])
    inputs = {}
    if getattr(domain, "SOURCE_SCHEMA", None) is not None:
        inputs["raw"] = PLAN.raw_path(spec["domain"])
        inputs["provenance"] = PLAN.raw_path(spec["domain"]) + ".provenance.json"
    if hasattr(domain, "dataset_inputs"):
        inputs |= domain.dataset_inputs(spec)
    return inputs


def get_memory_digest(wildcards):
    """Content digest of the dataset's own files: an edit in place re-runs the memory."""
    return dataset_digest(PLAN.datasets[wildcards.dataset])


def get_source_digest(wildcards):
    """Content digest of a local source's files: an edit re-runs the fetch."""
    return source_digest(wildcards.domain, PLAN.config["sources"].get(wildcards.domain, {}))


def get_memory_spec(wildcards):
    return json.dumps(PLAN.memory_spec(wildcards.dataset), sort_keys=True)


def get_sample_inputs(wildcards):
    return PLAN.sample_inputs(wildcards.dataset, wildcards.method)


def get_sample_spec(wildcards):
    return json.dumps(PLAN.sample_spec(wildcards.dataset, wildcards.method), sort_keys=True)


def get_method_gpus(wildcards):
    """1 when the method asks for CUDA (a torch sampler or a learned baseline's train.device)."""
    method = PLAN.methods[wildcards.method]
    devices = (method.get("device"), method.get("train", {}).get("device"))
    return int("cuda" in devices)


def get_method_threads(wildcards):
    return PLAN.threads(wildcards.method)


def get_resource(rule, name):
    """A resource (runtime, mem_mb) of a rule's jobs from their size and the retry attempt."""
    from stochastic_attention.resources import job_request

    def value(wildcards, attempt):
        return getattr(job_request(PLAN, rule, dict(wildcards.items()), attempt), name)

    return value


# -------------------------------------------------------------- experiments
def get_table_inputs(wildcards):
    experiment = PLAN.experiments[wildcards.experiment]
    inputs = {
        f"row{i}": PLAN.metrics_path(row.dataset, row.method)
        for i, row in enumerate(experiment.rows)
    }
    for i, (first, second) in enumerate(experiment.paired):
        inputs[f"pair{i}"] = PLAN.paired_path(first.dataset, first.method, second.method)
    return inputs


def get_experiment_params(wildcards):
    return json.dumps(PLAN.experiment_params(wildcards.experiment), sort_keys=True, default=str)


def _figure_rows(wildcards):
    return PLAN.experiments[wildcards.experiment].rows_of(wildcards.dataset)


def get_figure_inputs(wildcards):
    rows = _figure_rows(wildcards)
    inputs = {"memory": PLAN.memory_path(rows[0].dataset if rows else wildcards.dataset)}
    for i, row in enumerate(rows):
        inputs[f"memory{i}"] = PLAN.memory_path(row.dataset)
        inputs[f"samples{i}"] = PLAN.samples_path(row.dataset, row.method)
        inputs[f"metrics{i}"] = PLAN.metrics_path(row.dataset, row.method)
    return inputs


def get_figure_params(wildcards):
    experiment = PLAN.experiment_params(wildcards.experiment)
    rows = [row.as_dict() for row in _figure_rows(wildcards)]
    return json.dumps(
        experiment | {"rows": rows, "figure": wildcards.figure, "dataset": wildcards.dataset},
        sort_keys=True,
        default=str,
    )


def get_summary_inputs():
    return PLAN.table_markdowns()


# ------------------------------------------------------------------- claims
CLAIM_LINES = plan_lines(PLAN)


def get_claims_inputs(wildcards):
    return {f"in{i}": path for i, path in enumerate(claim_input_paths(CLAIM_LINES))}


def get_claims_params(wildcards):
    return claims_params(PLAN, CLAIM_LINES)


# ------------------------------------------------------- experiment kinds' steps
def get_experiment_block(experiment, exclude=(), **extra):
    """An experiment's config block (minus kind and `exclude`, plus `extra`) as JSON."""
    block = {
        k: v for k, v in PLAN.experiments[experiment].config.items() if k not in ("kind", *exclude)
    }
    return json.dumps(block | extra, sort_keys=True)


# ------------------------------------------------------------ report entries
# Category = the experiment, subcategory = its dataset (figures per dataset; a table covers
# every dataset of the experiment), one label per entry (experiments.base.TABLE_CSV …).
TABLE_SUBCATEGORY = "table (all datasets)"
CLAIMS_SUBCATEGORY = "claims of the paper"


def report_entry(path, caption, subcategory, label, category="{experiment}"):
    """An output shown in the report (under its experiment). caption: a file under
    workflow/report, an absolute path or None; subcategory, label: text or a function of
    the wildcards."""
    labels = (lambda w: {"result": label(w)}) if callable(label) else {"result": label}
    if caption is not None and not os.path.isabs(caption):
        caption = f"../report/{caption}"
    return report(path, caption=caption, category=category, subcategory=subcategory, labels=labels)


def figure_label(wildcards):
    """Report label of a data figure: its name in words (``sample grids``)."""
    return wildcards.figure.replace("_", " ")


def step_outputs(kind):
    """The outputs of an experiment kind's step as rule outputs (report entries for REPORT)."""
    where = lambda w: subcategory(kind, PLAN, w.experiment)
    outputs = {}
    for name, pattern in kind.OUTPUTS.items():
        path = f"{R}/{pattern}"
        if name in kind.REPORT:
            path = report_entry(path, getattr(kind, "CAPTION", None), where, kind.REPORT[name])
        outputs[name] = path
    return outputs
