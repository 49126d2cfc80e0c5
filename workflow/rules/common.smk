# Helpers that compute targets, inputs and params. No science here: the library does it.
import json

from stochastic_attention.config import check_config
from stochastic_attention.seeds import derive_seed

check_config(config)

DATASETS = config["datasets"]
METHODS = config["methods"]
COMPARISONS = {
    name: experiment
    for name, experiment in config["experiments"].items()
    if "methods" in experiment
}


wildcard_constraints:
    domain="[a-z]+",
    dataset="[A-Za-z0-9_]+",
    method="[A-Za-z0-9_]+",
    experiment="|".join(COMPARISONS) or "NONE",


def get_seed(*keys):
    """The job's seed: derived from the config seed and the job's identity, not its order."""
    return derive_seed(config["seed"], *keys)


def get_source(domain):
    return config["sources"].get(domain, {"kind": "offline"})


def get_memory_path(dataset):
    return f"results/memory/{DATASETS[dataset]['domain']}/{dataset}.npz"


def get_memory(wildcards):
    return get_memory_path(wildcards.dataset)


def get_samples_path(dataset, method):
    return f"results/samples/{DATASETS[dataset]['domain']}/{dataset}/{method}.npz"


def get_method_params(wildcards):
    """Everything the sample job depends on, as one JSON object (a change re-runs it)."""
    method = dict(METHODS[wildcards.method])
    for key in ("threads", "reference", "train_dataset"):  # inputs and resources, not params
        method.pop(key, None)
    if method["kind"] in ("sa", "mala"):
        protocol = method.get("protocol", "multi_chain")
        method["protocol"] = protocol
        method["protocol_params"] = config["protocols"][protocol]
    return json.dumps(method, sort_keys=True)


def get_sample_inputs(wildcards):
    inputs = {"memory": get_memory(wildcards)}
    reference = METHODS[wildcards.method].get("reference")
    if reference:
        inputs["reference"] = get_samples_path(wildcards.dataset, reference)
    train_dataset = METHODS[wildcards.method].get("train_dataset")
    if train_dataset:
        inputs["train_memory"] = get_memory_path(train_dataset)
    return inputs


def get_method_threads(wildcards):
    return METHODS[wildcards.method].get("threads", 1)


def get_metrics_params(wildcards):
    return json.dumps(
        {
            "method": wildcards.method,
            "dataset": wildcards.dataset,
            "beta": METHODS[wildcards.method]["beta"],
        }
    )


def get_experiment_metrics(wildcards):
    experiment = COMPARISONS[wildcards.experiment]
    return {
        f"{dataset}__{method}": f"results/metrics/{DATASETS[dataset]['domain']}/{dataset}/{method}.json"
        for dataset in experiment["datasets"]
        for method in experiment["methods"]
    }


def get_grid_inputs(wildcards):
    experiment = COMPARISONS[wildcards.experiment]
    inputs = {"memory": get_memory(wildcards)}
    for method in experiment["methods"]:
        inputs[method] = get_samples_path(wildcards.dataset, method)
    return inputs


def get_grid_params(wildcards):
    labels = {}
    for name in COMPARISONS[wildcards.experiment]["methods"]:
        method = METHODS[name]
        labels[name] = f"{name} (β {method['beta']:g})"
    title = f"{COMPARISONS[wildcards.experiment].get('title', wildcards.experiment)}: {wildcards.dataset}"
    return json.dumps({"labels": labels, "title": title})


def get_table_params(wildcards):
    experiment = COMPARISONS[wildcards.experiment]
    return json.dumps(
        {
            "title": experiment.get("title", wildcards.experiment),
            "extra_columns": experiment.get("extra_columns", []),
        }
    )


def named(paths):
    """Render a name → path mapping as the CLI's name=path pairs."""
    return " ".join(f"{name}={path}" for name, path in paths.items())


def get_comparison_outputs():
    targets = []
    for name, experiment in COMPARISONS.items():
        targets += [f"results/tables/{name}.csv", f"results/tables/{name}.md"]
        for dataset in experiment["datasets"]:
            targets.append(f"results/figures/{name}_{dataset}_samples.png")
            if get_learned_methods(name):
                targets.append(f"results/figures/{name}_{dataset}_training.png")
    return targets


LEARNED_KINDS = ("gmm_pca", "vae", "ddpm")


def get_learned_methods(experiment):
    return [m for m in COMPARISONS[experiment]["methods"] if METHODS[m]["kind"] in LEARNED_KINDS]


def get_training_inputs(wildcards):
    return {
        method: get_samples_path(wildcards.dataset, method)
        for method in get_learned_methods(wildcards.experiment)
    }


def get_params(experiment, exclude=(), **extra):
    """An experiment's config block (minus `exclude`, plus `extra`) as JSON for --params."""
    block = {k: v for k, v in config["experiments"][experiment].items() if k not in exclude}
    return json.dumps(block | extra, sort_keys=True)


SYNTHETIC = [name for name in ("E1", "E2", "E3", "critical_law") if name in config["experiments"]]


def get_e3_load_ratios():
    """E3 load ratios as wildcard values ('0.05', '1', …): one e3_cell job each."""
    return [f"{float(r):g}" for r in config["experiments"]["E3"]["load_ratios"]]


def get_synthetic_outputs():
    """Targets of the synthetic experiments present in the config."""
    return [
        f"results/{kind}/{name}.{suffix}"
        for name in SYNTHETIC
        for kind, suffix in (("tables", "csv"), ("tables", "md"), ("figures", "png"))
    ]


def get_table_markdowns():
    names = list(COMPARISONS) + SYNTHETIC
    return {name: f"results/tables/{name}.md" for name in names}


def get_final_outputs():
    return get_synthetic_outputs() + get_comparison_outputs() + ["results/summary.md"]
