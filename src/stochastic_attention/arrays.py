"""Reading the pipeline's ``.npz`` files with errors a person can act on."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .errors import UserError, rebuild_command

__all__ = ["BadInputError", "load_samples", "read_npz", "write_npz_atomic"]

_NPZ_DATE = (1980, 1, 1, 0, 0, 0)


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


def load_samples(path: Path | str) -> dict[str, Any]:
    """Every array of a samples file (``results/samples/…``), with ``metadata`` decoded."""
    loaded: dict[str, Any] = read_npz(path, ("samples", "groups", "metadata"), "samples")
    loaded["metadata"] = json.loads(str(loaded["metadata"]))
    return loaded


def write_npz_atomic(out_path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` as a compressed .npz at ``out_path`` via a temp file and a rename.

    Zip entries carry a fixed timestamp, so equal arrays give byte-identical files.
    """
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        dir=out_path.parent, prefix=f".{out_path.name}.", suffix=".part"
    )
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            with zipfile.ZipFile(fh, mode="w") as zf:
                for key, value in arrays.items():
                    info = zipfile.ZipInfo(f"{key}.npy", date_time=_NPZ_DATE)
                    info.compress_type = zipfile.ZIP_DEFLATED
                    with zf.open(info, "w", force_zip64=True) as member:
                        np.lib.format.write_array(
                            member, np.ascontiguousarray(value), allow_pickle=False
                        )
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out_path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
