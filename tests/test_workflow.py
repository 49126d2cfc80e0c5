"""The real Snakemake workflow: dry runs, a smoke run end to end, re-runs, clear errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workflow_utils import (
    REPO,
    RESUMABLE_SNAKEFILE,
    copy_workflow,
    environment,
    kill_snakemake_during,
    load_config,
    planned_jobs,
    snakemake,
    write_config,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """One smoke run shared by the tests of this module."""
    workdir = copy_workflow(tmp_path_factory.mktemp("smoke"))
    snakemake(workdir, "--cores", "2", "--configfile", "config/smoke.yaml")
    return workdir


def _comparisons(config: dict) -> dict:
    return {k: v for k, v in config["experiments"].items() if "methods" in v}


def _has_learned(config: dict, experiment: dict) -> bool:
    kinds = {config["methods"][m]["kind"] for m in experiment["methods"]}
    return bool(kinds & {"gmm_pca", "vae", "ddpm"})


def test_dry_run_of_the_default_config_plans_every_job(tmp_path):
    workdir = copy_workflow(tmp_path)
    result = snakemake(workdir, "-n", "--quiet", "rules")
    jobs = planned_jobs(result.stdout)
    config = load_config(workdir, "config.yaml")
    comparisons = _comparisons(config)
    pairs = {(d, m) for e in comparisons.values() for d in e["datasets"] for m in e["methods"]}
    trained_on = {config["methods"][m].get("train_dataset") for _, m in pairs} - {None}
    assert jobs["fetch"] == 1
    assert jobs["memory"] == len({d for d, _ in pairs} | trained_on)
    assert jobs["sample"] == len(pairs)
    assert jobs["metrics"] == len(pairs)
    assert jobs["comparison_table"] == len(comparisons)
    assert jobs["sample_grids"] == sum(len(e["datasets"]) for e in comparisons.values())
    assert jobs["training_curves"] == sum(
        len(e["datasets"]) for e in comparisons.values() if _has_learned(config, e)
    )
    assert jobs["summary"] == 1


def test_smoke_run_produces_the_e4_table(smoke_run):
    table = pd.read_csv(smoke_run / "results/tables/E4.csv").set_index("method")
    assert list(table.index) == load_config(smoke_run)["experiments"]["E4"]["methods"]
    assert table.loc["bootstrap", "novelty"] == pytest.approx(0.0, abs=1e-12)
    assert table.loc["sa_generation", "novelty"] > table.loc["sa_retrieval", "novelty"]
    assert table.loc["mala_retrieval", "acceptance"] > 0.9
    assert np.isnan(table.loc["sa_retrieval", "acceptance"])
    # learned baselines ran, logged their losses, and E15 states the training-set size
    assert (smoke_run / "results/figures/E4_mnist_digit3_training.png").exists()
    e15 = pd.read_csv(smoke_run / "results/tables/E15.csv").set_index("method")
    sizes = load_config(smoke_run)["datasets"]
    assert (
        e15.loc["vae_all_digits_latent32", "train_size"] == sizes["mnist_all_digits"]["n_patterns"]
    )
    for name in ("E4", "E5"):
        assert "± " in (smoke_run / f"results/tables/{name}.md").read_text()
        assert "$\\pm$" in (smoke_run / f"results/tables/{name}.tex").read_text()
    assert (smoke_run / "results/figures/E4_mnist_digit3_samples.png").stat().st_size > 10_000
    assert "E5" in (smoke_run / "results/summary.md").read_text()
    provenance = smoke_run / "results/samples/mnist/mnist_digit3/sa_generation.npz.provenance.json"
    assert '"seed"' in provenance.read_text()
    assert (smoke_run / "results/benchmarks/sample/mnist/mnist_digit3/sa_generation.tsv").exists()


def test_second_run_does_nothing(smoke_run):
    result = snakemake(smoke_run, "-n", "--configfile", "config/smoke.yaml")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_changing_generation_beta_reruns_only_its_downstream_jobs(smoke_run):
    config = load_config(smoke_run)
    config["methods"]["sa_generation"]["beta"] = 300
    write_config(smoke_run, config, "changed.yaml")
    result = snakemake(smoke_run, "-n", "--quiet", "rules", "--configfile", "config/changed.yaml")
    using = {k: e for k, e in _comparisons(config).items() if "sa_generation" in e["methods"]}
    datasets = {d for e in using.values() for d in e["datasets"]}
    assert planned_jobs(result.stdout) == {
        "sample": len(datasets),
        "metrics": len(datasets),
        "comparison_table": len(using),
        "sample_grids": sum(len(e["datasets"]) for e in using.values()),
        "summary": 1,
        "all": 1,
    }


def test_report_is_a_browsable_html_file(smoke_run):
    snakemake(smoke_run, "--configfile", "config/smoke.yaml", "--report", "results/report.html")
    html = (smoke_run / "results/report.html").read_text(errors="replace")
    assert "<html" in html.lower()
    assert "E4" in html


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c["methods"]["sa_generation"].update(alpah=0.01), "alpah"),
        (lambda c: c["methods"]["sa_generation"].update(alpha=1.5), "alpha"),
        (lambda c: c["experiments"]["E4"]["methods"].append("sa_typo"), "sa_typo"),
        (lambda c: c["datasets"]["mnist_digit3"].update(digit=12), "digit"),
    ],
)
def test_bad_config_fails_with_the_key_named(tmp_path, change, message):
    workdir = copy_workflow(tmp_path)
    config = load_config(workdir)
    change(config)
    write_config(workdir, config, "bad.yaml")
    result = snakemake(workdir, "-n", "--configfile", "config/bad.yaml", check=False)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr


def _build_digit3_memory(workdir, configfile: str):
    """Run only the digit-3 memory job (allowed to fail); returns the result and its log."""
    result = snakemake(
        workdir,
        "results/memory/mnist/mnist_digit3.npz",
        "--cores",
        "1",
        "--configfile",
        configfile,
        check=False,
    )
    return result, (workdir / "results/logs/memory/mnist/mnist_digit3.log").read_text()


def test_too_few_images_gives_a_clear_error(tmp_path):
    workdir = copy_workflow(tmp_path)
    config = load_config(workdir)
    config["datasets"]["mnist_digit3"]["n_patterns"] = 501
    write_config(workdir, config, "big.yaml")
    result, log = _build_digit3_memory(workdir, "config/big.yaml")
    assert result.returncode != 0
    assert "fewer than the n_patterns=501" in log
    assert not (workdir / "results/memory/mnist/mnist_digit3.npz").exists()


def test_corrupt_raw_data_gives_a_clear_error(tmp_path):
    workdir = copy_workflow(tmp_path)
    raw = workdir / "resources/mnist/mnist.npz"
    snakemake(
        workdir, str(raw.relative_to(workdir)), "--cores", "1", "--configfile", "config/smoke.yaml"
    )
    raw.write_bytes(b"not an npz file")
    result, log = _build_digit3_memory(workdir, "config/smoke.yaml")
    assert result.returncode != 0
    assert "mnist.npz" in log
    assert "Traceback" not in log


def test_killed_run_resumes_without_redoing_finished_jobs(tmp_path):
    shutil.copytree(REPO / "profiles", tmp_path / "profiles")
    (tmp_path / "Snakefile").write_text(RESUMABLE_SNAKEFILE)
    (tmp_path / "slow").touch()
    arguments = ["--profile", "profiles/local", "--cores", "1"]
    kill_snakemake_during(tmp_path, arguments, environment(), Path("results/b.txt"))
    assert (tmp_path / "results/b.txt").read_text().split() == ["started"]  # half-written

    (tmp_path / "slow").unlink()
    locked = snakemake(tmp_path, *arguments, check=False)  # the dead run still holds its lock
    assert locked.returncode != 0 and "--unlock" in locked.stdout + locked.stderr
    snakemake(tmp_path, "--unlock")
    # without the profile's rerun-incomplete Snakemake refuses to trust the half-written file
    refused = snakemake(tmp_path, "--cores", "1", check=False)
    assert refused.returncode != 0
    assert "incomplete" in (refused.stdout + refused.stderr).lower()
    plan = planned_jobs(snakemake(tmp_path, *arguments, "-n").stdout)
    assert plan == {"all": 1, "b": 1}  # a finished before the kill: not redone

    snakemake(tmp_path, *arguments)
    assert (tmp_path / "runs.txt").read_text().split() == ["a", "b", "b"]
    assert (tmp_path / "results/b.txt").read_text().split() == ["started", "finished"]
