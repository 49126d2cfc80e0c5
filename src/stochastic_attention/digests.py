"""Content digests of the files a job reads, so that an edit re-runs exactly its dependents.

Snakemake decides re-runs from modification times (and from changed ``params``). That misses
three kinds of edits this pipeline's inputs see:

* a file edited inside an input **folder** (an ``images`` dataset): Snakemake looks at the
  folder's own mtime, which changes only when an entry is added, removed or renamed;
* a file whose **mtime is kept** (``cp -p``, ``rsync -t``, ``tar x``, ``touch -r``);
* files a job reads that are **not inputs** at all: the fetch job of a ``local`` source
  (finance CSV, protein alignment, MNIST IDX folder) reads a path from its params.

The workflow therefore passes :func:`files_digest` of every file a memory or fetch job reads
as a ``params`` value: a changed digest re-runs that job, and Snakemake's mtime rule then
re-runs everything downstream of its output, and nothing else.

Hashing is cheap on repeated runs: each file's sha256 is cached in
``.snakemake/content-digests.json`` under its path, keyed by its size, mtime, ctime, inode and
device. The ctime changes on every write and cannot be set back by a user (``touch -r`` and
``os.utime`` change it too), so a cached digest is reused only for an untouched file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "CACHE_PATH",
    "dataset_digest",
    "file_digest",
    "files_digest",
    "folder_files",
    "source_digest",
]

CACHE_PATH = Path(".snakemake/content-digests.json")
"""Cache of per-file sha256 digests, relative to the working directory."""
_CHUNK = 1 << 20
_MEMO: dict[str, tuple[tuple[int, ...], str]] = {}
_LOADED: set[Path] = set()


def _stamp(stat: os.stat_result) -> tuple[int, ...]:
    return (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, stat.st_dev)


def _load_cache(cache: Path) -> None:
    if cache in _LOADED:
        return
    _LOADED.add(cache)
    with contextlib.suppress(OSError, ValueError, TypeError):
        for path, (stamp, digest) in json.loads(cache.read_text()).items():
            _MEMO.setdefault(path, (tuple(stamp), str(digest)))


def _save_cache(cache: Path) -> None:
    """Write the memo atomically (concurrent writers may lose entries, never corrupt it)."""
    with contextlib.suppress(OSError):
        cache.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache.parent, prefix=f".{cache.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump({k: [list(s), d] for k, (s, d) in _MEMO.items()}, handle)
            os.replace(tmp, cache)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def file_digest(path: Path | str) -> str:
    """sha256 (hex) of one file's content; reused while its stat stamp is unchanged."""
    path = Path(path)
    stat = path.stat()
    key = str(path.resolve())
    cached = _MEMO.get(key)
    if cached and cached[0] == _stamp(stat):
        return cached[1]
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    _MEMO[key] = (_stamp(stat), digest.hexdigest())
    return _MEMO[key][1]


def folder_files(folder: Path | str) -> list[Path]:
    """Every regular file below ``folder`` (hidden ones too), sorted by relative path."""
    folder = Path(folder)
    return sorted((p for p in folder.rglob("*") if p.is_file()), key=lambda p: p.as_posix())


def files_digest(paths: Iterable[Path | str], cache: Path | None = CACHE_PATH) -> str:
    """One digest (16 hex digits) of the names and contents of ``paths``.

    A folder stands for every file below it (:func:`folder_files`). A path that does not
    exist contributes the word ``missing``: Snakemake (or the job) reports it; the digest
    only has to change when the file appears. ``cache`` (None: in memory only) persists the
    per-file digests between runs.
    """
    if cache is not None:
        _load_cache(cache)
    before = dict(_MEMO)
    total = hashlib.sha256()
    for path in sorted({Path(p) for p in paths}, key=lambda p: p.as_posix()):
        if path.is_dir():
            entries = [(f"{path.as_posix()}/{f.relative_to(path).as_posix()}", f)
                       for f in folder_files(path)]
        else:
            entries = [(path.as_posix(), path)]
        for name, file in entries:
            try:
                content = file_digest(file)
            except OSError:
                content = "missing"
            total.update(f"{name}\0{content}\n".encode())
    if cache is not None and _MEMO != before:
        _save_cache(cache)
    return total.hexdigest()[:16]


def dataset_digest(spec: dict) -> str:
    """Digest of the files a dataset's memory job reads besides the fetched raw file.

    The domain's ``dataset_files(spec)`` names them when it has one (``images``: the
    images it reads, not every file of the folder); otherwise the paths of its
    ``dataset_inputs(spec)`` (a folder stands for every file below it).
    """
    from .domains.base import get_domain

    domain = get_domain(spec["domain"])
    if hasattr(domain, "dataset_files"):
        paths = domain.dataset_files(spec)
    elif hasattr(domain, "dataset_inputs"):
        paths = list(domain.dataset_inputs(spec).values())
    else:
        paths = []
    return files_digest(paths)


LOCAL_SOURCE_KINDS = ("local", "folder")
"""Source kinds whose ``path`` the fetch job reads (a file or a folder)."""


def source_digest(domain_name: str, source: dict) -> str:
    """Digest of the local files a domain's fetch job reads for ``source``.

    The domain's ``source_files(source)`` names them when it has one (``mnist``: the two
    IDX files); otherwise the ``path`` of a ``local`` or ``folder`` source. Offline
    (package) and network sources read no local file: their digest is constant, and a
    network source is re-fetched only when its block (URL, checksum) changes.
    """
    from .domains.base import get_domain

    domain = get_domain(domain_name)
    if hasattr(domain, "source_files"):
        paths = domain.source_files(source)
    elif source.get("kind") in LOCAL_SOURCE_KINDS and source.get("path"):
        paths = [source["path"]]
    else:
        paths = []
    return files_digest(paths)
