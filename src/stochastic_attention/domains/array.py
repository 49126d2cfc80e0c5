"""The ``array`` domain: a memory from a user's numeric array file (DESIGN domains).

Dataset keys (besides ``domain``)::

    path: <file.npy | file.npz | file.csv>   # relative paths: relative to the working directory
    layout: columns | rows   # columns: the file holds (d, n), one pattern per column;
                             # rows: (n, d), one pattern per row
    n_patterns: K            # optional; default every pattern in the file
    key: <name>              # .npz only: the array to use (optional when it holds one array)
    image_shape: [h, w]      # optional: show states as h×w images (needs h·w = d)

The memory ``(d, K)`` holds the first K patterns in file order, each scaled to unit norm.

File formats:

* ``.npy`` / ``.npz``: a 2-D numeric array (integer, float or bool), read without pickles.
* ``.csv``: comma-separated numbers, one matrix row per line, no comment lines. The first
  line may be a header of column names: it is taken as one only when *every* cell of it is
  a name (not empty, not a number) and every later line is numeric; it is then skipped,
  recorded as ``csv_header`` and stated in the memory job's log and the table's notes. A
  first line that mixes numbers with other cells (``NA``, an empty cell, ``0x1F``) is a data
  line with a bad cell and is refused, never dropped. Values are parsed by NumPy
  (``loadtxt``), never evaluated.

A ``.npy`` header (or an ``.npz`` member's) must not claim more values than the file holds:
a damaged or hostile header is refused before anything is allocated. Every ``.npz`` member
must itself be a ``.npy`` array.

A missing or empty file, an unknown suffix, a non-numeric or ragged CSV, an array that is not
2-D, an ``.npz`` without the requested key (or with several arrays and no key), fewer than K
patterns, and non-finite or all-zero patterns among the first K raise a DomainError naming
the file, the problem and the fix.
"""

from __future__ import annotations

import csv
import hashlib
import math
import warnings
import zipfile
from pathlib import Path

import numpy as np

from ._imaging import check_size, image_panel, square_shape
from .base import DomainError, Memory, Panel, unit_columns

__all__ = [
    "DATASET_SCHEMA",
    "LAYOUTS",
    "NAME",
    "SOURCE_SCHEMA",
    "build_memory",
    "dataset_inputs",
    "panel",
    "read_array",
]

NAME = "array"
SOURCE_SCHEMA = None
LAYOUTS: tuple[str, ...] = ("columns", "rows")
SUFFIXES: tuple[str, ...] = (".npy", ".npz", ".csv")
_MISSING_MARKS = frozenset({"NA", "N/A", "NAN", "NULL", "NONE", "-", "?"})
"""Cells that mark a missing value, never a column name (so a line of them is data)."""
DATASET_SCHEMA: dict = {
    "type": "object",
    "properties": {
        "path": {
            "type": "string",
            "description": "a .npy, .npz or .csv file (relative to the working directory)",
        },
        "layout": {
            "enum": list(LAYOUTS),
            "description": "columns: the file is (d, n), one pattern per column; rows: (n, d)",
        },
        "n_patterns": {
            "type": "integer",
            "minimum": 1,
            "description": "K: the first K patterns in file order (default: all)",
        },
        "key": {"type": "string", "description": "the array inside an .npz file"},
        "image_shape": {
            "type": "array",
            "items": {"type": "integer", "minimum": 1},
            "minItems": 2,
            "maxItems": 2,
            "description": "[height, width] to show states as images (height·width = d)",
        },
    },
    "required": ["path", "layout"],
}


def _fail(path: Path, problem: str, fix: str) -> DomainError:
    return DomainError(f"array file {path}: {problem}; {fix}")


def _numeric(array: np.ndarray, path: Path, where: str) -> np.ndarray:
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_) or np.issubdtype(
        array.dtype, np.complexfloating
    ):
        raise _fail(
            path,
            f"{where}holds {array.dtype} values, not real numbers",
            "save a numeric (integer or float) array",
        )
    return array


def _claimed_bytes(handle) -> tuple[tuple[int, ...], int] | None:
    """(shape, bytes) that a ``.npy`` header at ``handle`` announces; None if unreadable."""
    try:
        version = np.lib.format.read_magic(handle)
        read = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        shape, _, dtype = read(handle)
    except (ValueError, OSError, EOFError, SyntaxError):
        return None  # np.load names the problem itself
    return shape, math.prod(shape) * dtype.itemsize


def _check_headers(path: Path) -> None:
    """Refuse a header that claims more bytes than follow it (before NumPy allocates them).

    For an ``.npz`` member the bytes that can follow are bounded by its uncompressed size
    in the zip directory, and that by deflate's largest ratio (1032:1) of its stored size.
    """
    try:
        if path.suffix.lower() == ".npy":
            with open(path, "rb") as handle:
                claimed = _claimed_bytes(handle)
                members = [("", claimed, path.stat().st_size - handle.tell())]
        else:
            members = []
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist():
                    with archive.open(info) as handle:
                        claimed = _claimed_bytes(handle)
                        header = handle.tell()
                    stored = info.compress_size * (
                        1032 if info.compress_type != zipfile.ZIP_STORED else 1
                    )
                    members.append((f"member {info.filename!r} ", claimed,
                                    min(info.file_size, stored) - header))
    except (OSError, zipfile.BadZipFile, EOFError, ValueError):
        return  # not readable at all: np.load says so below
    for where, claimed, available in members:
        if claimed is not None and claimed[1] > max(available, 0):
            raise _fail(
                path,
                f"{where}has a header that claims shape {claimed[0]} ({claimed[1]:,} bytes) "
                f"but only {max(available, 0):,} bytes of data follow, so it is truncated "
                "or damaged",
                "write it again with numpy.save / numpy.savez",
            )


def _read_npy_npz(path: Path, key: str | None) -> tuple[np.ndarray, str | None]:
    """A .npy array, or one array of a .npz (``key``, or the only one)."""
    _check_headers(path)
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise _fail(
            path,
            f"is not a readable {path.suffix} file ({error})",
            "write it with numpy.save / numpy.savez (no object arrays)",
        ) from None
    if isinstance(loaded, np.ndarray):
        return _numeric(loaded, path, ""), None
    with loaded:
        names = list(loaded.files)
        if key is None:
            if len(names) != 1:
                held = ", ".join(names) or "no arrays"
                raise _fail(
                    path,
                    f"holds {held}, so it is unclear which array to use"
                    if names
                    else "holds no arrays",
                    "set key: <array name> in the dataset"
                    if names
                    else "save the memory array in it",
                )
            key = names[0]
        elif key not in names:
            raise _fail(
                path,
                f"has no array named {key!r} (it holds {', '.join(names)})",
                "set key to one of those names",
            )
        try:
            array = loaded[key]
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
            raise _fail(
                path,
                f"array {key!r} is unreadable ({error})",
                "write it again with numpy.savez (no object arrays)",
            ) from None
    if not isinstance(array, np.ndarray):  # NumPy returns a non-.npy member as raw bytes
        raise _fail(
            path,
            f"member {key!r} is not a .npy array (an .npz holds .npy files only)",
            "write the file with numpy.savez, or set key to one of its arrays",
        )
    return _numeric(array, path, f"array {key!r} "), key


def _csv_problem(path: Path, skip: int) -> str:
    """The first ragged line or non-numeric cell after ``skip`` lines (for error messages)."""
    width = None
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        for line, cells in enumerate(csv.reader(handle), start=1):
            if line <= skip or not cells:
                continue
            if width is None:
                width = len(cells)
            elif len(cells) != width:
                return f"line {line} has {len(cells)} values but earlier lines have {width}"
            for column, cell in enumerate(cells, start=1):
                try:
                    float(cell.strip())
                except ValueError:
                    shown = cell if len(cell) <= 20 else cell[:20] + "…"
                    return f"line {line}, column {column} holds {shown!r}, which is not a number"
    return "it cannot be parsed as numbers"


def _is_number(cell: str) -> bool:
    try:
        float(cell.strip())
    except ValueError:
        return False
    return True


def _loadtxt(path: Path, skip: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "input contained no data"
        return np.loadtxt(
            path,
            delimiter=",",
            quotechar='"',
            comments=None,
            skiprows=skip,
            ndmin=2,
            dtype=np.float64,
            encoding="utf-8",
        )


def _read_csv(path: Path) -> tuple[np.ndarray, list[str] | None]:
    """A numeric CSV → (matrix, header names or None); see the module docstring."""
    fix = "write one row of comma-separated numbers per line (one optional header line)"
    try:
        return _loadtxt(path, 0), None
    except ValueError:
        pass
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        first = next(csv.reader(handle), [])
    # a header only when every cell is a name: a line mixing numbers with 'NA', an empty
    # cell or '0x1F' is a data line with a bad cell, never silently dropped
    names = all(
        cell.strip() and not _is_number(cell) and cell.strip().upper() not in _MISSING_MARKS
        for cell in first
    )
    header = [cell.strip() for cell in first] if first and names else None
    if header is not None:
        try:
            matrix = _loadtxt(path, 1)
        except ValueError:
            matrix = None
        if matrix is not None and matrix.shape[1] in (len(header), 0):
            return matrix, header
        if matrix is not None:
            raise _fail(
                path,
                f"its header line has {len(header)} names but the rows have "
                f"{matrix.shape[1]} values",
                fix,
            )
        problem = _csv_problem(path, 1)
        raise _fail(path, f"is not numeric after its header line: {problem}", fix)
    raise _fail(
        path,
        f"is not a numeric CSV: {_csv_problem(path, 0)}",
        fix + " (a header line holds only names, no numbers or empty cells)",
    )


def read_array(path: Path | str, key: str | None = None) -> tuple[np.ndarray, dict]:
    """Read the 2-D numeric array of ``path`` → (array as stored, info: key, csv_header)."""
    path = Path(path).expanduser()
    if path.suffix.lower() not in SUFFIXES:
        raise _fail(
            path, f"has the suffix {path.suffix or '(none)'!r}", "use a .npy, .npz or .csv file"
        )
    if not path.is_file():
        problem = "is a folder, not a file" if path.exists() else "does not exist"
        raise _fail(
            path, problem, "check path (a relative path is relative to the working directory)"
        )
    if path.stat().st_size == 0:
        raise _fail(path, "is empty", "write the memory matrix into it")
    info: dict = {"key": None, "csv_header": None}
    if path.suffix.lower() == ".csv":
        if key is not None:
            raise _fail(
                path,
                f"is a CSV file, which has no arrays to pick with key {key!r}",
                "remove key from the dataset",
            )
        array, info["csv_header"] = _read_csv(path)
    else:
        if key is not None and path.suffix.lower() == ".npy":
            raise _fail(
                path,
                f"is a .npy file, which holds one array, so key {key!r} selects nothing",
                "remove key from the dataset",
            )
        array, info["key"] = _read_npy_npz(path, key)
    if array.size == 0:
        raise _fail(
            path, f"holds no values (shape {array.shape})", "write the memory matrix into it"
        )
    if array.ndim != 2:
        raise _fail(
            path,
            f"holds an array of shape {array.shape}, not a 2-D matrix",
            "save it as (d, n) with layout: columns or (n, d) with layout: rows "
            "(flatten images to rows and give image_shape)",
        )
    return array, info


def _check_patterns(patterns: np.ndarray, path: Path, layout: str) -> None:
    """Refuse non-finite or all-zero patterns; ``patterns`` (d, K) in file order."""
    unit = "column" if layout == "columns" else "row"
    finite = np.isfinite(patterns).all(axis=0)
    if not finite.all():
        index = int(np.flatnonzero(~finite)[0])
        raise _fail(
            path,
            f"pattern {index} ({unit} {index} of the file) holds NaN or inf",
            "fix or drop that pattern",
        )
    zero = ~np.any(patterns != 0, axis=0)
    if zero.any():
        index = int(np.flatnonzero(zero)[0])
        raise _fail(
            path,
            f"pattern {index} ({unit} {index} of the file) is all zeros and "
            "cannot be unit-normalised",
            "drop that pattern",
        )


def dataset_inputs(params: dict) -> dict[str, str]:
    """The array file the memory reads (so the workflow rebuilds it when the file changes)."""
    return {"data": str(params["path"])}


def build_memory(params: dict, raw: Path | None = None) -> Memory:
    """Memory (d, K): the first K patterns of ``params["path"]``, unit-normalised."""
    if not params.get("path"):
        raise DomainError("array dataset: set path: <file.npy | file.npz | file.csv>")
    path = Path(params["path"]).expanduser()
    layout = params.get("layout")
    if layout not in LAYOUTS:
        raise DomainError(
            f"array dataset {path}: layout must be columns ((d, n), one pattern per column) or "
            f"rows ((n, d), one pattern per row), got {layout!r}"
        )
    array, info = read_array(path, params.get("key"))
    patterns = array if layout == "columns" else array.T  # (d, n)
    n_available = patterns.shape[1]
    n_patterns = params.get("n_patterns", n_available)
    if (
        isinstance(n_patterns, bool)
        or not isinstance(n_patterns, int | np.integer)
        or (n_patterns < 1)
    ):
        raise DomainError(
            f"array dataset {path}: n_patterns must be a positive integer, got {n_patterns!r}"
        )
    if n_available < n_patterns:
        unit = "columns" if layout == "columns" else "rows"
        raise _fail(
            path,
            f"holds {n_available} patterns ({unit}, layout {layout}, shape "
            f"{array.shape}), fewer than n_patterns={n_patterns}",
            "lower n_patterns or check layout",
        )
    patterns = patterns[:, :n_patterns].astype(np.float64)
    _check_patterns(patterns, path, layout)
    memory = unit_columns(patterns, f"array file {path}")
    image_shape = params.get("image_shape")
    if image_shape is not None:
        image_shape = check_size(image_shape, f"array dataset {path}: image_shape")
        if image_shape[0] * image_shape[1] != memory.shape[0]:
            raise DomainError(
                f"array dataset {path}: image_shape {list(image_shape)} has "
                f"{image_shape[0] * image_shape[1]} pixels but the patterns have d = "
                f"{memory.shape[0]}; fix image_shape or remove it"
            )
    else:
        image_shape = square_shape(memory.shape[0])
    notes = []
    if info["csv_header"] is not None:
        notes.append(
            f"line 1 of {params['path']} is a header of {len(info['csv_header'])} column names "
            f"({', '.join(info['csv_header'][:5])}{', …' if len(info['csv_header']) > 5 else ''}), "
            "not a pattern"
        )  # logged by the memory step and shown under the tables
    metadata = {
        "domain": NAME,
        "path": str(params["path"]),
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "layout": layout,
        "key": info["key"],
        "csv_header": info["csv_header"],
        "d": memory.shape[0],
        "n_patterns": memory.shape[1],
        "n_available": int(n_available),
        "image_shape": list(image_shape) if image_shape else None,
        "notes": notes,
    }
    return Memory(memory, metadata)


def panel(states: np.ndarray, memory: Memory) -> Panel:
    """States (d, n) → images (n, h, w) when an image shape is known, else a (1, d, n) matrix."""
    shape = memory.metadata.get("image_shape")
    if shape:
        return image_panel(states, shape)
    states = np.asarray(states, dtype=np.float64)
    if states.ndim == 1:
        states = states[:, None]
    return Panel(kind="matrix", images=states[None])
