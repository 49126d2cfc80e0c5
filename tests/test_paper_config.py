"""config/paper.yaml: the paper-scale profile with network sources, checked without network.

A dry run plans every job (no source is contacted), and the MNIST ``idx`` source runs for
real against IDX files served by a local HTTP server: the canonical checksums refuse them,
their own checksums let the fetch job and the K = 3500 memory job of E13 run.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import re
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest

from stochastic_attention.config import prepare
from stochastic_attention.domains import faces, finance, mnist
from stochastic_attention.domains.base import DomainError, load_memory_file
from stochastic_attention.plan import Plan, build_plan
from workflow_utils import (
    REPO,
    assert_jobs_follow_the_plan,
    copy_workflow,
    load_config,
    planned_jobs,
    snakemake,
    write_config,
)

PAPER = "paper.yaml"
RESULTS = Path("results/paper")
MNIST_TRAIN_COUNTS = (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)
"""Images per digit in the canonical MNIST training files (60 000 in all)."""
E13_K = [100, 500, 1000, 2000, 3500]
E16_K = [100, 500, 1000]


def _plan(config: dict, workdir: Path = REPO) -> Plan:
    prepare(config, schema_path=workdir / "workflow/schemas/config.schema.yaml")
    return build_plan(config)


@pytest.fixture(scope="module")
def paper_plan() -> Plan:
    return _plan(load_config(REPO, PAPER))


# ------------------------------------------------------------------------- the config itself


def test_paper_config_has_the_network_sources_and_paper_scale():
    config = load_config(REPO, PAPER)
    default = load_config(REPO, "config.yaml")
    assert config["results_dir"] == "results/paper"
    sources = config["sources"]
    assert sources["mnist"]["kind"] == "idx"
    assert sources["mnist"]["base_url"].startswith("https://")
    assert sources["mnist"]["files"] == mnist.DEFAULT_FILES  # the canonical files, pinned
    assert sources["protein"] == {"kind": "interpro", "accession": "PF00076", "timeout": 120}
    assert sources["finance"]["kind"] == "yfinance"
    assert (sources["finance"]["start"], sources["finance"]["end"]) == finance.PAPER_WINDOW
    assert tuple(sources["finance"]["tickers"]) == finance.OFFLINE_TICKERS
    assert sources["faces"]["kind"] == "folder" and sources["faces"]["path"]
    experiments = config["experiments"]
    assert experiments["E13"]["sweep"] == {"dataset.n_patterns": E13_K}
    assert experiments["E16"]["sweep"]["dataset.n_patterns"] == E16_K
    # the same experiments, protocols and samplers as the default profile, up to the
    # reference's β* criterion
    assert set(experiments) == set(default["experiments"])
    assert config["protocols"] == default["protocols"]
    for name, method in default["methods"].items():
        if "train_dataset" not in method:
            assert _without_criterion(config["methods"][name]) == method, name


def _without_criterion(method: dict) -> dict:
    beta = method.get("beta")
    if isinstance(beta, dict) and "critical" in beta:
        assert beta.get("criterion") == "knee", method  # the reference's β* everywhere
        return method | {"beta": {k: v for k, v in beta.items() if k != "criterion"}}
    return method


def _critical_rules(value) -> list[dict]:
    if isinstance(value, dict):
        found = [value] if "critical" in value else []
        return found + [rule for item in value.values() for rule in _critical_rules(item)]
    if isinstance(value, list):
        return [rule for item in value for rule in _critical_rules(item)]
    return []


def test_paper_config_uses_the_reference_definitions():
    """Knee β*, reference decoding and pseudocount, no anti-aliasing, K 100 faces of the
    folder; the default profile keeps this pipeline's definitions."""
    config, default = load_config(REPO, PAPER), load_config(REPO, "config.yaml")
    rules = _critical_rules(config["methods"]) + _critical_rules(config["experiments"])
    assert len(rules) >= 7 and all(rule.get("criterion") == "knee" for rule in rules)
    defaults = _critical_rules(default["methods"]) + _critical_rules(default["experiments"])
    assert defaults and not any("criterion" in rule for rule in defaults)
    protein = config["datasets"]["protein_rrm"]
    assert (protein["decoding"], protein["pseudocount"], protein["pseudocount_on"]) == (
        "reference", 1e-10, "frequencies")
    assert set(default["datasets"]["protein_rrm"]) == {"domain"}
    faces_spec = config["datasets"]["simpsons_faces"]
    assert faces_spec["n_patterns"] == 100 and faces_spec["anti_aliasing"] is False
    assert faces_spec["selection"] == "random"
    e8 = config["experiments"]["E8"]["columns"]
    assert "seq_identity" in e8 and "seq_identity_scaled" in e8 and "beta_star" in e8
    assert "seq_identity_reference" in default["experiments"]["E8"]["columns"]
    text = (REPO / "config" / PAPER).read_text()
    assert text.count("reference's choice") >= 5


def test_e13_and_e16_plan_the_paper_k_with_derived_dataset_names(paper_plan):
    for k in E13_K[1:]:
        name = f"mnist_digit3__n_patterns_{k}"
        assert paper_plan.datasets[name] == {
            "domain": "mnist",
            "digit": 3,
            "n_patterns": k,
            "base": "mnist_digit3",
        }
    e13 = paper_plan.experiments["E13"]
    expected = {
        ("mnist_digit3" if k == 100 else f"mnist_digit3__n_patterns_{k}", method, k)
        for k in E13_K
        for method in ("sa_critical", "sa_critical5", "ddpm", "isotropic_control")
    }
    rows = {(row.dataset, row.method, dict(row.labels)["n_patterns"]) for row in e13.rows}
    assert rows == expected
    assert {(d, m) for d, m, _ in expected} <= paper_plan.jobs
    e16 = paper_plan.experiments["E16"]
    assert len(e16.rows) == len(E16_K) * 4
    assert ("mnist_digit3__n_patterns_1000", "multihead__n_heads_5") in paper_plan.jobs
    assert "mnist_digit3__n_patterns_2000" not in {row.dataset for row in e16.rows}


def test_every_mnist_memory_fits_the_full_training_set(paper_plan):
    """K 3500 of one digit (E13) and the E15 training sets exist in the canonical files."""
    sizes = {}
    for name, spec in paper_plan.datasets.items():
        if spec["domain"] != "mnist":
            continue
        available = (
            sum(MNIST_TRAIN_COUNTS) if spec["digit"] == "all" else MNIST_TRAIN_COUNTS[spec["digit"]]
        )
        assert spec["n_patterns"] <= available, name
        sizes[name] = spec["n_patterns"]
    assert sizes["mnist_digit3__n_patterns_3500"] == 3500
    assert sizes["mnist_digit3_all"] == MNIST_TRAIN_COUNTS[3]  # every digit-3 image
    assert sizes["mnist_all_digits"] == sum(MNIST_TRAIN_COUNTS)


def test_the_faces_placeholder_fails_with_the_folder_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the relative placeholder path does not exist here
    source = load_config(REPO, PAPER)["sources"]["faces"]
    with pytest.raises(DomainError, match=re.escape(source["path"]) + ".*does not exist"):
        faces.fetch(source, tmp_path / "faces.npz")


# ---------------------------------------------------------------------------------- dry run


@pytest.mark.slow
def test_dry_run_of_the_paper_config_lists_every_job(tmp_path):
    workdir = copy_workflow(tmp_path)
    result = snakemake(workdir, "-n", "--configfile", f"config/{PAPER}")
    jobs = planned_jobs(result.stdout)
    outputs = set(re.findall(r"^\s+output: (.+)$", result.stdout, flags=re.MULTILINE))
    listed = {path for line in outputs for path in line.split(", ")}
    plan = _plan(load_config(workdir, PAPER), workdir)
    assert_jobs_follow_the_plan(jobs, plan)
    trained_on = {plan.methods[m].get("train_dataset") for _, m in plan.jobs} - {None}
    assert jobs["memory"] == len({dataset for dataset, _ in plan.jobs} | trained_on)
    assert jobs["fetch"] == 4  # mnist, protein, finance, faces
    assert set(plan.targets()) <= listed
    assert {plan.samples_path(d, m) for d, m in plan.jobs} <= listed
    assert all(path.startswith((f"{RESULTS}/", "resources/")) for path in listed)
    assert f"{RESULTS}/memory/mnist/mnist_digit3__n_patterns_3500.npz" in listed


# ------------------------------------------------------- the MNIST idx source over local HTTP


def _gzip_padded(payload: bytes, size: int) -> bytes:
    """``payload`` gzipped, followed by an empty gzip member whose comment pads to ``size``.

    Multi-member gzip files are valid (``gzip.decompress`` joins the members), so the padded
    file decompresses to ``payload`` yet has exactly the canonical file's size: only the
    sha256 can tell it from the real MNIST file.
    """
    data = gzip.compress(payload, mtime=0)
    empty = zlib.compressobj(wbits=-15)
    deflate = empty.compress(b"") + empty.flush()
    # header: magic, deflate, FCOMMENT flag, mtime 0, no extra flags, unknown OS
    header = b"\x1f\x8b\x08\x10" + bytes(4) + b"\x00\xff"
    trailer = zlib.crc32(b"").to_bytes(4, "little") + (0).to_bytes(4, "little")
    padding = size - len(data) - len(header) - 1 - len(deflate) - len(trailer)
    if padding < 0:
        raise ValueError(f"payload gzips to {len(data)} bytes, more than {size}")
    member = header + b"p" * padding + b"\x00" + deflate + trailer
    return data + member


def _idx(array: np.ndarray) -> bytes:
    """An uncompressed unsigned-byte IDX file of ``array``."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Synthetic MNIST IDX files of the canonical names and sizes on a local HTTP server.

    3500 images of digit 3 (the largest E13 memory) and 10 of each other digit, shuffled.
    Yields (base URL, folder, images (n, 784), labels (n,)).
    """
    folder = tmp_path_factory.mktemp("served")
    rng = np.random.default_rng(3)
    labels = np.concatenate([np.full(3500, 3), np.repeat([0, 1, 2, 4, 5, 6, 7, 8, 9], 10)])
    labels = rng.permutation(labels).astype(np.uint8)
    images = rng.integers(1, 256, size=(labels.size, 28, 28), dtype=np.uint8)
    for role, array in (("images", images), ("labels", labels)):
        spec = mnist.DEFAULT_FILES[role]
        (folder / spec["name"]).write_bytes(_gzip_padded(_idx(array), spec["size"]))
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield (
            f"http://127.0.0.1:{server.server_address[1]}",
            folder,
            images.reshape(-1, 784),
            labels,
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def _paper_with_mnist_at(workdir: Path, base_url: str, files: dict | None, name: str) -> str:
    """Write a copy of paper.yaml whose MNIST source reads from ``base_url``; its name."""
    config = load_config(workdir, PAPER)
    config["sources"]["mnist"]["base_url"] = base_url
    config["sources"]["mnist"]["timeout"] = 10
    if files is not None:
        config["sources"]["mnist"]["files"] = files
    write_config(workdir, config, name)
    return name


@pytest.mark.slow
def test_canonical_checksums_refuse_other_files_of_the_same_size(tmp_path, served):
    base_url, folder, _, _ = served
    for role, spec in mnist.DEFAULT_FILES.items():
        assert (folder / spec["name"]).stat().st_size == spec["size"], role
    workdir = copy_workflow(tmp_path)
    name = _paper_with_mnist_at(workdir, base_url, None, "paper_canonical.yaml")
    raw = Path(_plan(load_config(workdir, name), workdir).raw_path("mnist"))
    result = snakemake(
        workdir, str(raw), "--cores", "1", "--configfile", f"config/{name}", check=False
    )
    assert result.returncode != 0
    log = (workdir / RESULTS / "logs/fetch" / raw.name.replace(".npz", ".log")).read_text()
    assert "checksum mismatch" in log
    assert mnist.DEFAULT_FILES["images"]["sha256"] in log
    assert "Traceback" not in log
    assert not list((workdir / "resources/mnist").glob("*.npz"))  # nothing half-fetched


@pytest.mark.slow
def test_idx_source_fetches_and_builds_the_k3500_memory(tmp_path, served):
    base_url, folder, images, labels = served
    files = {
        role: {
            "name": spec["name"],
            "size": (folder / spec["name"]).stat().st_size,
            "sha256": hashlib.sha256((folder / spec["name"]).read_bytes()).hexdigest(),
        }
        for role, spec in mnist.DEFAULT_FILES.items()
    }
    workdir = copy_workflow(tmp_path)
    name = _paper_with_mnist_at(workdir, base_url, files, "paper_local.yaml")
    target = RESULTS / "memory/mnist/mnist_digit3__n_patterns_3500.npz"
    result = snakemake(
        workdir, str(target), "--cores", "1", "--configfile", f"config/{name}", "--quiet", "rules"
    )
    assert planned_jobs(result.stdout + result.stderr) == {"fetch": 1, "memory": 1}
    raw = _plan(load_config(workdir, name), workdir).raw_path("mnist")
    raw_images, raw_labels = mnist.load(workdir / raw)
    np.testing.assert_array_equal(raw_images, images)
    np.testing.assert_array_equal(raw_labels, labels)
    memory = load_memory_file(workdir / target)
    assert memory.patterns.shape == (784, 3500)
    expected = images[labels == 3].T.astype(np.float64)
    np.testing.assert_allclose(memory.patterns, expected / np.linalg.norm(expected, axis=0))
    source = memory.metadata["source"]
    assert source["kind"] == "idx"
    assert [f["sha256"] for f in source["files"]] == [
        files["images"]["sha256"],
        files["labels"]["sha256"],
    ]
    assert all(f["url"].startswith(base_url) for f in source["files"])
