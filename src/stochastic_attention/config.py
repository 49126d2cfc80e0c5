"""The workflow config: one composed JSON schema, defaults, and every cross-field check.

:func:`prepare` is called by the Snakefile before any job exists. It

1. imports the plug-in modules named under ``plugins`` (they register domains and methods),
2. composes the schema: ``workflow/schemas/config.schema.yaml`` plus each domain's
   ``SOURCE_SCHEMA``/``DATASET_SCHEMA`` and each method kind's ``PARAMS_SCHEMA`` (so a typo
   inside a domain's or a method's options fails here, not in a job),
3. validates the config against it, filling defaults (numbers must be finite and integers
   written as integers, everywhere: :func:`_number_type`),
4. runs the checks a schema cannot express (references between names, ``burn_in <
   n_steps``, enough snapshots to keep, …), validates every sweep and spectrum point as
   the method or dataset block it makes (:func:`check_sweep_points`), and checks that
   every file name the plan makes fits the file system (:func:`_check_file_names`).

Every failure is a :class:`ConfigError` whose message names the key and says how to fix it.
Config files are also read once more with a strict YAML loader that refuses duplicate keys
(:func:`check_yaml_file`), because PyYAML silently keeps the last one.
"""

from __future__ import annotations

import copy
import difflib
import math
import posixpath
import re
from collections.abc import Iterable
from importlib import import_module
from pathlib import Path
from typing import Any

import yaml

from .domains.base import GENERIC_DATASET_KEYS, domain_names, get_domain
from .errors import ConfigError
from .experiments.base import experiment_kinds, get_experiment
from .methods.base import get_method, method_kinds, samples_at_beta, uses_protocol

__all__ = [
    "MAX_NAME_LENGTH",
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
MAX_NAME_LENGTH = 64
"""Longest name of a dataset, method, experiment or protocol: names become file names, and
derived sweep names and paired-difference files join several of them."""
FILE_NAME_LIMIT = 255
"""Bytes in one file name on common file systems (ext4, XFS, APFS, NTFS)."""
FILE_NAME_MARGIN = 40
"""Characters the pipeline adds to an output's name (``.<name>.partial-<pid>``,
``<name>.provenance.json``)."""
SCHEMA_PATH = Path("workflow/schemas/config.schema.yaml")
"""The base schema, relative to the working directory (the repository root) by default."""


# ----------------------------------------------------------------------------- YAML


class _StrictLoader(yaml.SafeLoader):
    """A safe loader that refuses a key written twice in one mapping (merge keys allowed)."""


def _no_duplicates(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    """A mapping whose own keys are distinct; ``<<: *anchor`` merges are YAML's overrides.

    Keys written in the mapping itself may not repeat (YAML would keep the last one
    silently). Keys that a merge key (``<<``) brings in may be overridden by the mapping's
    own keys: that is what a merge is for.
    """
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=deep)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise ConfigError(
                f"key {key!r} is written twice (lines {seen[key]} and {line}); YAML would "
                "silently keep the last one. Remove one of them."
            )
        seen[key] = line
    loader.flatten_mapping(node)  # resolves merge keys, as SafeLoader.construct_mapping does
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def check_yaml_file(path: Path | str) -> Any:
    """Refuse duplicate keys and report YAML syntax errors with file, line and column.

    Returns the parsed document. A file that is not UTF-8 text is refused with the
    position of its first undecodable byte.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{path} is not a text file: byte {error.start} is not UTF-8 (a config is YAML "
            "text; is this the right file?)"
        ) from None
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: YAML syntax error: {error.problem}") from None
    except yaml.YAMLError as error:  # e.g. a control character the reader refuses
        raise ConfigError(f"{path}: YAML error: {error}") from None


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
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # LibYAML: 10× faster, same result
    schema = yaml.load(Path(base).read_text(), Loader=loader)
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
        if uses_protocol(method):  # a plug-in may run chains without being a "sampler"
            properties.setdefault("protocol", definitions["protocol_key"])
        properties |= copy.deepcopy(method.PARAMS_SCHEMA)
        method_cases[kind] = _object(properties, ["kind", *generic.get("required", [])])
    methods = schema["properties"]["methods"]["additionalProperties"]
    methods["properties"]["kind"] = {"enum": method_kinds()}
    methods["allOf"] = _kind_cases("kind", method_cases)

    experiment_cases = {
        kind: get_experiment(kind).SCHEMA or definitions[f"{kind}_experiment"]
        for kind in experiment_kinds()
    }
    experiments = schema["properties"]["experiments"]["additionalProperties"]
    experiments["properties"]["kind"] = {"enum": sorted(experiment_cases)}
    experiments["allOf"] = _kind_cases("kind", experiment_cases)
    return schema


def _number_type(validator, types, instance, schema):
    """JSON-schema ``type`` with two stricter rules for numbers (every key of every plug-in).

    * A number is finite: NaN and ±infinity (YAML ``.nan``, ``.inf``) are refused wherever
      the schema says ``number`` or ``integer``, unless that key's schema sets
      ``allowNonFinite: true`` (no key does today). NaN passes every ``minimum`` test, so
      without this it would reach a job.
    * An integer is written as one: ``50.0`` is refused (JSON schema itself accepts it, and
      the job then fails with a ``TypeError``).
    """
    from jsonschema import Draft202012Validator, ValidationError

    wanted = [types] if isinstance(types, str) else list(types)
    numeric = {"number", "integer"} & set(wanted)
    if isinstance(instance, float) and numeric:
        if not math.isfinite(instance) and not schema.get("allowNonFinite", False):
            yield ValidationError(
                f"{instance} is not a finite number (NaN and infinity are refused); "
                "write a finite value"
            )
            return
        if "number" not in wanted and "integer" in wanted and instance.is_integer():
            yield ValidationError(
                f"{instance!r} is not an integer; write {int(instance)} without a decimal point"
            )
            return
    yield from Draft202012Validator.VALIDATORS["type"](validator, types, instance, schema)


def _validator_with_defaults(schema: dict):
    """A Draft 2020-12 validator that fills ``default`` values while it validates.

    Numbers must be finite and integers must be ints (:func:`_number_type`).
    """
    from jsonschema import Draft202012Validator, validators

    base = Draft202012Validator.VALIDATORS["properties"]

    def properties(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if isinstance(subschema, dict) and "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from base(validator, properties, instance, schema)

    checker = Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool)
    )
    extended = validators.extend(
        Draft202012Validator,
        {"properties": properties, "type": _number_type},
        type_checker=checker,
    )
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
            if len(str(name)) > MAX_NAME_LENGTH:
                raise ConfigError(
                    f"{section}: the name {str(name)[:20]!r}… has {len(str(name))} characters; "
                    f"names may have at most {MAX_NAME_LENGTH} (they become file names, which "
                    "sweeps, paired differences and temporary files lengthen); shorten it"
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
    # one spelling per folder: 'results/', './results' and 'results//smoke' would give
    # targets that never match the rules' paths (and a flood of Snakemake warnings)
    config["results_dir"] = posixpath.normpath(results)


def _one_line_texts(config: dict) -> None:
    """Titles and labels as one line (whitespace runs → one space), in place.

    They are shown in tables, figures and report captions; a line break (a YAML folded
    scalar ends with one) would start a new Markdown heading or table row, a live LaTeX
    line, or a reStructuredText directive in a caption.
    """
    for section, key in (("experiments", "title"), ("methods", "label")):
        for block in config[section].values():
            if isinstance(block.get(key), str):
                block[key] = " ".join(block[key].split())


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
    if uses_protocol(kind) and method.get("protocol") not in config["protocols"]:
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
        if not samples_at_beta(get_method(config["methods"][reference]["kind"])):
            raise ConfigError(
                f"{where}.reference: {reference!r} must be a sampler method (one that samples "
                "at its own beta)"
            )
    if "train" in method and getattr(kind, "check_train", None) is not None:
        try:
            kind.check_train(method["train"])
        except ValueError as error:
            raise ConfigError(f"{where}.train: {error}") from None


def check_rows_experiment(name: str, experiment: dict, config: dict) -> None:
    """Cross-checks of an experiment with table rows (comparison, sweep, spectrum): its
    datasets and methods exist, baselines have an ``energy_beta``, figures and pairs are
    known, every method works on every dataset's domain."""
    where = f"experiments.{name}"
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
            baseline = spec and not samples_at_beta(get_method(spec["kind"]))
            if baseline and "energy_beta" not in spec:
                raise ConfigError(
                    f"{where}: baseline {method!r} has no energy_beta (the β its Ē is reported "
                    f"at); set methods.{method}.energy_beta or {where}.energy_beta"
                )
    if experiment.get("figures"):
        from .report.figure_registry import figure_names

        known = figure_names()
        for figure in experiment["figures"]:
            if figure not in known:
                raise ConfigError(
                    f"{where}.figures: unknown figure {figure!r} (known: {', '.join(known)}); "
                    "a new figure is a function with report.figure_registry.register_figure "
                    "(in the library or a plug-in module under plugins)"
                )
    for pair in experiment.get("paired", []):
        for method in pair:
            if method not in experiment.get("methods", []):
                raise ConfigError(
                    f"{where}.paired: {method!r} is not one of this experiment's methods"
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


def _block_keys(schema: dict, section: str, block: dict) -> list[str]:
    """The keys a ``section`` block (a method or dataset) of this kind or domain may have."""
    discriminator = "kind" if section == "methods" else "domain"
    for case in schema["properties"][section]["additionalProperties"].get("allOf", []):
        if case["if"]["properties"][discriminator]["const"] == block.get(discriminator):
            return sorted(case["then"]["properties"])
    return []


def _swept(experiment: dict) -> list[tuple[str, str, str, list]]:
    """What an experiment replaces in its blocks: (config key, target, key, values)."""
    if experiment["kind"] == "spectrum":
        return [("betas", "method", "beta", list(experiment.get("betas", [])))]
    out = []
    for parameter, values in experiment.get("sweep", {}).items():
        target, _, key = parameter.partition(".")
        out.append((f"sweep.{parameter}", target, key, list(values)))
    return out


def check_sweep_points(name: str, experiment: dict, config: dict, schema: dict) -> None:
    """Every sweep (and spectrum) point is a method or dataset block with one key replaced:
    validate each such block with the same schema and cross-checks as a written one.

    A typo in the key (``method.alpah``) would otherwise add an unused key to every derived
    block and leave the value at its default; an out-of-range value would fail in a job.
    """
    where = f"experiments.{name}"
    validator = _validator_with_defaults(schema)
    for label, target, key, values in _swept(experiment):
        if target not in ("dataset", "method") or not key or "." in key:
            raise ConfigError(
                f"{where}.sweep: {label.removeprefix('sweep.')!r} must be 'dataset.<key>' or "
                "'method.<key>'"
            )
        section = f"{target}s"
        discriminator = "kind" if target == "method" else "domain"
        if key in (discriminator, "base"):
            raise ConfigError(
                f"{where}.{label}: a sweep cannot change a {target}'s {key}; list one "
                f"{target} per {key} under {section} instead"
            )
        names = experiment.get(section) or [experiment.get(target)]
        sub = schema["properties"][section]["additionalProperties"]
        for base in names:
            block = {k: v for k, v in config[section][base].items() if k != "base"}
            keys = [k for k in _block_keys(schema, section, block) if k != discriminator]
            if key not in keys:
                close = difflib.get_close_matches(key, keys, n=1)
                hint = f"did you mean '{target}.{close[0]}'? " if close else ""
                raise ConfigError(
                    f"{where}.{label}: {target} {base!r} ({discriminator} "
                    f"{block.get(discriminator)}) has no key {key!r}; {hint}a sweep replaces "
                    f"one of its keys: {', '.join(keys)}"
                )
            for value in values:
                trial = copy.deepcopy(block) | {key: copy.deepcopy(value)}
                point = f"{where}.{label} = {value!r} ({target} {base!r})"
                errors = list(validator.descend(trial, sub))
                if errors:
                    error = _deepest(min(errors, key=lambda e: len(e.absolute_path)))
                    at = ".".join(str(part) for part in error.absolute_path)
                    raise ConfigError(f"{point}: {at + ': ' if at else ''}{error.message}")
                if target == "method":
                    try:
                        _check_method(base, trial, config)
                    except ValueError as error:  # ConfigError is one
                        raise ConfigError(f"{point}: {error}") from None


def _check_file_names(config: dict) -> None:
    """Every file name the plan makes fits the file system, before any job exists.

    Derived names (``sa__alpha_0p005``) and paired-difference files
    (``a__minus__b.json``) are longer than any user name; the pipeline adds up to
    :data:`FILE_NAME_MARGIN` characters for temporary and provenance files. Without this
    check Snakemake dies with "File name too long" in the middle of a run.
    """
    from .plan import build_plan

    plan = build_plan(copy.deepcopy(config))
    paths = list(plan.targets())
    for dataset, method in sorted(plan.jobs):
        paths += [plan.samples_path(dataset, method), plan.metrics_path(dataset, method)]
    for experiment in plan.experiments.values():
        paths += [plan.paired_path(a.dataset, a.method, b.method) for a, b in experiment.paired]
    limit = FILE_NAME_LIMIT - FILE_NAME_MARGIN
    for path in paths:
        for part in Path(path).parts:
            if len(part.encode()) > limit:
                raise ConfigError(
                    f"the file name {part[:40]!r}… of {path[:60]!r}… has {len(part.encode())} "
                    f"characters; the pipeline keeps file names below {limit} (the file "
                    f"system allows {FILE_NAME_LIMIT}, and temporary and provenance files add "
                    f"{FILE_NAME_MARGIN}); shorten the names or swept values that make it"
                )


def check_config(config: dict, schema: dict | None = None) -> None:
    """Cross-field checks; raise :class:`ConfigError` naming the key.

    ``schema`` (the composed schema) validates the derived blocks of sweeps and spectra.
    """
    schema = schema or compose_schema()
    _check_names(config)
    _one_line_texts(config)
    for name, protocol in config["protocols"].items():
        _check_protocol(name, protocol)
    for name, method in config["methods"].items():
        _check_method(name, method, config)
    for dataset in config["datasets"].values():
        domain = get_domain(dataset["domain"])
        if getattr(domain, "SOURCE_SCHEMA", None) is not None:
            config["sources"].setdefault(dataset["domain"], {})
    for name, experiment in config["experiments"].items():
        check = getattr(get_experiment(experiment["kind"]), "check", None)
        if check is not None:
            check(name, experiment, config, schema)
    _check_file_names(config)
    from .claims import check_claims

    check_claims(config)


def check_config_files(paths: Iterable[Path | str]) -> str:
    """Check config files as a run would, without Snakemake; a one-line summary if valid.

    Snakemake parses ``--configfile`` before the Snakefile, so a YAML syntax error there
    comes back as "not valid JSON or YAML" with no position; this names file, line and
    column, then runs every check of :func:`prepare` and expands the plan. Raises
    :class:`ConfigError` with the first problem. A YTE template (``__use_yte__: true``) is
    refused, not run: Snakemake would run its code when it reads the file. The summary
    names the results folder and, when a symlink leads elsewhere, where files really go.
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
        loaded = check_yaml_file(path)
        loaded = {} if loaded is None else loaded
        if not isinstance(loaded, dict):
            raise ConfigError(
                f"{path}: the top level must be a mapping of keys (seed: …, datasets: …), "
                f"not {_kind_of(loaded)}"
            )
        if loaded.get(YTE_KEY):
            raise ConfigError(_yte_message(path))
        loaded.pop(YTE_KEY, None)  # `__use_yte__: false`: Snakemake drops the key too
        update_config(config, loaded)
    plan = build_plan(prepare(config))  # the files are checked above: parsed once each
    names = ", ".join(map(str, paths))
    results = Path(plan.results)
    resolved = results.resolve()
    where = f"results in {results}/"
    if resolved != Path.cwd().resolve() / results:  # a symlink on the way: say where to
        where += f" (a symlink: files go to {resolved}/)"
    return (
        f"{names}: valid — {len(plan.datasets)} datasets, {len(plan.methods)} methods, "
        f"{len(plan.experiments)} experiments, {len(plan.jobs)} (dataset, method) pairs to "
        f"sample; {where}"
    )


YTE_KEY = "__use_yte__"
"""The top-level key that makes Snakemake treat a config file as a YTE template."""


def _kind_of(value: Any) -> str:
    kinds = {list: "a list", str: "a string", bool: "true/false", int: "a number"}
    kinds[float] = "a number"
    return next((text for kind, text in kinds.items() if isinstance(value, kind)), "a value")


def _yte_message(path: Path) -> str:
    return (
        f"{path} is a YTE template ({YTE_KEY}: true): Snakemake runs the Python code in it "
        "when it reads the file, for `snakemake -n` and `--lint` too, before any check of "
        "this pipeline. check-config does not run code from a config: read it like a script, "
        f"then check what it renders to (`yte --template {path} --output rendered.yaml`, "
        "then `stochastic-attention check-config rendered.yaml`)"
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
    check_config(config, schema)
    return config
