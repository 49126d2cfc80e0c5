"""Protein domain (SPEC §5): a Pfam seed alignment (default PF00076, RRM) as a memory.

Sources (``sources.protein`` in config, :data:`SOURCE_SCHEMA`):

* ``{"kind": "offline"}`` (default): the Pfam RRM_1 seed alignment (79 sequences, Stockholm)
  that Debian's ``hmmer-examples`` package ships at :data:`OFFLINE_PATH`; no network.
* ``{"kind": "interpro", "accession": "PF00076"}``: the current seed alignment of the Pfam
  family from the InterPro API (:data:`DEFAULT_URL`, gzipped Stockholm), downloaded
  atomically; optional ``timeout`` and ``sha256``.
* ``{"kind": "local", "path": FILE, "format": "stockholm" | "fasta"}``: any Stockholm or
  aligned FASTA file (gzipped or not).

Alignments are parsed with Biopython (``Bio.AlignIO``). :func:`fetch` writes one ``.npz``
with ``names`` (n,) and ``rows`` (n,) aligned sequences (numpy unicode, upper case, every gap
character as ``-``). Rows may hold the 20 amino acids, the other IUPAC letters (B J O U X Z:
ambiguous or rare residues) and ``*``; those one-hot to all zeros like a gap (SPEC §5 "gap or
other") and HMMER reads them as ambiguous residues. Any other character (a digit,
punctuation) is refused when the file is read, naming the sequence and column.

Memory (:func:`build_memory`): drop columns with more than ``max_column_gap`` gaps, then
sequences with more than ``max_sequence_gap`` gaps; one-hot over :data:`AMINO_ACIDS` (gap or
any other letter → all zeros; flattened position-major, index ``20·position + residue``, so
d_raw = 20·L); centred PCA (scikit-learn) keeping ``variance`` of the variance, giving PCA
coordinates ``z = W (x − mean)`` (``W``: (d, 20·L)); memory columns ``z_k / ‖z_k‖``.

States live in memory units. Because the memory is unit-normalised, a state ``ξ`` is mapped
back to PCA coordinates by the scale ``s`` = mean ‖z_k‖ of the naturals (``pca_scale``), and
:func:`decode` takes, per position, the argmax of the 20 channels of ``mean + Wᵀ(s·ξ)`` (the
inverse PCA; ``decoding: scaled``, the default). ``decoding: reference`` is the reference
code's: ``mean + Wᵀξ`` of the unit-norm state, without the scale, which pulls every state
towards the consensus (even the naturals decode to a set of another composition). The
sequence metrics are reported under both decodings (:func:`domain_metrics`); the dataset's
``decoding`` is the primary one (unsuffixed columns, logos, FASTA). With ``variance: 1`` the
PCA keeps every component, so the naturals lie in the span. By default (``gap_threshold:
null``, SPEC §5) a state never decodes to a gap, so a natural's gap positions come back as
residues and its identity to itself is below 1.
With ``gap_threshold`` set (0.5 is the midpoint between a one-hot 1 and the all-zero gap
code) a position whose largest channel stays below it decodes as ``-``: the naturals then
round-trip with their gaps, but states off the naturals' PCA subspace (HMM emissions) decode
with many spurious gaps, so it is off by default.
:func:`encode` is the inverse: one-hot, minus the mean, projected on ``W`` and scaled to unit
norm like the memory columns.

Sequence metrics (:func:`sequence_metrics`, :func:`domain_metrics`) compare decoded sequences
with the filtered natural alignment; their definitions are in each function's docstring.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import re
import tempfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..arrays import read_npz, write_npz_atomic
from ..download import DataSourceError, download, sha256_of
from .base import DomainError, Memory, Panel, unit_columns

__all__ = [
    "AMINO_ACIDS",
    "DATASET_SCHEMA",
    "DECODINGS",
    "DEFAULT_URL",
    "NAME",
    "OFFLINE_PATH",
    "PSEUDOCOUNT_ON",
    "SOURCE_SCHEMA",
    "build_memory",
    "composition_kl",
    "critical_temperature",
    "decode",
    "domain_metrics",
    "domain_metrics_of_sequences",
    "encode",
    "fetch",
    "filter_alignment",
    "identity_matrix",
    "max_identity",
    "mi_correlation",
    "mutual_information",
    "one_hot",
    "panel",
    "position_kl",
    "read_alignment",
    "sequence_metrics",
    "write_fasta",
]

NAME = "protein"
AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
DECODINGS = ("scaled", "reference")
"""``scaled``: ``mean + Wᵀ(s·ξ)`` with s = mean ‖z_k‖ of the naturals (this pipeline's
default); ``reference``: ``mean + Wᵀξ`` of the unit-norm state (the reference code's)."""
PSEUDOCOUNT_ON = ("counts", "frequencies")
OFFLINE_PATH = Path("/usr/share/doc/hmmer/examples/testsuite/RRM_1.sto.gz")
DEFAULT_URL = "https://www.ebi.ac.uk/interpro/api/entry/pfam/{accession}/?annotation=alignment:seed"
_GAP = "-"
_ALIGNMENT_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ*" + _GAP)
"""What an aligned row may hold after :func:`_normalise_row`; HMMER reads the letters outside
the 20 amino acids as ambiguous or rare residues, digits and punctuation not at all."""
_GZIP_MAGIC = b"\x1f\x8b"
_OFFLINE_HINT = (
    'The offline source {"kind": "offline"} needs Debian\'s hmmer-examples package '
    "(apt-get install -y hmmer-examples); any Stockholm or aligned FASTA file works with "
    '{"kind": "local", "path": FILE, "format": "stockholm"}.'
)

SOURCE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "where the protein family's seed alignment comes from",
    "properties": {
        "kind": {"enum": ["offline", "interpro", "local"], "default": "offline"},
        "accession": {"type": "string", "pattern": "^PF[0-9]{5}$", "default": "PF00076"},
        "url": {
            "type": "string",
            "default": DEFAULT_URL,
            "description": "URL template of the interpro source; {accession} is filled in",
        },
        "path": {"type": "string", "description": "alignment file of the local source"},
        "format": {"enum": ["stockholm", "fasta"], "default": "stockholm"},
        "timeout": {"type": "number", "exclusiveMinimum": 0, "default": 60},
        "sha256": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"},
    },
    "additionalProperties": False,
    "default": {},
}

DATASET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "max_column_gap": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.5},
        "max_sequence_gap": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.3},
        "variance": {"type": "number", "exclusiveMinimum": 0, "maximum": 1,
                     "default": 0.95,
                     "description": "share of the one-hot variance the PCA keeps; 1: every "
                     "component (no truncation, the naturals lie in the span)"},
        "n_patterns": {"type": "integer", "minimum": 2,
                       "description": "keep at most this many sequences (first in file order)"},
        "gap_threshold": {"type": ["number", "null"], "minimum": 0, "default": None,
                          "description": "decode a gap where no channel reaches this; "
                          "null: plain argmax"},
        "hmm_evalue": {"type": "number", "exclusiveMinimum": 0, "default": 0.01},
        "hmm_z": {"type": "number", "exclusiveMinimum": 0, "default": 1000},
        "pseudocount": {"type": "number", "exclusiveMinimum": 0, "default": 0.5,
                        "description": "added to each symbol of both sets before the KLs "
                        "(see pseudocount_on)"},
        "pseudocount_on": {"enum": list(PSEUDOCOUNT_ON), "default": "counts",
                           "description": "counts: added to the symbol counts of each set, "
                           "then normalised; frequencies: added to the normalised "
                           "frequencies, then renormalised (the reference adds 1e-10 to "
                           "frequencies)"},
        "decoding": {"enum": list(DECODINGS), "default": "scaled",
                     "description": "the primary decoding of states to sequences (the "
                     "unsuffixed metric columns; the other one is reported with its name as "
                     "suffix): scaled restores the memory's scale before the inverse PCA, "
                     "so a stored pattern decodes to its own residues (and its gaps with "
                     "gap_threshold 0.5); reference decodes "
                     "the unit-norm state directly, argmax(mean + Wᵀξ), as the reference "
                     "code does"},
    },
    "required": [],
}
_DEFAULTS = {k: v["default"] for k, v in DATASET_SCHEMA["properties"].items() if "default" in v}


# --------------------------------------------------------------------------------------------
# reading alignments


def _normalise_row(row: str) -> str:
    """Upper case; every gap character (``-``, ``.``, ``~``) as ``-``."""
    return row.upper().replace(".", _GAP).replace("~", _GAP)


def read_alignment(
    data: bytes, fmt: str, where: str
) -> tuple[np.ndarray, np.ndarray]:
    """Parse alignment bytes (gzipped or not) with ``Bio.AlignIO`` → (names (n,), rows (n,)).

    ``where`` (file or URL) names the input in errors. Raises :class:`DataSourceError` for
    empty, undecodable or unparsable input and rows of unequal length.
    """
    from Bio import AlignIO

    if fmt not in ("stockholm", "fasta"):
        raise DataSourceError(f"protein: format {fmt!r} of {where} is not stockholm or fasta")
    if data.startswith(_GZIP_MAGIC):
        try:
            data = gzip.decompress(data)
        except (EOFError, OSError, zlib.error) as error:
            raise DataSourceError(
                f"protein: {where} is a corrupt gzip file ({error}); download it again"
            ) from None
    if not data.strip():
        raise DataSourceError(
            f"protein: {where} is empty; check the accession or path. {_OFFLINE_HINT}"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise DataSourceError(
            f"protein: {where} is not a text alignment (not UTF-8); give a Stockholm or "
            "aligned FASTA file"
        ) from None
    try:
        alignment = AlignIO.read(io.StringIO(text), fmt)
    except ValueError as error:
        message = str(error).rstrip(".")
        raise DataSourceError(
            f"protein: {where} is not a valid {fmt} alignment ({message}); give a Stockholm "
            "or aligned FASTA file with rows of equal length and the matching 'format'"
        ) from None
    names = np.array([record.id for record in alignment], dtype=np.str_)
    rows = np.array([_normalise_row(str(record.seq)) for record in alignment], dtype=np.str_)
    if rows.size == 0 or len(rows[0]) == 0:
        raise DataSourceError(f"protein: {where} holds no aligned sequences")
    for name, row in zip(names, rows, strict=True):
        bad = next((i for i, c in enumerate(row) if c not in _ALIGNMENT_CHARACTERS), None)
        if bad is not None:
            raise DataSourceError(
                f"protein: {where}: sequence {name} holds {row[bad]!r} at column {bad + 1}, "
                "which is neither a residue letter nor a gap; an alignment holds letters (the "
                "20 amino acids; B J O U X Z and * count as 'other': all zeros, SPEC §5) and "
                "gaps (- . ~). Is this the right file?"
            )
    return names, rows


def _check_source(source: dict) -> dict:
    allowed = set(SOURCE_SCHEMA["properties"])
    unknown = sorted(set(source) - allowed)
    if unknown:
        raise DataSourceError(
            f"protein: unknown source key(s) {unknown}; allowed: {sorted(allowed)}"
        )
    resolved = {k: v["default"] for k, v in SOURCE_SCHEMA["properties"].items() if "default" in v}
    resolved.update(source)
    if resolved["kind"] not in ("offline", "interpro", "local"):
        raise DataSourceError(
            f"protein: unknown source kind {resolved['kind']!r}; use offline, interpro or local"
        )
    if not re.fullmatch(r"PF[0-9]{5}", str(resolved["accession"])):
        raise DataSourceError(
            f"protein: accession {resolved['accession']!r} is not a Pfam accession "
            "(PF followed by five digits, e.g. PF00076)"
        )
    if resolved["kind"] == "local" and not resolved.get("path"):
        raise DataSourceError('protein: a "local" source needs a "path" (Stockholm or FASTA file)')
    return resolved


def _check_sha256(path: Path, expected: str | None) -> str:
    got = sha256_of(path)
    if expected is not None and got != expected.strip().lower():
        raise DataSourceError(
            f"protein: checksum mismatch for {path}: expected sha256 {expected.lower()}, got "
            f"{got}; replace the file or fix the sha256"
        )
    return got


def fetch(source: dict | None, out_path: Path | str) -> dict:
    """Resolve ``source`` into ``out_path`` (``.npz``: ``names``, ``rows``); return provenance.

    Written atomically: on any failure nothing is left at ``out_path``. Raises
    :class:`DataSourceError` with one line naming the file or URL and the fix.
    """
    source = _check_source(dict(source or {}))
    out_path = Path(out_path)
    kind, fmt = source["kind"], source["format"]
    record: dict[str, Any] = {}
    if kind == "offline":
        if not OFFLINE_PATH.is_file():
            raise DataSourceError(f"protein: {OFFLINE_PATH} is missing. {_OFFLINE_HINT}")
        path, fmt = OFFLINE_PATH, "stockholm"
        record = {"path": str(path), "package": "hmmer-examples"}
        data = path.read_bytes()
        record["sha256"] = _check_sha256(path, source.get("sha256"))
        where = str(path)
    elif kind == "local":
        path = Path(source["path"]).expanduser()
        if not path.is_file():
            raise DataSourceError(f"protein: alignment file {path} not found; fix 'path'")
        data = path.read_bytes()
        record = {"path": str(path), "sha256": _check_sha256(path, source.get("sha256"))}
        where = str(path)
    else:
        url = source["url"].format(accession=source["accession"])
        out_path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=out_path.parent, prefix=".protein-") as tmp:
            try:
                file = download(url, Path(tmp) / "seed.sto.gz", sha256=source.get("sha256"),
                                timeout=float(source["timeout"]))
            except DataSourceError as error:
                raise DataSourceError(
                    f"protein: could not fetch the seed alignment of {source['accession']}: "
                    f"{error} {_OFFLINE_HINT}"
                ) from None
            data = file.read_bytes()
        record = {"url": url, "sha256": hashlib.sha256(data).hexdigest()}
        where = url
    names, rows = read_alignment(data, fmt, where)
    write_npz_atomic(out_path, {"names": names, "rows": rows})
    return {
        "domain": NAME,
        "kind": kind,
        "source": source,
        **record,
        "size": len(data),
        "n_sequences": int(rows.size),
        "alignment_length": len(rows[0]),
    }


# --------------------------------------------------------------------------------------------
# memory


def _chars(rows: Sequence[str]) -> np.ndarray:
    """Aligned rows as an (n, L) array of single characters."""
    rows = [str(r) for r in rows]
    return np.array([list(r) for r in rows], dtype="<U1").reshape(len(rows), -1)


def one_hot(rows: Sequence[str]) -> np.ndarray:
    """One-hot codes (n, 20·L) of aligned rows; gap or other letters → all zeros."""
    chars = _chars(rows)
    codes = chars[:, :, None] == np.array(list(AMINO_ACIDS))[None, None, :]
    return codes.reshape(chars.shape[0], -1).astype(np.float64)


def filter_alignment(
    rows: Sequence[str], max_column_gap: float, max_sequence_gap: float
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of kept columns, then of kept sequences: ((L_kept,), (n_kept,)).

    A column is dropped when its gap fraction (``-``) exceeds ``max_column_gap``; then a
    sequence is dropped when its gap fraction over the kept columns exceeds
    ``max_sequence_gap``.
    """
    gaps = _chars(rows) == _GAP
    columns = np.flatnonzero(gaps.mean(axis=0) <= max_column_gap)
    if columns.size == 0:
        return columns, np.array([], dtype=np.int64)
    sequences = np.flatnonzero(gaps[:, columns].mean(axis=1) <= max_sequence_gap)
    return columns, sequences


def _params(params: dict | None) -> dict:
    return {**_DEFAULTS, **{k: v for k, v in (params or {}).items() if k in _DEFAULTS or
                            k == "n_patterns"}}


def build_memory(params: dict, raw: Path | str) -> Memory:
    """Memory (d, K) of the filtered alignment in ``raw`` (from :func:`fetch`).

    arrays: ``pca_mean`` (20·L,), ``pca_components`` (d, 20·L), ``pca_scale`` (), the
    filtered aligned naturals ``sequences`` (K,), ``names`` (K,), ``columns`` (L,) kept
    column indices, ``hmm`` (uint8, HMMER3 text) and the entropy curve ``entropy_betas``,
    ``entropy_mean``, ``entropy_slope`` (G,). metadata: d, L, K, variance_kept, beta_star,
    beta_knee, sqrt_d, beta_retrieval = 20·β*, beta_generation = 2·β*, filter counts and the
    metric parameters.
    """
    from sklearn.decomposition import PCA

    from ..energy import critical_beta
    from .protein_hmm import build_hmm, hmm_to_array

    p = _params(params)
    data = read_npz(raw, ("names", "rows"), "protein raw alignment")
    names, rows = data["names"].astype(str), data["rows"].astype(str)
    columns, kept = filter_alignment(rows, p["max_column_gap"], p["max_sequence_gap"])
    if columns.size == 0 or kept.size < 2:
        raise DomainError(
            f"protein: {raw}: {columns.size} columns and {kept.size} sequences are left after "
            f"the gap filters (max_column_gap {p['max_column_gap']}, max_sequence_gap "
            f"{p['max_sequence_gap']}); raise the thresholds or use another alignment"
        )
    if p.get("n_patterns") is not None:
        kept = kept[: int(p["n_patterns"])]
    chars = _chars(rows)[np.ix_(kept, columns)]
    filtered = np.array(["".join(r) for r in chars], dtype=np.str_)
    codes = one_hot(filtered)
    if np.ptp(codes, axis=0).max() == 0:
        raise DomainError(
            f"protein: {raw}: the {kept.size} sequences left after the gap filters are "
            "identical on the kept columns, so there is no variance for the PCA; raise "
            "max_column_gap or use a more diverse alignment"
        )
    if float(p["variance"]) >= 1.0:  # every component with variance: no truncation
        n_components: float | int = int(np.linalg.matrix_rank(codes - codes.mean(axis=0)))
    else:
        n_components = float(p["variance"])
    pca = PCA(n_components=n_components, svd_solver="full").fit(codes)
    coordinates = pca.transform(codes).T  # (d, K)
    norms = np.linalg.norm(coordinates, axis=0)
    memory = unit_columns(coordinates, f"protein memory of {raw}")
    critical = critical_beta(memory)
    hmm = build_hmm(filtered, names[kept], name="family")
    d, length, k = memory.shape[0], columns.size, kept.size
    metadata = {
        "domain": NAME,
        "d": int(d),
        "L": int(length),
        "K": int(k),
        "d_one_hot": int(20 * length),
        "variance_kept": float(pca.explained_variance_ratio_.sum()),
        "beta_star": critical.beta_star,
        "beta_knee": critical.beta_knee,
        "sqrt_d": critical.sqrt_d,
        "beta_retrieval": 20 * critical.beta_star,
        "beta_generation": 2 * critical.beta_star,
        "columns_total": len(rows[0]),
        "columns_kept": int(length),
        "sequences_total": int(rows.size),
        "sequences_dropped": int(rows.size - k),
        "pca_scale": float(norms.mean()),
        "hmm_M": int(hmm.M),
        **{key: p[key] for key in ("max_column_gap", "max_sequence_gap", "variance",
                                   "gap_threshold", "hmm_evalue", "hmm_z", "pseudocount",
                                   "pseudocount_on", "decoding")},
    }
    arrays = {
        "pca_mean": pca.mean_,
        "pca_components": pca.components_,
        "pca_scale": np.array(norms.mean()),
        "sequences": filtered,
        "names": names[kept],
        "columns": columns.astype(np.int64),
        "hmm": hmm_to_array(hmm),
        "entropy_betas": critical.betas,
        "entropy_mean": critical.mean_entropy,
        "entropy_slope": critical.mean_slope_magnitude,
    }
    return Memory(memory, metadata, arrays)


def critical_temperature(memory: Memory):
    """The memory's :class:`~stochastic_attention.energy.CriticalTemperature` (no recompute)."""
    from ..energy import CriticalTemperature

    meta, arrays = memory.metadata, memory.arrays
    return CriticalTemperature(
        beta_star=float(meta["beta_star"]),
        beta_knee=float(meta["beta_knee"]),
        sqrt_d=float(meta["sqrt_d"]),
        betas=arrays["entropy_betas"],
        mean_entropy=arrays["entropy_mean"],
        mean_slope_magnitude=arrays["entropy_slope"],
    )


def _as_states(states: np.ndarray, memory: Memory) -> np.ndarray:
    states = np.asarray(states, dtype=np.float64)
    states = states[:, None] if states.ndim == 1 else states
    if states.ndim != 2 or states.shape[0] != memory.d:
        raise DomainError(f"protein: states must have shape ({memory.d}, n), got {states.shape}")
    return states


def _decoding(memory: Memory, decoding: str | None = None) -> str:
    decoding = decoding or memory.metadata.get("decoding", _DEFAULTS["decoding"])
    if decoding not in DECODINGS:
        raise DomainError(f"protein: unknown decoding {decoding!r}; use one of {DECODINGS}")
    return decoding


def decode(states: np.ndarray, memory: Memory, decoding: str | None = None) -> list[str]:
    """Aligned sequences (length L) of states (d, n): the argmax per position of
    ``mean + Wᵀ(s·ξ)`` (``scaled``, s = ``pca_scale``) or ``mean + Wᵀξ`` (``reference``).

    ``decoding`` defaults to the dataset's (``metadata["decoding"]``, else ``scaled``). A
    position whose largest channel is below ``metadata["gap_threshold"]`` (when not None)
    decodes as ``-``. Under ``reference`` a unit state is a PCA vector of length 1 where the
    naturals' have length ≈ s, so the reconstruction leans towards the mean (the consensus).
    """
    states = _as_states(states, memory)
    scale = float(memory.arrays["pca_scale"]) if _decoding(memory, decoding) == "scaled" else 1.0
    recon = memory.arrays["pca_mean"][:, None] + memory.arrays["pca_components"].T @ (
        scale * states
    )
    channels = recon.T.reshape(states.shape[1], -1, len(AMINO_ACIDS))  # (n, L, 20)
    letters = np.array(list(AMINO_ACIDS))[channels.argmax(axis=2)]
    threshold = memory.metadata.get("gap_threshold", _DEFAULTS["gap_threshold"])
    if threshold is not None:
        letters = np.where(channels.max(axis=2) < threshold, _GAP, letters)
    return ["".join(row) for row in letters]


def encode(sequences: Sequence[str], memory: Memory) -> np.ndarray:
    """States (d, n) of aligned sequences of length L: ``W (onehot − mean)``, unit columns."""
    length = int(memory.metadata["L"])
    bad = [i for i, s in enumerate(sequences) if len(s) != length]
    if bad:
        raise DomainError(
            f"protein: sequence {bad[0]} has length {len(sequences[bad[0]])}, the memory's "
            f"alignment has {length} columns; align it to the family first"
        )
    codes = one_hot([_normalise_row(str(s)) for s in sequences])
    coordinates = memory.arrays["pca_components"] @ (codes - memory.arrays["pca_mean"]).T
    norms = np.linalg.norm(coordinates, axis=0)
    return coordinates / np.where(norms > 0, norms, 1.0)


def panel(states: np.ndarray, memory: Memory) -> Panel:
    """Decoded sequences of states (d, n), one text line each."""
    return Panel(kind="text", lines=tuple(decode(states, memory)))


# --------------------------------------------------------------------------------------------
# sequence metrics


def identity_matrix(first: Sequence[str], second: Sequence[str]) -> np.ndarray:
    """Pairwise identity (m, n) of aligned sequences of equal length.

    identity = (positions with the same residue in both) / (positions where at least one of
    the two has a residue); gap–gap positions are ignored, so a sequence has identity 1 with
    itself. Two all-gap sequences have identity 0.
    """
    a, b = _chars(first), _chars(second)
    res_a, res_b = a != _GAP, b != _GAP
    matches = np.zeros((a.shape[0], b.shape[0]))
    for letter in AMINO_ACIDS:
        matches += (a == letter).astype(float) @ (b == letter).astype(float).T
    union = res_a.sum(1)[:, None] + res_b.sum(1)[None, :] - res_a.astype(float) @ res_b.T
    return np.divide(matches, union, out=np.zeros_like(matches), where=union > 0)


def max_identity(generated: Sequence[str], naturals: Sequence[str]) -> np.ndarray:
    """Per generated sequence, the highest identity to any natural one: (S,)."""
    return identity_matrix(generated, naturals).max(axis=1)


def _frequencies(counts: np.ndarray, pseudocount: float, on: str = "counts") -> np.ndarray:
    """Symbol frequencies (…, q) of ``counts`` (…, q) with ``pseudocount`` added to each
    symbol's count (``on="counts"``) or to its frequency, then renormalised
    (``on="frequencies"``; a set without symbols has frequencies 0 before the pseudocount)."""
    if on == "counts":
        counts = counts + pseudocount
        return counts / counts.sum(axis=-1, keepdims=True)
    if on != "frequencies":
        raise ValueError(f"pseudocount_on must be one of {PSEUDOCOUNT_ON}, got {on!r}")
    total = counts.sum(axis=-1, keepdims=True)
    frequencies = np.divide(counts, total, out=np.zeros_like(counts, dtype=float),
                            where=total > 0) + pseudocount
    return frequencies / frequencies.sum(axis=-1, keepdims=True)


def _kl(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    return np.sum(p * np.log(p / q), axis=-1)


def composition_kl(
    generated: Sequence[str],
    naturals: Sequence[str],
    pseudocount: float = 0.5,
    pseudocount_on: str = "counts",
) -> float:
    """KL(generated ‖ natural) of the amino-acid composition (nats).

    Counts of the 20 amino acids over all residues (gaps and other letters ignored), plus
    ``pseudocount`` per amino acid in each set, normalised to frequencies (or, with
    ``pseudocount_on="frequencies"``, added to the frequencies and renormalised).
    """
    def composition(rows: Sequence[str]) -> np.ndarray:
        chars = _chars(rows)
        return np.array([(chars == a).sum() for a in AMINO_ACIDS], dtype=np.float64)

    p = _frequencies(composition(generated), pseudocount, pseudocount_on)
    q = _frequencies(composition(naturals), pseudocount, pseudocount_on)
    return float(_kl(p, q))


def _symbol_counts(rows: Sequence[str]) -> np.ndarray:
    """(L, 21) counts per position of the 20 amino acids and the gap (any other letter)."""
    codes = one_hot(rows).reshape(len(rows), -1, len(AMINO_ACIDS))
    gap = 1.0 - codes.sum(axis=2, keepdims=True)
    return np.concatenate([codes, gap], axis=2).sum(axis=0)


def position_kl(
    generated: Sequence[str],
    naturals: Sequence[str],
    pseudocount: float = 0.5,
    pseudocount_on: str = "counts",
) -> float:
    """Mean over positions of KL(generated ‖ natural) of the per-position symbol frequencies.

    21 symbols per position (20 amino acids + gap, other letters counted as gap), plus
    ``pseudocount`` per symbol in each set (on counts or on frequencies, as in
    :func:`composition_kl`) (nats).
    """
    p = _frequencies(_symbol_counts(generated), pseudocount, pseudocount_on)
    q = _frequencies(_symbol_counts(naturals), pseudocount, pseudocount_on)
    return float(np.mean(_kl(p, q)))


def mutual_information(rows: Sequence[str]) -> np.ndarray:
    """Pairwise mutual information (L, L) of the columns (nats), plug-in estimate.

    Empirical joint and marginal frequencies of 21 symbols (20 amino acids + gap), no
    pseudocount: ``MI_ij = Σ f_ij(a,b) log(f_ij(a,b) / (f_i(a) f_j(b)))`` (0 log 0 = 0).
    The diagonal holds each column's entropy.
    """
    n = len(rows)
    codes = one_hot(rows).reshape(n, -1, len(AMINO_ACIDS))
    codes = np.concatenate([codes, 1.0 - codes.sum(axis=2, keepdims=True)], axis=2)
    length, q = codes.shape[1], codes.shape[2]
    flat = codes.reshape(n, -1)
    joint = (flat.T @ flat / n).reshape(length, q, length, q)  # f_ij(a, b)
    marginal = codes.mean(axis=0)  # (L, q)
    outer = marginal[:, :, None, None] * marginal[None, None, :, :]
    ratio = np.divide(joint, outer, out=np.ones_like(joint), where=joint > 0)
    return np.einsum("iajb->ij", joint * np.log(ratio))


def mi_correlation(generated: Sequence[str], naturals: Sequence[str]) -> float:
    """Pearson r between the upper triangles (i < j) of the two MI matrices.

    NaN when either triangle is constant (e.g. every generated sequence identical).
    """
    upper = np.triu_indices(len(naturals[0]), k=1)
    a, b = mutual_information(naturals)[upper], mutual_information(generated)[upper]
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def sequence_metrics(
    generated: Sequence[str],
    naturals: Sequence[str],
    hmm: Any,
    groups: np.ndarray | None = None,
    *,
    evalue: float = 0.01,
    z: float = 1000.0,
    pseudocount: float = 0.5,
    pseudocount_on: str = "counts",
) -> dict[str, float]:
    """Every protein metric of aligned ``generated`` sequences against ``naturals``.

    ``seq_identity`` (mean of :func:`max_identity`), ``composition_kl``, ``position_kl``,
    ``mi_correlation``, ``hmm_pass_rate`` (fraction that ``hmmsearch`` with ``hmm`` reports at
    E-value ≤ ``evalue`` with search-space size ``z``, gaps removed) and
    ``hmm_mean_bitscore`` (mean bit score of the reported ones); ``seq_identity_se`` and
    ``hmm_pass_rate_se`` from ``groups`` (S,) (:func:`metrics.grouped_standard_error`; omitted
    when ``groups`` is None).
    """
    from ..metrics import grouped_standard_error
    from .protein_hmm import search

    identity = max_identity(generated, naturals)
    found = search(hmm, generated, z=z, evalue=evalue)
    result = {
        "seq_identity": float(identity.mean()),
        "composition_kl": composition_kl(generated, naturals, pseudocount, pseudocount_on),
        "position_kl": position_kl(generated, naturals, pseudocount, pseudocount_on),
        "mi_correlation": mi_correlation(generated, naturals),
        "hmm_pass_rate": found.pass_rate,
        "hmm_mean_bitscore": found.mean_bitscore,
    }
    if groups is not None:
        result["seq_identity_se"] = grouped_standard_error(identity, groups)
        result["hmm_pass_rate_se"] = grouped_standard_error(found.passed.astype(float), groups)
    return result


def domain_metrics(
    samples: np.ndarray,
    memory: Memory,
    groups: np.ndarray,
    *,
    beta: float | None = None,
    decoded: np.ndarray | None = None,
) -> dict[str, float]:
    """:func:`sequence_metrics` of the samples (d, S) against the memory's naturals, under
    every decoding of :data:`DECODINGS`.

    The unsuffixed keys (``seq_identity``, …) use the dataset's ``decoding``; each decoding's
    values also appear with its name as suffix (``seq_identity_reference``,
    ``seq_identity_reference_se``, …), so one run reports both side by side. Methods that
    draw sequences themselves (``decoded``: (S,) aligned sequences) are scored on those
    sequences, the same under every decoding; states are decoded first (:func:`decode`).
    """
    if decoded is not None:
        drawn = domain_metrics_of_sequences([str(s) for s in decoded], memory, groups)
        per_decoding = dict.fromkeys(DECODINGS, drawn)
    else:
        per_decoding = {
            name: domain_metrics_of_sequences(decode(samples, memory, name), memory, groups)
            for name in DECODINGS
        }
    result = dict(per_decoding[_decoding(memory)])
    for name, values in per_decoding.items():
        for key, value in values.items():
            base, se = (key[: -len("_se")], "_se") if key.endswith("_se") else (key, "")
            result[f"{base}_{name}{se}"] = value
    return result


def domain_metrics_of_sequences(
    sequences: Sequence[str], memory: Memory, groups: np.ndarray | None
) -> dict[str, float]:
    """:func:`sequence_metrics` of aligned sequences (length L) against the memory's naturals.

    For methods that draw sequences themselves (``arrays["decoded"]`` of ``hmm_emission`` and
    ``shuffled``): decoding their encoded states pulls them towards the naturals' PCA span
    (a shuffled natural decodes to an RRM-like sequence that passes hmmsearch).
    """
    from .protein_hmm import hmm_from_array

    meta = memory.metadata
    return sequence_metrics(
        [str(s) for s in sequences],
        [str(s) for s in memory.arrays["sequences"]],
        hmm_from_array(memory.arrays["hmm"]),
        groups,
        evalue=float(meta.get("hmm_evalue", _DEFAULTS["hmm_evalue"])),
        z=float(meta.get("hmm_z", _DEFAULTS["hmm_z"])),
        pseudocount=float(meta.get("pseudocount", _DEFAULTS["pseudocount"])),
        pseudocount_on=str(meta.get("pseudocount_on", _DEFAULTS["pseudocount_on"])),
    )


def write_fasta(sequences: Sequence[str], names: Sequence[str] | None, path: Path | str) -> Path:
    """Write sequences (aligned, ``-`` for gaps) as FASTA at ``path`` atomically."""
    from Bio import SeqIO
    from Bio.Seq import Seq
    from Bio.SeqRecord import SeqRecord

    path = Path(path)
    names = list(names) if names is not None else [f"sample_{i}" for i in range(len(sequences))]
    if len(names) != len(sequences):
        raise ValueError(f"{len(names)} names for {len(sequences)} sequences")
    records = [
        SeqRecord(Seq(str(s)), id=str(n), description="")
        for s, n in zip(sequences, names, strict=True)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w") as handle:
            SeqIO.write(records, handle, "fasta-2line")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path



EXPORT_SUFFIX = ".fasta"
"""The workflow also writes every protein sample set as FASTA beside its ``.npz``."""


def export_samples(loaded: dict, memory: Memory, path: Path | str) -> Path:
    """A samples file's sequences (drawn, or decoded states) as aligned FASTA at ``path``."""
    if "decoded" in loaded:
        sequences = [str(s) for s in loaded["decoded"]]
    else:
        sequences = decode(loaded["samples"], memory)
    replicate = loaded.get("replicate", np.zeros(len(sequences), dtype=int))
    names = [f"sample{i}_replicate{int(r)}" for i, r in enumerate(replicate)]
    return write_fasta(sequences, names, path)
