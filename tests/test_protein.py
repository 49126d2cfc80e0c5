"""Protein domain: sources, memory, decoding, sequence metrics, HMM controls, baselines."""

from __future__ import annotations

import gzip
import http.server
import threading
import time
import typing
from pathlib import Path

import numpy as np
import pytest

from stochastic_attention.domains import protein as P
from stochastic_attention.domains.base import DomainError, get_domain
from stochastic_attention.domains.protein_hmm import emit_aligned, hmm_from_array, search
from stochastic_attention.download import DataSourceError
from stochastic_attention.methods import hmm_emission, shuffled
from stochastic_attention.methods.base import RunContext

pytestmark = pytest.mark.skipif(
    not P.OFFLINE_PATH.is_file(), reason="needs Debian's hmmer-examples package"
)

STOCKHOLM = """# STOCKHOLM 1.0
s1 ACDE-FGHIK
s2 ACDEWFGHIK
s3 ACD--FGHLK
//
"""


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("protein") / "raw.npz"
    P.fetch({"kind": "offline"}, path)
    return path


@pytest.fixture(scope="module")
def memory(raw):
    return P.build_memory({}, raw)


@pytest.fixture(scope="module")
def naturals(memory) -> list[str]:
    return [str(s) for s in memory.arrays["sequences"]]


@pytest.fixture(scope="module")
def hmm(memory):
    return hmm_from_array(memory.arrays["hmm"])


# ------------------------------------------------------------------------------------ sources


def test_offline_source_parses_79_sequences(raw):
    data = np.load(raw, allow_pickle=False)
    assert data["names"].shape == (79,) and data["rows"].shape == (79,)
    assert {len(r) for r in data["rows"]} == {80}
    assert data["names"][0] == "GBP2_YEAST/221-291"


def test_registry_finds_the_domain():
    assert get_domain("protein") is P


def test_memory_filters_pca_and_beta(memory):
    meta = memory.metadata
    assert (meta["L"], meta["K"], meta["columns_total"]) == (72, 79, 80)
    assert meta["d"] == memory.d == memory.arrays["pca_components"].shape[0]
    assert meta["variance_kept"] >= 0.95
    np.testing.assert_allclose(np.linalg.norm(memory.patterns, axis=0), 1.0)
    assert meta["beta_retrieval"] == pytest.approx(20 * meta["beta_star"])
    assert meta["beta_generation"] == pytest.approx(2 * meta["beta_star"])
    assert meta["sqrt_d"] == pytest.approx(np.sqrt(meta["d"]))
    assert 0 < meta["beta_knee"] < meta["sqrt_d"] * 10
    # kept columns have at most 50 % gaps; kept sequences at most 30 % gaps on them
    chars = np.array([list(s) for s in memory.arrays["sequences"]])
    assert (chars == "-").mean(axis=0).max() <= 0.5
    assert (chars == "-").mean(axis=1).max() <= 0.3


def test_stricter_filters_drop_sequences_and_columns(raw):
    strict = P.build_memory({"max_column_gap": 0.1, "max_sequence_gap": 0.0}, raw)
    assert strict.metadata["L"] < 72 and strict.metadata["sequences_dropped"] > 0


def test_filter_alignment_exact():
    columns, kept = P.filter_alignment(["A-C-", "AAC-", "--CD"], 0.5, 0.0)
    assert columns.tolist() == [0, 2] and kept.tolist() == [0, 1]
    columns, kept = P.filter_alignment(["A-C-", "AAC-", "--CD"], 0.5, 0.5)
    assert kept.tolist() == [0, 1, 2]


def _agreement(decoded, naturals, residues_only):
    return np.mean([a == b for x, y in zip(decoded, naturals, strict=True)
                    for a, b in zip(x, y, strict=True) if b != "-" or not residues_only])


def test_plain_argmax_round_trip(memory, naturals):
    """Through 95 % PCA every natural residue comes back (measured: 100 %); gaps never do."""
    for states in (P.encode(naturals, memory), memory.patterns):
        decoded = P.decode(states, memory)
        assert all("-" not in s for s in decoded)
        assert _agreement(decoded, naturals, residues_only=True) >= 0.99


def test_gap_threshold_round_trip(raw, naturals):
    """With gap_threshold 0.5 residues and gaps both come back (measured: 100 %)."""
    gapped = P.build_memory({"gap_threshold": 0.5}, raw)
    for states in (P.encode(naturals, gapped), gapped.patterns):
        assert _agreement(P.decode(states, gapped), naturals, residues_only=False) >= 0.99
    assert P.panel(gapped.patterns[:, :3], gapped).lines == tuple(naturals[:3])


def test_memory_round_trips_through_the_memory_file(tmp_path, memory):
    from stochastic_attention.domains.base import load_memory_file, save_memory_file

    save_memory_file(tmp_path / "m.npz", memory)
    loaded = load_memory_file(tmp_path / "m.npz")
    assert P.decode(loaded.patterns[:, :5], loaded) == P.decode(memory.patterns[:, :5], memory)
    assert hmm_from_array(loaded.arrays["hmm"]).M == 72


# ------------------------------------------------------------------------------------ metrics


def test_identity_exact():
    assert P.identity_matrix(["AC-D"], ["AC-D"])[0, 0] == 1.0
    # 2 matches (A, C) over 4 positions where either has a residue
    assert P.identity_matrix(["AC-D"], ["ACE-"])[0, 0] == pytest.approx(2 / 4)
    assert P.identity_matrix(["--"], ["--"])[0, 0] == 0.0
    assert P.max_identity(["ACDE"], ["ACDF", "WWWW"]).tolist() == [0.75]


def test_kl_exact():
    rows = ["ACDE", "ACDF", "GCDE"]
    assert P.composition_kl(rows, rows) == 0.0
    assert P.position_kl(rows, rows) == 0.0
    # composition with pseudocount 0.5 over 20 letters: "AAAA" vs "CCCC"
    p = np.full(20, 0.5)
    p[0] += 4
    q = np.full(20, 0.5)
    q[1] += 4
    p, q = p / p.sum(), q / q.sum()
    assert P.composition_kl(["AAAA"], ["CCCC"]) == pytest.approx(np.sum(p * np.log(p / q)))


def test_mutual_information_exact():
    # columns 0 and 1 copy each other (MI = log 2), column 2 is constant (MI 0)
    mi = P.mutual_information(["AAC", "CCC", "AAC", "CCC"])
    assert mi[0, 1] == pytest.approx(np.log(2))
    assert mi[0, 2] == pytest.approx(0.0) and mi[2, 2] == pytest.approx(0.0)
    rows = ["AAC", "CCC", "AAD", "CCD", "ACD"]
    assert P.mi_correlation(rows, rows) == pytest.approx(1.0)
    assert np.isnan(P.mi_correlation(["AAA", "AAA"], rows))


def test_naturals_against_themselves(naturals, hmm):
    result = P.sequence_metrics(naturals, naturals, hmm, None)
    assert result["seq_identity"] == 1.0
    assert result["composition_kl"] == 0.0 and result["position_kl"] == 0.0
    assert result["mi_correlation"] == pytest.approx(1.0)


def test_hmm_positive_and_negative_controls(naturals, hmm):
    """Real hmmsearch: naturals pass (≥ 90 %), their shuffles almost never do."""
    natural = search(hmm, naturals)
    assert natural.pass_rate >= 0.9
    rng = np.random.default_rng(0)
    shuffles = shuffled.shuffle_sequences(naturals, 150, rng)
    control = search(hmm, shuffles)
    assert control.pass_rate <= 0.05
    assert control.mean_bitscore < natural.mean_bitscore - 30


def test_search_handles_empty_sequences(hmm, naturals):
    found = search(hmm, ["-" * 72, naturals[0]])
    assert found.passed.tolist() == [False, True] and np.isnan(found.score[0])


def test_domain_metrics_of_samples(memory):
    rng = np.random.default_rng(1)
    samples = memory.patterns[:, rng.integers(memory.n_patterns, size=20)]
    result = P.domain_metrics(samples, memory, np.arange(20) // 5)
    # stored patterns decode to their naturals with gaps filled by the argmax residue
    assert 0.95 < result["seq_identity"] < 1.0 and result["hmm_pass_rate"] == 1.0
    assert result["seq_identity_se"] > 0.0 and result["hmm_pass_rate_se"] == 0.0
    expected = {"seq_identity", "seq_identity_se", "composition_kl", "position_kl",
                "mi_correlation", "hmm_pass_rate", "hmm_pass_rate_se", "hmm_mean_bitscore"}
    suffixed = {
        f"{key[:-3]}_{name}_se" if key.endswith("_se") else f"{key}_{name}"
        for key in expected
        for name in P.DECODINGS
    }
    assert set(result) == expected | suffixed
    assert all(result[key] == result[f"{key}_scaled"] for key in expected - {
        "seq_identity_se", "hmm_pass_rate_se"})  # the default decoding is the primary one


# ------------------------------------------------------------------ decodings and pseudocounts


def test_stored_patterns_decode_to_their_own_sequences_at_full_rank(raw):
    """variance 1: the naturals lie in the PCA span, so under the scaled decoding (with gap
    decoding at 0.5) every stored pattern decodes to its own sequence: SeqID 1, KLs 0."""
    full = P.build_memory({"variance": 1.0, "gap_threshold": 0.5}, raw)
    naturals = [str(s) for s in full.arrays["sequences"]]
    assert full.d == full.n_patterns - 1  # the rank of the centred one-hot codes
    assert full.metadata["variance_kept"] == pytest.approx(1.0)
    assert P.decode(full.patterns, full, "scaled") == naturals
    hmm = hmm_from_array(full.arrays["hmm"])
    exact = P.sequence_metrics(P.decode(full.patterns, full, "scaled"), naturals, hmm, None)
    assert exact["seq_identity"] == 1.0
    assert exact["composition_kl"] == 0.0 and exact["position_kl"] == 0.0
    # the reference decoding of the same exact copies: the consensus pulls them away
    reference = P.sequence_metrics(P.decode(full.patterns, full, "reference"), naturals, hmm, None)
    assert reference["seq_identity"] < 0.5 and reference["composition_kl"] > 0.1


def test_the_default_floor_comes_from_gaps_not_from_the_pca_truncation(memory, naturals):
    """At 95 % variance and the plain argmax, stored patterns keep every natural residue;
    the identity lost (SeqID ≈ 0.97) is the naturals' gap positions decoded as residues."""
    decoded = P.decode(memory.patterns, memory, "scaled")
    identity = P.identity_matrix(decoded, naturals).diagonal()
    assert _agreement(decoded, naturals, residues_only=True) == 1.0
    gaps = np.array([s.count("-") for s in naturals])
    residues = np.array([len(s) for s in naturals]) - gaps
    np.testing.assert_allclose(identity, residues / (residues + gaps))
    assert 0.95 < identity.mean() < 0.99


def test_reference_decoding_gives_bootstrap_a_lower_seq_identity(raw, memory):
    rng = np.random.default_rng(2)
    picks = rng.integers(memory.n_patterns, size=50)
    groups = np.arange(50) // 5
    scaled = P.domain_metrics(memory.patterns[:, picks], memory, groups)
    assert scaled["seq_identity_reference"] < scaled["seq_identity_scaled"] - 0.2
    assert scaled["composition_kl_reference"] > 10 * scaled["composition_kl_scaled"]
    assert scaled["seq_identity"] == scaled["seq_identity_scaled"]
    as_reference = P.build_memory({"decoding": "reference"}, raw)
    assert as_reference.metadata["decoding"] == "reference"
    primary = P.domain_metrics(as_reference.patterns[:, picks], as_reference, groups)
    assert primary["seq_identity"] == primary["seq_identity_reference"]
    assert primary["seq_identity_reference"] == pytest.approx(scaled["seq_identity_reference"])
    assert P.panel(as_reference.patterns[:, :2], as_reference).lines == tuple(
        P.decode(memory.patterns[:, :2], memory, "reference"))
    with pytest.raises(DomainError, match="unknown decoding"):
        P.decode(memory.patterns[:, :2], memory, "unscaled")


def test_pseudocount_on_frequencies_exact():
    """The reference's form: 1e-10 added to frequencies, renormalised."""
    p = np.zeros(20)
    p[0] = 1.0
    q = np.zeros(20)
    q[1] = 1.0
    p, q = p + 1e-10, q + 1e-10
    p, q = p / p.sum(), q / q.sum()
    expected = np.sum(p * np.log(p / q))
    got = P.composition_kl(["AAAA"], ["CCCC"], 1e-10, "frequencies")
    assert got == pytest.approx(expected, rel=1e-12)
    assert got > 20  # ≈ log(1e10): a letter the naturals never use costs ~23 nats
    assert P.composition_kl(["AAAA"], ["CCCC"], 0.5, "counts") < 2
    # on frequencies the pseudocount does not depend on the set sizes; on counts it does
    small, large = ["AC"], ["AC" * 50]
    assert P.composition_kl(small, large, 0.5, "frequencies") == pytest.approx(0.0, abs=1e-15)
    assert P.composition_kl(small, large, 0.5, "counts") > 0.1
    rows = ["ACDE", "ACDF", "GCDE"]
    assert P.position_kl(rows, rows, 1e-10, "frequencies") == 0.0
    assert P.position_kl(["AAAA"], ["CCCC"], 1e-10, "frequencies") > 20
    with pytest.raises(ValueError, match="pseudocount_on"):
        P.composition_kl(rows, rows, 0.5, "count")


def test_pseudocount_on_reaches_the_metrics(raw, memory, naturals):
    rng = np.random.default_rng(3)
    states = memory.patterns[:, rng.integers(memory.n_patterns, size=20)]
    sequences = P.decode(states, memory)
    on_frequencies = P.build_memory({"pseudocount_on": "frequencies"}, raw)
    assert on_frequencies.metadata["pseudocount_on"] == "frequencies"
    default = P.domain_metrics(states, memory, np.arange(20) // 5)
    result = P.domain_metrics(states, on_frequencies, np.arange(20) // 5)
    for name in ("position_kl", "composition_kl"):
        kl = getattr(P, name)
        assert result[name] == kl(sequences, naturals, 0.5, "frequencies")
        assert default[name] == kl(sequences, naturals, 0.5, "counts")
    # 0.5 on each frequency (of 21 symbols) flattens both sets far more than 0.5 on counts
    assert result["position_kl"] < 0.5 * default["position_kl"]
    assert result["seq_identity"] == default["seq_identity"]
    tiny = P.build_memory({"pseudocount": 1e-10, "pseudocount_on": "frequencies"}, raw)
    # symbols the 20 draws never use at some position cost ≈ log 1e10 with the reference's form
    assert P.domain_metrics(states, tiny, None)["position_kl"] > default["position_kl"]


def test_knee_criterion_gives_a_smaller_beta_star_on_the_rrm_memory(memory):
    from stochastic_attention.steps.core import resolve_beta

    cache: dict = {}
    inflection = resolve_beta({"critical": 1, "criterion": "inflection"}, memory, 0.01, cache)
    assert cache["beta_criterion"] == "inflection"
    knee = resolve_beta({"critical": 1, "criterion": "knee"}, memory, 0.01, cache)
    assert cache["beta_criterion"] == "knee" and cache["beta_star"] == knee
    assert inflection == pytest.approx(memory.metadata["beta_star"])
    assert knee == pytest.approx(memory.metadata["beta_knee"])
    assert knee < 0.9 * inflection  # measured: 3.90 against 4.74 on the offline seed
    assert 4.5 < inflection < 5.0 and 3.7 < knee < 4.1
    assert resolve_beta({"critical": 20, "criterion": "knee"}, memory, 0.01, cache) == (
        pytest.approx(20 * knee))


# ---------------------------------------------------------------------------------- baselines


def test_hmm_emission_baseline(memory, hmm):
    context = RunContext(rng=np.random.default_rng(5), seed=5)
    result = hmm_emission.run(memory, {"n_samples": 30}, context)
    assert result.samples.shape == (memory.d, 30)
    np.testing.assert_allclose(np.linalg.norm(result.samples, axis=0), 1.0)
    assert result.groups.tolist() == (np.arange(30) // 5).tolist()
    decoded = [str(s) for s in result.arrays["decoded"]]
    assert all(len(s) == 72 for s in decoded)
    assert search(hmm, decoded).pass_rate >= 0.9
    again = hmm_emission.run(memory, {"n_samples": 30}, RunContext(np.random.default_rng(5), 5))
    np.testing.assert_array_equal(again.samples, result.samples)


def test_emit_aligned_is_seeded(hmm):
    assert emit_aligned(hmm, 3, 11) == emit_aligned(hmm, 3, 11)
    assert emit_aligned(hmm, 3, 11) != emit_aligned(hmm, 3, 12)


def test_shuffled_baseline_keeps_composition(memory, naturals):
    result = shuffled.run(memory, {"n_samples": 10}, RunContext(np.random.default_rng(2), 2))
    decoded = [str(s) for s in result.arrays["decoded"]]
    assert all(sorted(s) in [sorted(n) for n in naturals] for s in decoded)
    assert result.samples.shape == (memory.d, 10)
    metrics = P.domain_metrics_of_sequences(decoded, memory, result.groups)
    assert metrics["hmm_pass_rate"] == 0.0 and metrics["composition_kl"] < 0.05


def test_write_fasta(tmp_path):
    from Bio import SeqIO

    path = P.write_fasta(["AC-D", "WWYY"], ["a", "b"], tmp_path / "x" / "s.fasta")
    records = list(SeqIO.parse(path, "fasta"))
    assert [(r.id, str(r.seq)) for r in records] == [("a", "AC-D"), ("b", "WWYY")]


# ----------------------------------------------------------------------- network and bad input


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: typing.ClassVar[dict[str, bytes]] = {}

    def do_GET(self):
        key = next((k for k in self.routes if k in self.path), None)
        if key is None:
            self.send_error(404, "Not Found")
            return
        body = self.routes[key]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    _Handler.routes = {
        "PF00001": gzip.compress(STOCKHOLM.encode()),
        "PF00002": b"",
        "PF00003": gzip.compress(b"this is not an alignment\n"),
    }
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/api/{{accession}}/?annotation=alignment:seed"
    httpd.shutdown()


def test_interpro_source_over_http(server, tmp_path):
    out = tmp_path / "raw.npz"
    provenance = P.fetch({"kind": "interpro", "accession": "PF00001", "url": server}, out)
    assert provenance["n_sequences"] == 3 and provenance["url"].endswith("alignment:seed")
    data = np.load(out, allow_pickle=False)
    assert data["rows"].tolist() == ["ACDE-FGHIK", "ACDEWFGHIK", "ACD--FGHLK"]
    memory = P.build_memory({"variance": 0.9}, out)
    assert memory.metadata["K"] == 3


@pytest.mark.parametrize(
    ("accession", "words"),
    [("PF09999", "HTTP 404"), ("PF00002", "is empty"), ("PF00003", "not a valid stockholm")],
)
def test_interpro_errors_are_one_line(server, tmp_path, accession, words):
    out = tmp_path / "raw.npz"
    with pytest.raises(DataSourceError) as error:
        P.fetch({"kind": "interpro", "accession": accession, "url": server}, out)
    message = str(error.value)
    assert words in message and "\n" not in message and accession in message
    assert list(tmp_path.iterdir()) == []


def test_interpro_timeout(tmp_path):
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection, never answers
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/{{accession}}"
    try:
        with pytest.raises(DataSourceError, match=r"no answer|stalled|timed out|unreachable"):
            P.fetch({"kind": "interpro", "url": url, "timeout": 0.3}, tmp_path / "raw.npz")
    finally:
        listener.close()
    assert not (tmp_path / "raw.npz").exists()


@pytest.mark.parametrize(
    ("content", "fmt", "words"),
    [
        (">a\nAC-D\n>b\nACD\n", "fasta", "same length"),
        (">a\nAC-D\n>b\nACWD\n", "stockholm", "not a valid stockholm"),
        ("", "fasta", "is empty"),
        (b"\x89PNG\r\n\x1a\n\xff\xfe", "fasta", "not UTF-8"),
    ],
)
def test_bad_local_files(tmp_path, content, fmt, words):
    path = tmp_path / "aln.txt"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    out = tmp_path / "out" / "raw.npz"
    with pytest.raises(DataSourceError) as error:
        P.fetch({"kind": "local", "path": str(path), "format": fmt}, out)
    assert words in str(error.value) and str(path) in str(error.value)
    assert "\n" not in str(error.value) and not out.exists()


def test_local_fasta_and_missing_file(tmp_path):
    path = tmp_path / "aln.fasta"
    path.write_text(">a\nAC-D\n>b\nACWD\n")
    source = {"kind": "local", "path": str(path), "format": "fasta"}
    provenance = P.fetch(source, tmp_path / "r.npz")
    assert provenance["n_sequences"] == 2
    with pytest.raises(DataSourceError, match="not found"):
        P.fetch({"kind": "local", "path": str(tmp_path / "nope.sto")}, tmp_path / "r.npz")
    with pytest.raises(DataSourceError, match="unknown source key"):
        P.fetch({"kind": "offline", "acession": "PF00076"}, tmp_path / "r.npz")
    with pytest.raises(DataSourceError, match="Pfam accession"):
        P.fetch({"kind": "interpro", "accession": "RRM"}, tmp_path / "r.npz")


@pytest.mark.parametrize(
    ("rows", "words"),
    [
        (["AC-", "A-C", "-CC"], "left after the gap filters"),
        (["A---", "AC--", "A-C-"], "identical on the kept columns"),
    ],
)
def test_nothing_left_after_filters(tmp_path, rows, words):
    path = tmp_path / "aln.fasta"
    path.write_text("".join(f">s{i}\n{r}\n" for i, r in enumerate(rows)))
    P.fetch({"kind": "local", "path": str(path), "format": "fasta"}, tmp_path / "r.npz")
    with pytest.raises(DomainError, match=words) as error:
        P.build_memory({"max_column_gap": 0.5, "max_sequence_gap": 0.0}, tmp_path / "r.npz")
    assert str(tmp_path / "r.npz") in str(error.value)


def test_the_stored_hmm_is_reproducible_and_reads_back():
    """DATE and COM (clock time, command line) are dropped: two builds of one alignment give
    the same bytes, and the stored text still reads back to a model that scores alike."""
    from stochastic_attention.domains import protein_hmm

    rows = ["ACDEFGHIKL", "ACDEFGHIKM", "ACDQFGHIKL", "SCDEFGHIKL"]
    names = [f"s{i}" for i in range(len(rows))]
    first = protein_hmm.hmm_to_array(protein_hmm.build_hmm(rows, names))
    time.sleep(1.1)  # DATE has one-second resolution
    second = protein_hmm.hmm_to_array(protein_hmm.build_hmm(rows, names))
    assert first.tobytes() == second.tobytes()
    assert b"\nDATE " not in first.tobytes()
    hmm = protein_hmm.hmm_from_array(first)
    assert hmm.M == len(rows[0])
    direct = protein_hmm.search(protein_hmm.build_hmm(rows, names), rows)
    stored = protein_hmm.search(hmm, rows)
    np.testing.assert_allclose(stored.score, direct.score, rtol=1e-5)  # text keeps 5 digits
