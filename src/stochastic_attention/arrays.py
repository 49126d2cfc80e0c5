"""Reading the pipeline's ``.npz`` files with errors a person can act on."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from .errors import UserError, rebuild_command

__all__ = ["BadInputError", "read_npz"]


class BadInputError(UserError, ValueError):
    """An input file is missing, unreadable or lacks an expected array."""


def read_npz(path: Path | str, required: tuple[str, ...], what: str) -> dict[str, np.ndarray]:
    """Load every array of ``path``, checking that ``required`` ones exist; never unpickles.

    A missing, corrupt or incomplete file raises :class:`BadInputError` naming the file, the
    problem, and the fix: the exact Snakemake command that rebuilds it.
    """
    path = Path(path)
    fix = f"rebuild it with `{rebuild_command(path)}`, then re-run the workflow"
    if not path.exists():
        raise BadInputError(f"{what} file {path} does not exist; run the step that makes it")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [key for key in required if key not in data.files]
            if missing:
                raise BadInputError(
                    f"{what} file {path} lacks the array(s) {', '.join(missing)} "
                    f"(it holds {', '.join(data.files) or 'nothing'}); {fix}"
                )
            return {key: data[key] for key in data.files}
    except BadInputError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise BadInputError(
            f"{what} file {path} is not a readable .npz file ({error}); {fix}"
        ) from None
