"""The workflow config: one composed JSON schema, defaults, and every cross-field check.

:func:`prepare` is called by the Snakefile before any job exists. It

1. imports the plug-in modules named under ``plugins`` (they register domains and methods),
2. composes the schema: ``workflow/schemas/config.schema.yaml`` plus each domain's
   ``SOURCE_SCHEMA``/``DATASET_SCHEMA`` and each method kind's ``PARAMS_SCHEMA`` (so a typo
   inside a domain's or a method's options fails here, not in a job),
3. validates the config against it, filling defaults,
4. runs the checks a schema cannot express (references between names, ``burn_in <
   n_steps``, enough snapshots to keep, …).

Every failure is a :class:`ConfigError` whose message names the key and says how to fix it.
Config files are also read once more with a strict YAML loader that refuses duplicate keys
(:func:`check_yaml_file`), because PyYAML silently keeps the last one.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from importlib import import_module
from pathlib import Path
from typing import Any

import yaml

from .domains.base import GENERIC_DATASET_KEYS, domain_names, get_domain
from .errors import UserError
from .methods.base import get_method, method_kinds

__all__ = [
    "NAME_PATTERN",
    "ConfigError",
    "check_config",
    "check_yaml_file",
    "compose_schema",
    "load_plugins",
    "prepare",
    "validate",
]

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_]+$")
PLUGIN_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
RESULTS_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./-]*$")
SCHEMA_PATH = Path("workflow/schemas/config.schema.yaml")
"""The base schema, relative to the working directory (the repository root) by default."""


class ConfigError(UserError, ValueError):
    """The config is invalid or inconsistent; the message names the key and the fix."""


# ----------------------------------------------------------------------------- YAML


class _StrictLoader(yaml.SafeLoader):
    """A safe loader that refuses a key written twice in one mapping."""


def _no_duplicates(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise ConfigError(
                f"key {key!r} is written twice (lines {seen[key]} and {line}); YAML would "
                "silently keep the last one. Remove one of them."
            )
        seen[key] = line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def check_yaml_file(path: Path | str) -> Any:
    """Refuse duplicate keys and report YAML syntax errors with file, line and column.

    Returns the parsed document.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: YAML syntax error: {error.problem}") from None


# --------------------------------------------------------------------------- schema


def load_plugins(names: Iterable[str]) -> None:
    """Import plug-in modules (they call ``register_domain`` / ``register_method``)."""
    for name in names:
        if not isinstance(name, str) or not PLUGIN_PATTERN.match(name):
            raise ConfigError(
                f"plugins: {name!r} is not a Python module name (letters, digits, _ and dots)"
            )
        try:
            import_module(name)
        except ImportError as error:
            raise ConfigError(
                f"plugins: cannot import {name!r} ({error}); put the module on PYTHONPATH"
            ) from None


def _kind_cases(key: str, cases: dict[str, dict]) -> list[dict]:
    """``if key == name then schema`` for every case (one schema per domain or kind)."""
    return [
        {"if": {"properties": {key: {"const": name}}, "required": [key]}, "then": schema}
        for name, schema in cases.items()
    ]


def _object(properties: dict, required: Iterable[str] = ()) -> dict:
    return {
        "type": "object",
        "properties": properties,
        "required": sorted(set(required)),
        "additionalProperties": False,
    }


def compose_schema(base: Path | str = SCHEMA_PATH) -> dict:
    """The base schema ``base`` with every registered domain's and method kind's fragment."""
    schema = yaml.safe_load(Path(base).read_text())
    definitions = schema["$defs"]
    domains = {name: get_domain(name) for name in domain_names()}
    sources = {
        name: domain.SOURCE_SCHEMA
        for name, domain in domains.items()
        if getattr(domain, "SOURCE_SCHEMA", None) is not None
    }
    schema["properties"]["sources"]["properties"] = copy.deepcopy(sources)
    dataset_cases = {}
    for name, domain in domains.items():
        fragment = domain.DATASET_SCHEMA
        properties = {"domain": {"const": name}, **GENERIC_DATASET_KEYS}
        properties |= fragment.get("properties", {})
        dataset_cases[name] = _object(properties, ["domain", *fragment.get("required", [])])
    datasets = schema["properties"]["datasets"]["additionalProperties"]
    datasets["properties"]["domain"] = {"enum": sorted(domains)}
    datasets["allOf"] = _kind_cases("domain", dataset_cases)

    method_cases = {}
    for kind in method_kinds():
        method = get_method(kind)
        generic = definitions[f"{method.CATEGORY}_method"]
        properties = {"kind": {"const": kind}} | generic["properties"]
        properties |= copy.deepcopy(method.PARAMS_SCHEMA)
        method_cases[kind] = _object(properties, ["kind", *generic.get("required", [])])
    methods = schema["properties"]["methods"]["additionalProperties"]
    methods["properties"]["kind"] = {"enum": method_kinds()}
    methods["allOf"] = _kind_cases("kind", method_cases)

    experiment_cases = {
        kind.removesuffix("_experiment"): value
        for kind, value in definitions.items()
        if kind.endswith("_experiment")
    }
    experiments = schema["properties"]["experiments"]["additionalProperties"]
    experiments["properties"]["kind"] = {"enum": sorted(experiment_cases)}
    experiments["allOf"] = _kind_cases("kind", experiment_cases)
    return schema


def _validator_with_defaults(schema: dict):
    """A Draft 2020-12 validator that fills ``default`` values while it validates."""
    from jsonschema import Draft202012Validator, validators

    base = Draft202012Validator.VALIDATORS["properties"]

    def properties(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if isinstance(subschema, dict) and "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from base(validator, properties, instance, schema)

    extended = validators.extend(Draft202012Validator, {"properties": properties})
    return extended(schema)


def _deepest(error):
    """The most specific error behind ``allOf``/``if``/``oneOf`` wrappers."""
    while error.context:
        error = max(error.context, key=lambda e: len(e.absolute_path))
    return error


def validate(config: dict, schema: dict | None = None) -> None:
    """Validate ``config`` against the composed schema, filling defaults in place."""
    validator = _validator_with_defaults(schema or compose_schema())
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.path)))
    if errors:
        error = _deepest(errors[0])
        # every problem at that key in one line, an unknown key (a typo) first: a misspelt
        # required key is both "unexpected" and "required", and only the first names the typo
        same = [e for e in map(_deepest, errors) if e.absolute_path == error.absolute_path]
        same.sort(key=lambda e: e.validator != "additionalProperties")
        messages = list(dict.fromkeys(e.message for e in same))
        where = ".".join(str(part) for part in error.absolute_path) or "(top level)"
        raise ConfigError(f"config error at {where}: {'; '.join(messages)}")


# --------------------------------------------------------------------------- checks


def _check_names(config: dict) -> None:
    for section in ("datasets", "methods", "experiments", "protocols"):
        names = config.get(section) or {}
        for name in names if isinstance(names, dict) else ():
            if not NAME_PATTERN.match(str(name)) or "__" in str(name):
                raise ConfigError(
                    f"{section}: the name {name!r} may contain only letters, digits and single "
                    "underscores ([A-Za-z0-9_]+, no '__'); names become file names and job ids"
                )
    results = config.get("results_dir", "results")
    if (
        not isinstance(results, str)
        or not RESULTS_PATTERN.match(results)
        or ".." in Path(results).parts
        or Path(results).is_absolute()
    ):
        raise ConfigError(
            f"results_dir: {results!r} must be a relative folder inside the working directory "
            "(letters, digits, _ . / -; no '..')"
        )


def _check_protocol(name: str, protocol: dict) -> None:
    where = f"protocols.{name}"
    n_steps, burn_in = protocol.get("n_steps"), protocol.get("burn_in", 0)
    if n_steps is not None and burn_in >= n_steps:
        raise ConfigError(
            f"{where}: burn_in ({burn_in}) must be smaller than n_steps ({n_steps})"
        )
    if "thin" in protocol and n_steps is not None:
        snapshots = (n_steps - burn_in) // protocol["thin"]
        if snapshots < 1:
            raise ConfigError(
                f"{where}: no snapshot fits: (n_steps − burn_in) / thin = {snapshots}; "
                "lower thin or burn_in, or raise n_steps"
            )
        if protocol.get("keep", 1) > snapshots:
            raise ConfigError(
                f"{where}.keep: cannot keep {protocol['keep']} of the {snapshots} snapshots "
                f"((n_steps − burn_in) / thin); lower keep or raise n_steps"
            )


def _check_method(name: str, method: dict, config: dict) -> None:
    where = f"methods.{name}"
    kind = get_method(method["kind"])
    if kind.CATEGORY == "sampler" and method.get("protocol") not in config["protocols"]:
        raise ConfigError(
            f"{where}.protocol: no protocol {method.get('protocol')!r} under 'protocols' "
            f"(known: {', '.join(config['protocols'])})"
        )
    train = method.get("train_dataset")
    if train is not None and train not in config["datasets"]:
        raise ConfigError(f"{where}.train_dataset: unknown dataset {train!r}")
    if method.get("select_top_of", method.get("n_samples", 0)) < method.get("n_samples", 0):
        raise ConfigError(f"{where}.select_top_of must be ≥ n_samples")
    reference = method.get("reference")
    if reference is not None:
        if reference not in config["methods"]:
            raise ConfigError(f"{where}.reference: {reference!r} is not a method name")
        if get_method(config["methods"][reference]["kind"]).CATEGORY != "sampler":
            raise ConfigError(f"{where}.reference: {reference!r} must be a sampler method")
    if "train" in method and getattr(kind, "check_train", None) is not None:
        try:
            kind.check_train(method["train"])
        except ValueError as error:
            raise ConfigError(f"{where}.train: {error}") from None


def _check_experiment(name: str, experiment: dict, config: dict) -> None:
    where = f"experiments.{name}"
    if experiment["kind"] not in ("comparison", "sweep", "spectrum"):
        return
    for key, section in (("datasets", "datasets"), ("methods", "methods")):
        for value in experiment.get(key, []):
            if value not in config[section]:
                known = ", ".join(config[section])
                raise ConfigError(f"{where}.{key}: unknown {key[:-1]} {value!r} (known: {known})")
        values = experiment.get(key, [])
        if len(set(values)) != len(values):
            raise ConfigError(f"{where}.{key}: a name is listed twice")
    for key, section in (("dataset", "datasets"), ("method", "methods")):
        value = experiment.get(key)
        if value is not None and value not in config[section]:
            raise ConfigError(f"{where}.{key}: unknown {key} {value!r}")
    if "energy_beta" not in experiment:
        for method in [*experiment.get("methods", []), experiment.get("method")]:
            spec = config["methods"].get(method) if method else None
            baseline = spec and get_method(spec["kind"]).CATEGORY != "sampler"
            if baseline and "energy_beta" not in spec:
                raise ConfigError(
                    f"{where}: baseline {method!r} has no energy_beta (the β its Ē is reported "
                    f"at); set methods.{method}.energy_beta or {where}.energy_beta"
                )
    if experiment.get("figures"):
        from .report.figure_registry import FIGURES

        for figure in experiment["figures"]:
            if figure not in FIGURES:
                raise ConfigError(
                    f"{where}.figures: unknown figure {figure!r} (known: {', '.join(FIGURES)}); "
                    "a new figure is a function in report/figure_registry.py FIGURES"
                )
    for pair in experiment.get("paired", []):
        for method in pair:
            if method not in experiment.get("methods", []):
                raise ConfigError(
                    f"{where}.paired: {method!r} is not one of this experiment's methods"
                )
    for parameter in experiment.get("sweep", {}):
        target, _, key = parameter.partition(".")
        if target not in ("dataset", "method") or not key:
            raise ConfigError(
                f"{where}.sweep: {parameter!r} must be 'dataset.<key>' or 'method.<key>'"
            )
    for dataset in [*experiment.get("datasets", []), experiment.get("dataset")]:
        if dataset is None:
            continue
        for method in [*experiment.get("methods", []), experiment.get("method")]:
            if method is None:
                continue
            kind = get_method(config["methods"][method]["kind"])
            domains = getattr(kind, "DOMAINS", None)
            domain = config["datasets"][dataset]["domain"]
            if domains is not None and domain not in domains:
                raise ConfigError(
                    f"{where}: method {method!r} ({config['methods'][method]['kind']}) works "
                    f"only on {', '.join(domains)} datasets, not on {dataset!r} ({domain})"
                )


def check_config(config: dict) -> None:
    """Cross-field checks; raise :class:`ConfigError` naming the key."""
    _check_names(config)
    for name, protocol in config["protocols"].items():
        _check_protocol(name, protocol)
    for name, method in config["methods"].items():
        _check_method(name, method, config)
    for name, dataset in config["datasets"].items():
        domain = get_domain(dataset["domain"])
        if getattr(domain, "SOURCE_SCHEMA", None) is not None:
            config["sources"].setdefault(dataset["domain"], {})
        if hasattr(domain, "check_dataset"):
            try:
                domain.check_dataset(dataset)
            except ValueError as error:
                raise ConfigError(f"datasets.{name}: {error}") from None
    for name, experiment in config["experiments"].items():
        _check_experiment(name, experiment, config)
    from .claims import check_claims

    check_claims(config)


def check_config_files(paths: Iterable[Path | str]) -> str:
    """Check config files as a run would, without Snakemake; a one-line summary if valid.

    Snakemake parses ``--configfile`` before the Snakefile, so a YAML syntax error there
    comes back as "not valid JSON or YAML" with no position; this names file, line and
    column, then runs every check of :func:`prepare` and expands the plan. Raises
    :class:`ConfigError` with the first problem.
    """
    from snakemake.utils import update_config  # how Snakemake merges several config files

    from .plan import build_plan

    paths = [Path(path) for path in paths]
    if not paths:
        raise ConfigError("name at least one config file, e.g. config/config.yaml")
    if not SCHEMA_PATH.is_file():
        raise ConfigError(f"no {SCHEMA_PATH} here: run check-config from the repository root")
    config: dict = {}
    for path in paths:
        loaded = check_yaml_file(path) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of keys, not a list")
        update_config(config, loaded)
    plan = build_plan(prepare(config))  # the files are checked above: parsed once each
    names = ", ".join(map(str, paths))
    return (
        f"{names}: valid — {len(plan.datasets)} datasets, {len(plan.methods)} methods, "
        f"{len(plan.experiments)} experiments, {len(plan.jobs)} (dataset, method) pairs to sample"
    )


def prepare(
    config: dict, config_files: Iterable[Path | str] = (), schema_path: Path | str = SCHEMA_PATH
) -> dict:
    """Plug-ins, strict YAML re-read, schema with defaults and cross-field checks."""
    for path in config_files:
        check_yaml_file(path)
    _check_names(config)  # first: a hostile name is refused before anything else reads it
    load_plugins(config.get("plugins", []))
    schema = compose_schema(schema_path)
    validate(config, schema)
    # sources of domains that datasets use get their defaults too
    for dataset in config["datasets"].values():
        domain = get_domain(dataset["domain"])
        if getattr(domain, "SOURCE_SCHEMA", None) is not None:
            config["sources"].setdefault(dataset["domain"], {})
    validate(config, schema)
    check_config(config)
    return config
