"""The ``stochastic-attention`` console command: one sub-command per pipeline step.

Every step has the same shape, so a Snakemake rule is one line of glue::

    stochastic-attention STEP --params '{"beta": 200, ...}' --seed 7 --threads 1 \\
        --input memory=results/memory/mnist/digit3.npz \\
        --output samples=results/samples/mnist/digit3/sa_beta200.npz

A step is a function ``step(params, inputs, outputs, seed, threads) -> dict`` registered
with :func:`step`; ``inputs`` and ``outputs`` map names to paths. The runner

* validates that every input exists (a clear message otherwise),
* hands the step temporary output paths and renames them into place only when the step
  succeeded, so a failed or killed job never leaves a partial result,
* sets BLAS and torch threads to ``--threads``,
* writes ``<first output>.provenance.json`` with step, parameters, seed, library version,
  wall time, peak memory and whatever the step returned.
"""

from __future__ import annotations

import argparse
import errno
import inspect
import json
import logging
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import __version__
from .errors import UserError

__all__ = ["STEPS", "StepError", "main", "step"]

StepFunction = Callable[[dict, dict[str, Path], dict[str, Path], int, int], dict | None]
STEPS: dict[str, StepFunction] = {}
log = logging.getLogger("stochastic_attention")


class StepError(UserError, RuntimeError):
    """A user-facing failure of a step: bad parameters, missing or bad data."""


def step(name: str) -> Callable[[StepFunction], StepFunction]:
    """Register a pipeline step under ``name``."""

    def register(function: StepFunction) -> StepFunction:
        STEPS[name] = function
        return function

    return register


def _named_paths(pairs: list[str], what: str) -> dict[str, Path]:
    named = {}
    for pair in pairs:
        name, sep, path = pair.partition("=")
        if not sep or not name or not path:
            raise StepError(f"--{what} expects name=path pairs, got {pair!r}")
        named[name] = Path(path)
    return named


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (exact, unlike a
    sampled benchmark file): the machine-independent part of a job's cost."""
    own, children = (
        resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _provenance_path(path: Path) -> Path:
    return path.with_name(path.name + ".provenance.json")


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.stem}.partial-{os.getpid()}{path.suffix}")


def _set_threads(threads: int) -> None:
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(threads)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        pass


def run_step(
    name: str,
    params: dict[str, Any],
    inputs: dict[str, Path],
    outputs: dict[str, Path],
    seed: int = 0,
    threads: int = 1,
) -> dict[str, Any]:
    """Run one registered step with atomic outputs and a provenance record."""
    _load_steps(name)
    if name not in STEPS:
        raise StepError(f"unknown step {name!r}; known steps: {', '.join(sorted(STEPS))}")
    missing = [f"{key}={path}" for key, path in inputs.items() if not path.exists()]
    if missing:
        raise StepError(f"step {name}: input file(s) not found: {', '.join(missing)}")
    _set_threads(threads)
    temporary = {key: _temporary(path) for key, path in outputs.items()}
    for path in outputs.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        _provenance_path(path).unlink(missing_ok=True)  # never beside a stale output
    start = time.perf_counter()
    try:
        extra = STEPS[name](params, inputs, temporary, seed, threads) or {}
        for key, path in outputs.items():
            if not temporary[key].exists():
                raise StepError(f"step {name} did not write its output {key}={path}")
        for key, path in outputs.items():
            os.replace(temporary[key], path)
    finally:
        for path in temporary.values():
            path.unlink(missing_ok=True)
    record = {
        "step": name,
        "params": params,
        "seed": seed,
        "threads": threads,
        "inputs": {key: str(path) for key, path in inputs.items()},
        "outputs": {key: str(path) for key, path in outputs.items()},
        "library_version": __version__,
        "wall_seconds": round(time.perf_counter() - start, 3),
        "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "cpu_seconds": round(_cpu_seconds(), 3),
        **extra,
    }
    if outputs:
        provenance = _provenance_path(next(iter(outputs.values())))
        provenance.write_text(json.dumps(record, indent=2, default=str) + "\n")
    log.info("step %s finished in %.1f s", name, record["wall_seconds"])
    return record


def _load_steps(name: str | None = None) -> None:
    """Import the module that registers step ``name`` (all of them for ``None``), and the
    plug-in modules named in ``STOCHASTIC_ATTENTION_PLUGINS`` (comma-separated; the
    workflow sets it from the config's ``plugins``)."""
    from . import steps
    from .config import load_plugins

    plugins = os.environ.get("STOCHASTIC_ATTENTION_PLUGINS", "")
    load_plugins([name for name in plugins.split(",") if name])
    steps.load(name)


def _step_help(name: str) -> str:
    """The docstring of step ``name`` (its inputs, outputs and parameters)."""
    if name == "check-config":
        from .config import check_config_files

        doc = inspect.getdoc(check_config_files)
        usage = "usage: stochastic-attention check-config FILE [FILE ...]  (repository root)"
        return f"stochastic-attention check-config\n\n{doc}\n\n{usage}\n"
    _load_steps(name)
    function = STEPS.get(name)
    if function is None:
        raise StepError(f"unknown step {name!r}; known steps: {', '.join(sorted(STEPS))}")
    usage = (
        f"usage: stochastic-attention {name} --params JSON | --params-file FILE [--seed N]\n"
        "           [--threads N] --input NAME=PATH ... --output NAME=PATH ..."
    )
    doc = inspect.cleandoc(function.__doc__ or "(no description)")
    return f"stochastic-attention {name}\n\n{doc}\n\n{usage}\n"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the console command."""
    parser = argparse.ArgumentParser(
        prog="stochastic-attention",
        description="Run one step of the stochastic-attention pipeline. "
        "'stochastic-attention list' lists the steps; "
        "'stochastic-attention STEP --help' describes one; "
        "'stochastic-attention check-config FILE...' checks config files as a run would.",
        add_help=False,
    )
    parser.add_argument("step", nargs="?", help="the step to run (see 'stochastic-attention list')")
    parser.add_argument(
        "files", nargs="*", help="with 'check-config': the config files to check, as a run would"
    )
    parser.add_argument("-h", "--help", action="store_true", help="show help (of STEP if given)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--params", default="{}", help="parameters as a JSON object")
    parser.add_argument("--params-file", type=Path, help="parameters from a JSON file")
    parser.add_argument("--seed", type=int, default=0, help="the job's random seed")
    parser.add_argument("--threads", type=int, default=1, help="BLAS/torch threads")
    parser.add_argument("--input", nargs="*", default=[], help="name=path pairs")
    parser.add_argument("--output", nargs="*", default=[], help="name=path pairs")
    return parser


def _parse_params(arguments: argparse.Namespace) -> dict[str, Any]:
    if arguments.params_file is not None:
        try:
            text = arguments.params_file.read_text()
        except OSError as error:
            raise StepError(f"cannot read --params-file {arguments.params_file}: {error}") from None
    else:
        text = arguments.params
    try:
        params = json.loads(text)
    except json.JSONDecodeError as error:
        raise StepError(f"--params is not valid JSON: {error}") from None
    if not isinstance(params, dict):
        raise StepError("--params must be a JSON object")
    return params


_SYSTEM_ERRORS = {
    errno.ENOSPC: "the disk is full",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
}


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse, run; a user-facing error is one line and exit status 1.

    Errors a user can fix (:class:`~stochastic_attention.errors.UserError`, and a full disk,
    a read-only or forbidden output folder) are printed as one line; anything else is a bug
    and keeps its traceback.
    """
    parser = build_parser()
    arguments = parser.parse_args(argv)
    if arguments.files and arguments.step != "check-config":
        parser.error(f"unexpected arguments {arguments.files}; only check-config takes files")
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
        force=True,
    )
    try:
        if arguments.help or arguments.step is None:
            print(_step_help(arguments.step) if arguments.step else parser.format_help())
            return 0
        if arguments.step == "list":
            _load_steps()
            print("\n".join(sorted(STEPS)))
            return 0
        if arguments.step == "check-config":
            from .config import check_config_files

            print(check_config_files(arguments.files))
            return 0
        run_step(
            arguments.step,
            _parse_params(arguments),
            _named_paths(arguments.input, "input"),
            _named_paths(arguments.output, "output"),
            seed=arguments.seed,
            threads=arguments.threads,
        )
    except UserError as error:
        log.error("%s: %s", type(error).__name__, error)
        return 1
    except OSError as error:
        if error.errno not in _SYSTEM_ERRORS:
            raise
        where = error.filename or ", ".join(arguments.output) or "an output file"
        log.error("%s: %s (%s)", _SYSTEM_ERRORS[error.errno], where, error.strerror)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
