"""Run the real Snakemake workflow in a scratch copy of the repository's workflow files."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOW_FILES = ("Snakefile", "workflow", "config", "profiles", "envs")


def copy_workflow(destination: Path) -> Path:
    """Copy the Snakefile, rules, schemas, configs, profiles and conda envs into ``destination``."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, destination / name, dirs_exist_ok=True)
        elif source.exists():
            shutil.copy2(source, destination / name)
    return destination


def environment() -> dict[str, str]:
    """The current environment with this interpreter's scripts first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    # this checkout's library, by absolute path: a relative PYTHONPATH=src would name a
    # folder the scratch copy lacks, and jobs would silently import an installed version
    paths = [str(REPO / "src"), *(p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p)]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def run_in_group(
    command: list[str], *, timeout: float, **popen: object
) -> subprocess.CompletedProcess:
    """``subprocess.run`` that ends the whole process group, pass, fail or timeout.

    The command starts in a new session; whatever is still alive in that group when the
    command returns, raises or times out (jobs Snakemake started, their children) gets
    SIGKILL, so no test leaves a process behind.
    """
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        **popen,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except BaseException:
        kill_group(process)
        process.communicate()
        raise
    kill_group(process)
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL every process left in ``process``'s process group (started with a new session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        process.wait()


def processes_under(folder: Path) -> list[tuple[int, str]]:
    """(pid, command line) of every live process whose working directory is in ``folder``."""
    folder = Path(folder).resolve()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cwd = Path(os.readlink(entry / "cwd"))
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        if cmdline and (cwd == folder or folder in cwd.parents):
            found.append((int(entry.name), cmdline))
    return found


def snakemake(workdir: Path, *arguments: str, check: bool = True, timeout: int = 600):
    """Run ``snakemake`` in ``workdir``; returns the CompletedProcess (text output).

    Whatever the run leaves alive (also on a timeout) is killed with its process group.
    """
    return _run_snakemake(workdir, arguments, environment(), check, timeout)


def _run_snakemake(
    workdir: Path, arguments: Iterable[str], env: dict[str, str], check: bool, timeout: float
) -> subprocess.CompletedProcess:
    """``python -m snakemake arguments`` in ``workdir`` with ``env``, its process group ended
    afterwards; a failure raises with the output's tail unless ``check`` is False."""
    arguments = list(arguments)
    result = run_in_group(
        [sys.executable, "-m", "snakemake", *arguments], cwd=workdir, env=env, timeout=timeout
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(arguments)} failed ({result.returncode}):\n"
            f"{result.stdout[-4000:]}\n{result.stderr[-6000:]}"
        )
    return result


def load_config(workdir: Path, name: str = "smoke.yaml") -> dict:
    return yaml.safe_load((workdir / "config" / name).read_text())


def write_config(workdir: Path, config: dict, name: str) -> Path:
    path = workdir / "config" / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def planned_jobs(output: str) -> dict[str, int]:
    """Rule → job count from the 'Job stats' table of a dry run."""
    counts: dict[str, int] = {}
    lines = output.splitlines()
    if "Job stats:" not in lines:
        return counts
    for line in lines[lines.index("Job stats:") + 3 :]:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        counts[parts[0]] = int(parts[1])
    return counts


# A two-job workflow for "a killed run resumes": `a` is quick; `b` writes half its output and
# then hangs while the file `slow` exists, so a test can kill Snakemake in the middle of `b`.
RESUMABLE_SNAKEFILE = """
rule all:
    input: "results/b.txt"

rule a:
    output: "results/a.txt"
    shell: "echo a >> runs.txt; echo done > {output}"

rule b:
    input: "results/a.txt"
    output: "results/b.txt"
    shell:
        "echo b >> runs.txt; echo started > {output};"
        " while [ -e slow ]; do sleep 1; done; echo finished >> {output}"
"""


def kill_snakemake_during(
    workdir: Path, arguments: list[str], env: dict[str, str], partial: Path, timeout: float = 120
) -> None:
    """Start ``snakemake arguments`` and SIGKILL its whole session once ``partial`` exists.

    Models a run that dies mid-job (lost login session, OOM killer, node reboot): no clean-up
    runs, so Snakemake's incomplete-job marker for the running job stays behind.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "snakemake", *arguments],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    try:
        while not (workdir / partial).exists():
            if process.poll() is not None:
                raise AssertionError(
                    f"snakemake ended ({process.returncode}) before {partial} appeared:\n"
                    f"{process.stdout.read()[-6000:]}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"{partial} did not appear within {timeout} s")
            time.sleep(0.2)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        process.stdout.close()


# Running the workflow as a user would: a clean environment whose PATH holds no virtual env.
# Snakemake is started through the interpreter running the tests (<venv>/bin/python -m
# snakemake) and the rules call the library through that same interpreter, so nothing may
# depend on the venv being on PATH. PYTHONPATH holds this checkout's src (a scratch copy of
# the workflow has no src of its own) and any plug-in folders.
CLEAN_PATH = "/usr/bin:/bin"


def clean_environment(pythonpath: Iterable[Path | str] = ()) -> dict[str, str]:
    """``env -i``-like: PATH without the venv, HOME, a UTF-8 locale, PYTHONPATH."""
    env = {
        "PATH": CLEAN_PATH,
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "PYTHONPATH": os.pathsep.join([*map(str, pythonpath), str(REPO / "src")]),
    }
    for name in ("TMPDIR", "XDG_CACHE_HOME"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def clean_snakemake(
    workdir: Path,
    arguments: list[str],
    pythonpath: Iterable[Path | str] = (),
    check: bool = True,
    timeout: int = 600,
) -> subprocess.CompletedProcess:
    """``python -m snakemake arguments`` in ``workdir`` from :func:`clean_environment`."""
    return _run_snakemake(workdir, arguments, clean_environment(pythonpath), check, timeout)


def assert_jobs_follow_the_plan(jobs: dict[str, int], plan) -> None:
    """A dry run's job counts per rule (:func:`planned_jobs`) are what ``plan`` expands to."""
    from stochastic_attention.experiments.base import get_experiment

    # Kinds without a step of their own (comparison, sweep, spectrum) use the generic rules.
    data = {n: e for n, e in plan.experiments.items() if get_experiment(e.kind).STEP is None}
    assert jobs["sample"] == len(plan.jobs)
    assert jobs["metrics"] == len({(r.dataset, r.method) for e in data.values() for r in e.rows})
    pairs = {(a.dataset, a.method, b.method) for e in data.values() for a, b in e.paired}
    assert jobs["paired"] == len(pairs)
    assert jobs["experiment_table"] == len(data)
    assert jobs["figure"] == sum(len(e.figures) for e in data.values())
    assert jobs["fetch"] == len({spec["domain"] for spec in plan.datasets.values()} - {"synthetic"})
    assert jobs["summary"] == 1
    assert jobs.get("claims", 0) == int(bool(plan.config.get("claims")))


def job_log(workdir: Path, results: str, step: str, *parts: str) -> str:
    """The log of one job: ``<results>/logs/<step>/<parts…>.log``."""
    return (workdir / results / "logs" / step / Path(*parts)).with_suffix(".log").read_text()


def method_defaults(kind: str) -> dict:
    """The defaults config validation fills into a method block of ``kind`` (its own keys'
    schema defaults): what a test passes when it runs a method kind without the plan."""
    from stochastic_attention.methods.base import get_method

    schema = get_method(kind).PARAMS_SCHEMA
    return {key: value["default"] for key, value in schema.items() if "default" in value}


def experiment_defaults(kind: str, function) -> dict:
    """The schema's defaults of an experiment kind (``$defs/<kind>_experiment``) that are
    keyword arguments of ``function``: what the pipeline passes a synthetic function (its
    signature holds no defaults of its own) unless a test overrides them."""
    import inspect

    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    properties = schema["$defs"][f"{kind}_experiment"]["properties"]
    accepted = inspect.signature(function).parameters
    return {
        key: value["default"]
        for key, value in properties.items()
        if "default" in value and key in accepted
    }
