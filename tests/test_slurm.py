"""The workflow under a real (single-node, throw-away) SLURM cluster with profiles/slurm.

Needs root on Linux: the cluster runs munged, slurmctld and slurmd as root and installs Debian's
slurm-wlm and munge when missing (tests/slurm_cluster.py). Run with ``pytest -m slurm``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from slurm_cluster import SlurmInfo, local_slurm
from workflow_utils import (
    RESUMABLE_SNAKEFILE,
    copy_workflow,
    kill_snakemake_during,
    planned_jobs,
    processes_under,
    run_in_group,
)

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
PROFILE = REPO / "profiles" / "slurm"
# Fast polling for tests; the profile keeps the plugin's defaults for real clusters.
FAST_POLL = [
    "--slurm-init-seconds-before-status-checks",
    "2",
    "--seconds-between-status-checks",
    "2",
]


@pytest.fixture(scope="session")
def slurm(tmp_path_factory) -> SlurmInfo:
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("the local SLURM cluster needs root on Linux")
    with local_slurm(tmp_path_factory.mktemp("slurm")) as info:
        yield info


@pytest.fixture(autouse=True)
def _no_jobs_left(request, tmp_path):
    """Pass or fail, a test leaves no SLURM job and no process (a jobstep Snakemake) behind:
    every live job is cancelled and waited for, then whatever still runs in the test's
    folder is killed by PID."""
    yield
    if "slurm" not in request.fixturenames:
        return
    slurm = request.getfixturevalue("slurm")
    live = {"PENDING", "RUNNING", "COMPLETING", "CONFIGURING", "SUSPENDED"}
    jobs = [job for job, state in _squeue(slurm, "%i|%T") if state in live]
    if jobs:
        subprocess.run(["scancel", *jobs], env=slurm.env, capture_output=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (
        [j for j, state in _squeue(slurm, "%i|%T") if state in live] or processes_under(tmp_path)
    ):
        time.sleep(1)
    for pid, _ in processes_under(tmp_path):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _wait_for_no_processes(folder: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while left := processes_under(folder):
        assert time.monotonic() < deadline, f"processes left behind: {left}"
        time.sleep(1)


def _env(slurm: SlurmInfo | None = None) -> dict[str, str]:
    env = dict(slurm.env) if slurm else dict(os.environ)
    env.pop("SNAKEMAKE_SLURM_PARTITION", None)  # use the cluster's default partition
    # console scripts of this venv (stochastic-attention) on PATH, also inside SLURM jobs
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _snakemake(
    workdir: Path, args: list[str], env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess:
    proc = run_in_group(
        [sys.executable, "-m", "snakemake", *args], cwd=workdir, env=env, timeout=timeout
    )
    assert proc.returncode == 0, (
        f"snakemake {' '.join(args)} failed ({proc.returncode}):\n"
        f"{proc.stdout[-5000:]}\n{proc.stderr[-10000:]}"
    )
    return proc


def _slurm_snakemake(
    workdir: Path,
    slurm: SlurmInfo,
    extra: list[str],
    profile: str | Path = PROFILE,
    timeout: float = 300,
) -> subprocess.CompletedProcess:
    return _snakemake(workdir, [*_slurm_args(slurm, profile), *extra], _env(slurm), timeout)


def _slurm_args(slurm: SlurmInfo, profile: str | Path = PROFILE) -> list[str]:
    # --max-threads: rules asking for more threads than the node has would never be scheduled
    return ["--profile", str(profile), *FAST_POLL, "--max-threads", str(slurm.cpus)]


def _squeue(slurm: SlurmInfo, fields: str) -> list[list[str]]:
    """``fields`` (squeue -o codes joined by |) of every job slurmctld still remembers
    (MinJobAge=600 s), one list per job."""
    out = subprocess.run(
        ["squeue", "--states=all", "-h", "-o", fields],
        env=slurm.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line.split("|") for line in out.splitlines() if line]


def _minutes(limit: str) -> int:
    """squeue's time limit (``5:00``, ``1:00:00``, ``1-00:00:00``) in minutes."""
    days, _, clock = limit.rpartition("-")
    parts = [int(p) for p in clock.split(":")]
    seconds = sum(v * 60**i for i, v in enumerate(reversed(parts)))
    return int(days or 0) * 1440 + seconds // 60


def _jobs_by_comment(slurm: SlurmInfo) -> list[tuple[str, ...]]:
    """(comment, state, memory) of every job slurmctld still remembers."""
    return [tuple(row) for row in _squeue(slurm, "%k|%T|%m")]


# --------------------------------------------------------------------------- toy workflows

TOY = """
N = [1, 2, 3]

rule all:
    input: "results/total.txt"

rule number:
    output: "results/numbers/{n}.txt"
    log: "logs/number/{n}.log"
    resources: mem_mb=200, runtime=5
    shell: "echo $(({wildcards.n} * 10)) > {output}; echo job=$SLURM_JOB_ID > {log}"

rule total:
    input: expand("results/numbers/{n}.txt", n=N)
    output: "results/total.txt"
    log: "logs/total.log"
    threads: 2
    resources: mem_mb=300
    shell:
        "awk '{{s += $1 * $1}} END {{print s}}' {input} > {output};"
        " echo job=$SLURM_JOB_ID cpus=$SLURM_CPUS_PER_TASK > {log}"
"""

FLAKY = """
rule flaky:
    output: "flaky.txt"
    log: "logs/flaky.log"
    resources:
        mem_mb=lambda wildcards, attempt: 100 * attempt,
        tries=lambda wildcards, attempt: attempt,
    shell:
        "echo attempt {resources.tries} job $SLURM_JOB_ID >> attempts.txt;"
        " test {resources.tries} -ge 2 || {{ echo failing on purpose > {log}; exit 3; }};"
        " echo {resources.tries} > {output}"
"""


SIZED = f"""
import sys
sys.path.insert(0, {str(REPO / "src")!r})
from stochastic_attention.resources import Estimate, request

SMALL = Estimate(seconds=60, mem_mb=300)     # below the floors: 5 min, 1000 MB
LARGE = Estimate(seconds=1200, mem_mb=1500)  # 3 × 20 min = 60 min, 2 × 1500 = 3000 MB

def sized(estimate, name):
    return lambda wildcards, attempt: getattr(request(estimate, attempt), name)

rule all:
    input: "small.txt", "large.txt", "retried.txt"

rule small:
    output: "small.txt"
    resources: runtime=sized(SMALL, "runtime"), mem_mb=sized(SMALL, "mem_mb")
    shell: "touch {{output}}"

rule large:
    output: "large.txt"
    resources: runtime=sized(LARGE, "runtime"), mem_mb=sized(LARGE, "mem_mb")
    shell: "touch {{output}}"

rule retried:
    output: "retried.txt"
    log: "logs/retried.log"
    resources:
        runtime=sized(SMALL, "runtime"),
        mem_mb=sized(SMALL, "mem_mb"),
        tries=lambda wildcards, attempt: attempt,
    shell: "test {{resources.tries}} -ge 2 || {{{{ echo failing on purpose > {{log}}; exit 3; }}}};"
           " touch {{output}}"
"""


def test_sized_resources_reach_sbatch_and_a_retry_asks_for_more(slurm, tmp_path):
    """resources.request's runtime and mem_mb become each SLURM job's time limit and memory;
    the retry of a failed job gets twice the time and 1.5 × the memory."""
    from stochastic_attention.resources import Estimate, request

    (tmp_path / "Snakefile").write_text(SIZED)
    _slurm_snakemake(tmp_path, slurm, [])
    jobs = [(c, st, m, _minutes(lim)) for c, st, m, lim in _squeue(slurm, "%k|%T|%m|%l")]
    small, large = request(Estimate(60, 300)), request(Estimate(1200, 1500))
    assert (small.runtime, small.mem_mb, large.runtime, large.mem_mb) == (5, 1000, 60, 3000)
    assert ("rule_small", "COMPLETED", "1000M", 5) in jobs, jobs
    assert ("rule_large", "COMPLETED", "3000M", 60) in jobs, jobs
    retried = [(st, m, lim) for c, st, m, lim in jobs if c == "rule_retried"]
    assert ("FAILED", "1000M", 5) in retried and ("COMPLETED", "1500M", 10) in retried, retried


def test_toy_workflow_runs_on_slurm(slurm, tmp_path):
    (tmp_path / "Snakefile").write_text(textwrap.dedent(TOY))
    _slurm_snakemake(tmp_path, slurm, [])
    assert (tmp_path / "results/total.txt").read_text().split() == ["1400"]  # 100+400+900
    for n in (1, 2, 3):
        assert (tmp_path / f"results/numbers/{n}.txt").read_text().strip() == str(10 * n)
        assert (tmp_path / f"logs/number/{n}.log").read_text().startswith("job=")
    assert "cpus=2" in (tmp_path / "logs/total.log").read_text()
    # one SLURM log per job (profile keeps logs of successful jobs)
    logs = list((tmp_path / ".snakemake/slurm_logs").rglob("*.log"))
    assert len(logs) == 4, logs
    states = [
        s for c, s, _ in _jobs_by_comment(slurm) if c.startswith(("rule_number", "rule_total"))
    ]
    assert states.count("COMPLETED") >= 4


def test_failed_job_is_retried_on_slurm(slurm, tmp_path):
    (tmp_path / "Snakefile").write_text(textwrap.dedent(FLAKY))
    _slurm_snakemake(tmp_path, slurm, [])
    assert (tmp_path / "flaky.txt").read_text().strip() == "2"
    attempts = (tmp_path / "attempts.txt").read_text().splitlines()
    assert [a.split()[1] for a in attempts] == ["1", "2"]
    assert attempts[0].split()[3] != attempts[1].split()[3]  # two distinct SLURM jobs
    # the failed attempt's SLURM log is kept
    assert any((tmp_path / ".snakemake/slurm_logs/rule_flaky").rglob("*.log"))
    # slurmctld saw one failed and one completed job, the retry with more memory
    jobs = [(s, m) for c, s, m in _jobs_by_comment(slurm) if c == "rule_flaky"]
    assert ("FAILED", "100M") in jobs and ("COMPLETED", "200M") in jobs, jobs


def _live_jobs_of_rule(slurm: SlurmInfo, rule: str) -> list[str]:
    live = {"PENDING", "RUNNING", "COMPLETING", "CONFIGURING"}
    rows = _squeue(slurm, "%i|%k|%T")
    return [job for job, comment, state in rows if comment == f"rule_{rule}" and state in live]


def _cancel_jobs_of_rule(slurm: SlurmInfo, rule: str, timeout: float = 60) -> None:
    """scancel the live jobs of ``rule`` and wait until slurmctld reports them ended."""
    ids = _live_jobs_of_rule(slurm, rule)
    assert ids, f"no live SLURM job of rule {rule}"
    subprocess.run(["scancel", *ids], env=slurm.env, check=True)
    deadline = time.monotonic() + timeout
    while ids := _live_jobs_of_rule(slurm, rule):
        assert time.monotonic() < deadline, f"SLURM jobs {ids} of rule {rule} did not end"
        time.sleep(1)


def test_killed_run_resumes_on_slurm_without_redoing_finished_jobs(slurm, tmp_path):
    (tmp_path / "Snakefile").write_text(RESUMABLE_SNAKEFILE)
    (tmp_path / "slow").touch()
    # the login-node session dies while `b` runs as a SLURM job; the orphan is cancelled
    # (scancel or its time limit): SLURM sends SIGTERM and the job removes its partial output
    kill_snakemake_during(
        tmp_path, _slurm_args(slurm), _env(slurm), Path("results/b.txt"), timeout=180
    )
    _cancel_jobs_of_rule(slurm, "b")
    _wait_for_no_processes(tmp_path)  # the cancelled job's jobstep Snakemake ended too
    (tmp_path / "slow").unlink()
    assert not (tmp_path / "results/b.txt").exists()
    assert (tmp_path / "results/a.txt").is_file()

    _snakemake(tmp_path, ["--unlock"], _env(slurm), timeout=60)
    plan = planned_jobs(_slurm_snakemake(tmp_path, slurm, ["-n"]).stdout)
    assert plan == {"all": 1, "b": 1}  # `a` finished before the kill: not redone
    _slurm_snakemake(tmp_path, slurm, [])
    assert (tmp_path / "runs.txt").read_text().split() == ["a", "b", "b"]
    assert (tmp_path / "results/b.txt").read_text().split() == ["started", "finished"]


# --------------------------------------------------------------------------- the real pipeline


def test_interrupted_run_leaves_no_jobs_on_slurm(slurm, tmp_path):
    """Ctrl-C (SIGINT to the process group) on the login node: Snakemake cancels its SLURM
    jobs, and no jobstep process stays behind."""
    (tmp_path / "Snakefile").write_text(RESUMABLE_SNAKEFILE)
    (tmp_path / "slow").touch()
    process = subprocess.Popen(
        [sys.executable, "-m", "snakemake", *_slurm_args(slurm)],
        cwd=tmp_path,
        env=_env(slurm),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while not (tmp_path / "results/b.txt").exists():
            assert process.poll() is None, "snakemake ended before b started"
            assert time.monotonic() < deadline, "b did not start"
            time.sleep(0.5)
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=300)  # scancel of every job; slow on a loaded machine
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    deadline = time.monotonic() + 60
    while ids := _live_jobs_of_rule(slurm, "b"):
        assert time.monotonic() < deadline, f"SLURM jobs {ids} of rule b still live"
        time.sleep(1)
    _wait_for_no_processes(tmp_path)


def test_smoke_pipeline_on_slurm_matches_local_run(slurm, tmp_path):
    pd = pytest.importorskip("pandas")
    table = Path("results/smoke/tables/E4.csv")

    # E4's table and everything upstream of it (about 20 jobs): each SLURM job costs seconds
    # of scheduling, so the whole smoke DAG would take minutes without testing anything more
    local = copy_workflow(tmp_path / "local")
    _snakemake(
        local,
        [str(table), "--cores", "2", "--configfile", "config/smoke.yaml"],
        _env(),
        timeout=1800,
    )
    remote = copy_workflow(tmp_path / "slurm")
    _slurm_snakemake(
        remote,
        slurm,
        [str(table), "--configfile", "config/smoke.yaml"],
        profile="profiles/slurm",
        timeout=1800,
    )

    assert any((remote / ".snakemake/slurm_logs").rglob("*.log")), "no job went through SLURM"
    # every sample job asked SLURM for what resources.job_request predicts for it
    import yaml

    from stochastic_attention.config import prepare
    from stochastic_attention.plan import build_plan
    from stochastic_attention.resources import job_request

    plan = build_plan(prepare(yaml.safe_load((REPO / "config/smoke.yaml").read_text())))
    wanted = {
        (f"{r.mem_mb}M", r.runtime)
        for experiment in plan.experiments.values()
        for dataset, method in {(row.dataset, row.method) for row in experiment.rows}
        for r in [job_request(plan, "sample", {"dataset": dataset, "method": method})]
    }
    asked = {(m, _minutes(lim)) for c, _, m, lim in _squeue(slurm, "%k|%T|%m|%l")
             if c.startswith("rule_sample")}  # fmt: skip
    assert asked and asked <= wanted, (asked, wanted)
    a, b = local / table, remote / table
    assert a.is_file() and b.is_file()
    if a.read_bytes() != b.read_bytes():
        pd.testing.assert_frame_equal(pd.read_csv(b), pd.read_csv(a), check_exact=False, rtol=1e-9)
