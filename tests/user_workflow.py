"""Run the workflow as a user would: a clean environment whose PATH holds no virtual env.

Snakemake is started through the interpreter running the tests (``<venv>/bin/python -m
snakemake``), and the rules call the library through that same interpreter, so nothing may
depend on the venv being on PATH. ``PYTHONPATH`` holds this checkout's ``src`` (the scratch
copy of the workflow has no ``src`` of its own) and any plug-in folders.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from workflow_utils import REPO

__all__ = ["CLEAN_PATH", "clean_environment", "job_log", "run_snakemake"]

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


def run_snakemake(
    workdir: Path,
    arguments: list[str],
    pythonpath: Iterable[Path | str] = (),
    check: bool = True,
    timeout: int = 600,
) -> subprocess.CompletedProcess:
    """``python -m snakemake arguments`` in ``workdir`` from a clean environment."""
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", *arguments],
        cwd=workdir,
        env=clean_environment(pythonpath),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(arguments)} failed ({result.returncode}):\n"
            f"{result.stdout[-4000:]}\n{result.stderr[-6000:]}"
        )
    return result


def job_log(workdir: Path, results: str, step: str, *parts: str) -> str:
    """The log of one job: ``<results>/logs/<step>/<parts…>.log``."""
    return (workdir / results / "logs" / step / Path(*parts)).with_suffix(".log").read_text()
