"""Cross-field checks of the workflow config that a JSON schema cannot express.

Called by the Snakefile right after schema validation, so a bad config fails before any
job runs, with a message that names the offending key and says how to fix it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ConfigError", "check_config"]


class ConfigError(ValueError):
    """The config is inconsistent; the message names the key."""


def _check_method(name: str, method: dict[str, Any], config: dict[str, Any]) -> None:
    kind = method["kind"]
    where = f"methods.{name}"
    if kind in ("sa", "mala", "gaussian") and "alpha" not in method:
        raise ConfigError(f"{where}: kind {kind} needs 'alpha' (step size in (0, 1))")
    if kind in ("sa", "mala"):
        protocol = method.get("protocol", "multi_chain")
        if protocol not in config.get("protocols", {}):
            raise ConfigError(f"{where}.protocol: no protocol {protocol!r} under 'protocols'")
    elif "n_samples" not in method:
        raise ConfigError(f"{where}: baseline kind {kind} needs 'n_samples'")
    learned = kind in ("gmm_pca", "vae", "ddpm")
    for key in ("train_dataset", "select_top_of"):
        if key in method and not learned:
            raise ConfigError(f"{where}.{key}: only learned baselines (gmm_pca, vae, ddpm) use it")
    if method.get("train_dataset", next(iter(config["datasets"]))) not in config["datasets"]:
        raise ConfigError(f"{where}.train_dataset: unknown dataset {method['train_dataset']!r}")
    if method.get("select_top_of", method.get("n_samples", 0)) < method.get("n_samples", 0):
        raise ConfigError(f"{where}.select_top_of must be ≥ n_samples")
    if kind in ("matched_gaussian", "isotropic_gaussian"):
        reference = method.get("reference")
        if reference not in config["methods"]:
            raise ConfigError(f"{where}.reference: {reference!r} is not a method name")
        if config["methods"][reference]["kind"] not in ("sa", "mala"):
            raise ConfigError(f"{where}.reference: {reference!r} must be an sa or mala method")


def check_config(config: dict[str, Any]) -> None:
    """Raise :class:`ConfigError` for references to unknown names or missing fields."""
    for name, method in config["methods"].items():
        _check_method(name, method, config)
    for name, dataset in config["datasets"].items():
        if dataset["domain"] == "mnist":
            for key in ("digit", "n_patterns"):
                if key not in dataset:
                    raise ConfigError(f"datasets.{name}: an mnist dataset needs '{key}'")
        if dataset["domain"] not in config.get("sources", {}):
            config.setdefault("sources", {})[dataset["domain"]] = {"kind": "offline"}
    for name, experiment in config["experiments"].items():
        if "methods" not in experiment:  # not a comparison experiment (E1–E3 have own keys)
            continue
        for dataset in experiment["datasets"]:
            if dataset not in config["datasets"]:
                known = ", ".join(config["datasets"])
                raise ConfigError(
                    f"experiments.{name}.datasets: unknown dataset {dataset!r} (known: {known})"
                )
        for method in experiment["methods"]:
            if method not in config["methods"]:
                known = ", ".join(config["methods"])
                raise ConfigError(
                    f"experiments.{name}.methods: unknown method {method!r} (known: {known})"
                )
