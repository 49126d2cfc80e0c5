"""The one base class of every error a user can cause and fix (bad config, data, input).

The step runner prints a :class:`UserError` as one line and exits 1; any other exception is
a bug and keeps its traceback.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

__all__ = ["CONFIG_FILES_VARIABLE", "ConfigError", "MethodError", "UserError", "rebuild_command"]

CONFIG_FILES_VARIABLE = "STOCHASTIC_ATTENTION_CONFIGFILES"
"""Set by the workflow for every job: the config files of the run, separated by os.pathsep."""


class UserError(Exception):
    """A failure the user can fix; the message names the key, file or value and the fix."""


class ConfigError(UserError, ValueError):
    """The config is invalid or inconsistent; the message names the key and the fix.

    Defined here, not in :mod:`.config`, so that modules the config checks call (claims)
    can raise it without importing the config module back.
    """


class MethodError(UserError, ValueError):
    """A method cannot run with these parameters or inputs; the message says why.

    Defined here, not in :mod:`.methods.base` (which re-exports it), so that the models
    in ``baselines`` can raise it without importing the method layer above them.
    """


def rebuild_command(path: Path | str) -> str:
    """The Snakemake command that rebuilds the workflow file ``path`` (and, run again
    without the target, everything downstream of it).

    Merely deleting a file is not enough: when the files made from it exist, Snakemake
    sees nothing to do. ``--force`` re-runs the job that makes ``path``; the next plain
    run then re-runs the jobs whose inputs it made newer. The config files of the run
    come from :data:`CONFIG_FILES_VARIABLE` (set by the workflow).
    """
    files = [f for f in os.environ.get(CONFIG_FILES_VARIABLE, "").split(os.pathsep) if f]
    cwd = Path.cwd()
    shown = []
    for name in files:
        file = Path(name)
        shown.append(str(file.relative_to(cwd)) if file.is_relative_to(cwd) else str(file))
    config = " ".join(shlex.quote(name) for name in shown) or "<your config file>"
    target = shlex.quote(str(path))
    return f"snakemake {target} --force --cores 1 --configfile {config}"
