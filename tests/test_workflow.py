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
    assert_jobs_follow_the_plan,
    copy_workflow,
    environment,
    kill_snakemake_during,
    load_config,
    planned_jobs,
    snakemake,
    write_config,
)

pytestmark = pytest.mark.slow


SMOKE = Path("results/smoke")


@pytest.fixture(scope="module")
def smoke_run(smoke_workdir):
    """The session's one smoke run (tests/conftest.py); these tests only read it."""
    return smoke_workdir


def _plan(workdir: Path, name: str):
    """The library's plan of a config file (what the workflow must run)."""
    from stochastic_attention.config import prepare
    from stochastic_attention.plan import build_plan

    config = load_config(workdir, name)
    prepare(config, schema_path=workdir / "workflow/schemas/config.schema.yaml")
    return build_plan(config)


def test_dry_run_of_the_default_config_plans_every_job(tmp_path):
    workdir = copy_workflow(tmp_path)
    result = snakemake(workdir, "-n", "--quiet", "rules")
    jobs = planned_jobs(result.stdout)
    assert_jobs_follow_the_plan(jobs, _plan(workdir, "config.yaml"))


def test_smoke_run_produces_the_e4_table(smoke_run):
    tables = smoke_run / SMOKE / "tables"
    table = pd.read_csv(tables / "E4.csv")
    config = load_config(smoke_run)
    assert len(table) == len(config["experiments"]["E4"]["methods"])
    rows = table.set_index(["method", "beta"], drop=False)
    assert table.loc[table["method"] == "bootstrap", "novelty"].abs().max() < 1e-12
    sa = table[table["method"] == "SA"].set_index("beta")
    assert sa.loc[200, "novelty"] > sa.loc[2000, "novelty"]
    assert table.loc[table["method"] == "MALA", "acceptance"].iloc[0] > 0.9
    assert rows["replicates"].eq(config["replicates"]).all()
    assert {"novelty_sd_rep", "diversity_sd_rep", "ess", "rhat"} <= set(table.columns)
    assert table.loc[table["method"] == "vae", "train_loss"].notna().all()
    for name in ("E4", "E5"):
        assert "±" in (tables / f"{name}.md").read_text()
        assert "$\\pm$" in (tables / f"{name}.tex").read_text()
        assert "<table" in (tables / f"{name}.html").read_text()
    assert "Paired differences" in (tables / "E4.md").read_text()
    e15 = pd.read_csv(tables / "E15.csv").set_index("method")
    sizes = config["datasets"]
    all_digits = sizes["mnist_all_digits"]["n_patterns"]
    assert e15.loc["vae_all_digits_latent32", "train_size"] == all_digits
    figures = smoke_run / SMOKE / "figures"
    assert (figures / "E4/mnist_digit3/sample_grids.png").stat().st_size > 10_000
    assert (figures / "E4/mnist_digit3/training.png").exists()
    assert "E5" in (smoke_run / SMOKE / "summary.md").read_text()
    provenance = smoke_run / SMOKE / "samples/mnist/mnist_digit3/sa_generation.npz.provenance.json"
    assert '"seed"' in provenance.read_text()
    assert (smoke_run / SMOKE / "benchmarks/sample/mnist/mnist_digit3/sa_generation.tsv").exists()
    assert not (smoke_run / "results/tables").exists()  # smoke results never mix with full ones


def test_every_experiment_of_the_smoke_config_has_its_outputs(smoke_run):
    plan = _plan(smoke_run, "smoke.yaml")
    missing = [path for path in plan.targets() if not (smoke_run / path).is_file()]
    assert not missing


def test_samplers_share_their_start_draw(smoke_run):
    samples = smoke_run / SMOKE / "samples/mnist/mnist_digit3"
    with (
        np.load(samples / "sa_retrieval.npz") as sa,
        np.load(samples / "mala_retrieval.npz") as mala,
    ):
        assert np.array_equal(sa["start_patterns"], mala["start_patterns"])
        assert np.array_equal(sa["initial_states"], mala["initial_states"])
        replicate = sa["replicate"]
        assert np.unique(replicate).size == load_config(smoke_run)["replicates"]
        first = sa["start_patterns"][: sa["start_patterns"].size // 2]
        second = sa["start_patterns"][sa["start_patterns"].size // 2 :]
        assert not np.array_equal(first, second)  # replicates draw different starts


def test_second_run_does_nothing(smoke_run):
    result = snakemake(smoke_run, "-n", "--configfile", "config/smoke.yaml")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_changing_generation_beta_reruns_only_its_downstream_jobs(smoke_run):
    config = load_config(smoke_run)
    config["methods"]["sa_generation"]["beta"] = 300
    write_config(smoke_run, config, "changed.yaml")
    result = snakemake(smoke_run, "-n", "--quiet", "rules", "--configfile", "config/changed.yaml")
    jobs = planned_jobs(result.stdout)
    plan, before = _plan(smoke_run, "changed.yaml"), _plan(smoke_run, "smoke.yaml")
    changed = {
        (d, m)
        for d, m in plan.jobs
        if m == "sa_generation" or plan.methods[m].get("reference") == "sa_generation"
    }
    # a sweep point equal to the old β (200) was the base job; now it is a job of its own
    new = plan.jobs - before.jobs
    assert jobs["sample"] == len(changed | new)
    assert set(jobs) <= {"sample", "metrics", "paired", "experiment_table", "figure", "export",
                         "claims", "summary", "all"}


def test_report_is_a_browsable_html_file(smoke_run):
    snakemake(
        smoke_run, "--configfile", "config/smoke.yaml", "--report", "results/smoke/report.html"
    )
    html = (smoke_run / "results/smoke/report.html").read_text(errors="replace")
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
        "results/smoke/memory/mnist/mnist_digit3.npz",
        "--cores",
        "1",
        "--configfile",
        configfile,
        check=False,
    )
    return result, (workdir / "results/smoke/logs/memory/mnist/mnist_digit3.log").read_text()


def test_too_few_images_gives_a_clear_error(tmp_path):
    workdir = copy_workflow(tmp_path)
    config = load_config(workdir)
    config["datasets"]["mnist_digit3"]["n_patterns"] = 501
    write_config(workdir, config, "big.yaml")
    result, log = _build_digit3_memory(workdir, "config/big.yaml")
    assert result.returncode != 0
    assert "fewer than the n_patterns=501" in log
    assert not (workdir / "results/smoke/memory/mnist/mnist_digit3.npz").exists()


def test_corrupt_raw_data_gives_a_clear_error(tmp_path):
    workdir = copy_workflow(tmp_path)
    raw = workdir / _plan(workdir, "smoke.yaml").raw_path("mnist")
    snakemake(
        workdir, str(raw.relative_to(workdir)), "--cores", "1", "--configfile", "config/smoke.yaml"
    )
    raw.write_bytes(b"not an npz file")
    result, log = _build_digit3_memory(workdir, "config/smoke.yaml")
    assert result.returncode != 0
    assert raw.name in log
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
