"""Profile-HMM helpers of the protein domain (pyhmmer): build, serialise, search, emit.

* :func:`build_hmm` builds a Plan7 profile HMM from the filtered alignment with
  ``pyhmmer.plan7.Builder(architecture="hand")`` and every alignment column marked as
  consensus (``#=GC RF`` all ``x``), so the model has exactly ``M = L`` match states, one
  per kept column; model position ``m`` is alignment column ``m``.
* :func:`search` scores sequences (gaps removed) with ``hmmsearch`` in max-sensitivity mode
  (bias filter off, F1 = F2 = F3 = 1, like ``hmmsearch --max``) and a fixed search-space size
  ``Z``, reporting every hit, so a sequence's E-value does not depend on how many others
  are searched with it and every sequence with a domain gets a bit score.
* :func:`emit_aligned` emits sequences from the core model (seeded ``easel.Randomness``) and
  aligns them back to the model (``TraceAligner``, Viterbi, like ``hmmalign --trim``), keeping
  the match columns: one residue or ``-`` per model position.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np

__all__ = [
    "HmmSearch",
    "build_hmm",
    "emit_aligned",
    "hmm_from_array",
    "hmm_to_array",
    "search",
]


def _amino():
    from pyhmmer import easel

    return easel.Alphabet.amino()


def build_hmm(rows: Sequence[str], names: Sequence[str], name: str = "family"):
    """Profile HMM (``pyhmmer.plan7.HMM``, M = L) of aligned ``rows`` (n strings of length L).

    Gaps are ``-``; every column becomes a match state (hand architecture, RF all ``x``).
    """
    from pyhmmer import easel, plan7

    alphabet = _amino()
    sequences = [
        easel.TextSequence(name=str(n).encode(), sequence=str(r))
        for n, r in zip(names, rows, strict=True)
    ]
    msa = easel.TextMSA(name=name.encode(), sequences=sequences)
    msa.reference = "x" * len(rows[0])
    builder = plan7.Builder(alphabet, architecture="hand", seed=42)
    hmm, _, _ = builder.build_msa(msa.digitize(alphabet), plan7.Background(alphabet))
    return hmm


def hmm_to_array(hmm) -> np.ndarray:
    """The HMM in HMMER3 text format as a uint8 array (storable in an ``.npz``).

    The optional ``DATE`` and ``COM`` header lines (the build's clock time and command line)
    are left out, so the same alignment gives the same bytes and the memory is reproducible.
    """
    buffer = io.BytesIO()
    hmm.write(buffer)
    lines = buffer.getvalue().splitlines(keepends=True)
    kept = b"".join(line for line in lines if not line.startswith((b"DATE ", b"COM ")))
    return np.frombuffer(kept, dtype=np.uint8).copy()


def hmm_from_array(array: np.ndarray):
    """Inverse of :func:`hmm_to_array`."""
    from pyhmmer import plan7

    with plan7.HMMFile(io.BytesIO(np.asarray(array, dtype=np.uint8).tobytes())) as handle:
        return handle.read()


class HmmSearch:
    """Per-sequence search results: passed (n,) bool, evalue (n,), score (n,) bits.

    Sequences hmmsearch does not report at all (no domain found) or that are empty after gap
    removal have ``passed = False`` and ``evalue = score = NaN``.
    """

    def __init__(self, passed: np.ndarray, evalue: np.ndarray, score: np.ndarray) -> None:
        self.passed, self.evalue, self.score = passed, evalue, score

    @property
    def pass_rate(self) -> float:
        return float(np.mean(self.passed))

    @property
    def mean_bitscore(self) -> float:
        """Mean bit score of the reported sequences (NaN when none is reported)."""
        reported = self.score[np.isfinite(self.score)]
        return float(reported.mean()) if reported.size else float("nan")


def search(hmm, sequences: Sequence[str], *, z: float = 1000.0, evalue: float = 0.01) -> HmmSearch:
    """Search ``sequences`` (gaps ``-`` removed first) with ``hmm`` at fixed size ``z``.

    A sequence passes when its per-sequence E-value is ≤ ``evalue``.
    """
    from pyhmmer import easel, hmmer

    alphabet = _amino()
    n = len(sequences)
    evalues = np.full(n, np.nan)
    scores = np.full(n, np.nan)
    digital = []
    for index, sequence in enumerate(sequences):
        residues = str(sequence).replace("-", "")
        if residues:
            text = easel.TextSequence(name=str(index).encode(), sequence=residues)
            digital.append(text.digitize(alphabet))
    if digital:
        block = easel.DigitalSequenceBlock(alphabet, digital)
        options = dict(bias_filter=False, F1=1.0, F2=1.0, F3=1.0, E=1e300, domE=1e300)
        hits = next(iter(hmmer.hmmsearch([hmm], block, cpus=1, Z=float(z), **options)))
        for hit in hits:
            name = hit.name.decode() if isinstance(hit.name, bytes) else str(hit.name)
            evalues[int(name)] = hit.evalue
            scores[int(name)] = hit.score
    passed = np.nan_to_num(evalues, nan=np.inf) <= evalue
    return HmmSearch(passed, evalues, scores)


def emit_aligned(hmm, n: int, seed: int) -> list[str]:
    """``n`` sequences emitted by the core model, aligned back to it: each of length M.

    ``seed`` seeds HMMER's generator (``easel.Randomness``); insertions relative to the
    model are dropped, deletions are ``-``.
    """
    from pyhmmer import easel, plan7

    alphabet = _amino()
    randomness = easel.Randomness(int(seed) % (2**32 - 1) + 1)
    emitted = [hmm.emit_sequence(randomness) for _ in range(int(n))]
    block = easel.DigitalSequenceBlock(
        alphabet,
        [
            easel.DigitalSequence(alphabet, name=str(i).encode(), sequence=e.sequence)
            for i, e in enumerate(emitted)
        ],
    )
    aligner = plan7.TraceAligner()
    traces = aligner.compute_traces(hmm, block)
    msa = aligner.align_traces(hmm, block, traces, trim=True, all_consensus_cols=True)
    match = np.array([c == "x" for c in msa.reference])
    rows = [np.array(list(row))[match] for row in msa.alignment]
    return ["".join(np.where(np.isin(r, [".", "-"]), "-", np.char.upper(r))) for r in rows]
