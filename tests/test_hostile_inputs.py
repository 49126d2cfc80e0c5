"""Hostile and mistaken inputs (issue 12): one table, one row per input that must be refused.

Every case starts from a scratch copy of the workflow with the smoke config, makes one hostile
or mistaken change, runs the real Snakemake (a dry run where the config check suffices, a run
of one or two cheap jobs where the failure is in the data) and asserts

* a non-zero exit status,
* the expected message (naming the key or file, and the fix),
* no file written outside ``results/``, ``resources/`` and ``.snakemake/`` of the copy (the
  copy sits two folders deep in its own scratch folder, so ``../../x`` escapes would show),
* no effect of an injected command (no ``INJECTED`` file anywhere).

All cases run concurrently in one module fixture (each Snakemake call in its own process group,
killed when it returns), so the module stays well under a minute. Add a row to ``CASES`` for
every new hostile input.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import yaml

from workflow_utils import (
    REPO,
    copy_workflow,
    environment,
    load_config,
    run_in_group,
    write_config,
)

pytestmark = pytest.mark.slow

SMOKE = "config/smoke.yaml"
BAD = "config/bad.yaml"
ALLOWED = ("results", "resources", ".snakemake", "inputs")  # inputs: made by a case
INJECTED = "INJECTED"
MNIST_DIGIT3 = "results/smoke/memory/mnist/mnist_digit3.npz"


@dataclass
class Outcome:
    """What a case produced: exit status, Snakemake's output and the job logs it names."""

    returncode: int
    output: str
    logs: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.output + "\n" + self.logs


def _snakemake(workdir: Path, *arguments: str, timeout: float = 300) -> Outcome:
    result = run_in_group(
        [sys.executable, "-m", "snakemake", *arguments],
        cwd=workdir,
        env=environment(),
        timeout=timeout,
    )
    return Outcome(result.returncode, result.stdout + result.stderr)


def _logs(workdir: Path, pattern: str) -> str:
    return "\n".join(p.read_text(errors="replace") for p in sorted(workdir.glob(pattern)))


# ----------------------------------------------------------------------- case builders


def config_case(change: Callable[[dict], None]) -> Callable[[Path], Outcome]:
    """A dry run of the smoke config after ``change`` (a function editing the dict)."""

    def run(workdir: Path) -> Outcome:
        config = load_config(workdir)
        change(config)
        write_config(workdir, config, "bad.yaml")
        return _snakemake(workdir, "-n", "--configfile", BAD)

    return run


def text_case(edit: Callable[[str], str]) -> Callable[[Path], Outcome]:
    """A dry run of the smoke config's text after ``edit`` (for what YAML dicts cannot hold)."""

    def run(workdir: Path) -> Outcome:
        (workdir / BAD).write_text(edit((workdir / SMOKE).read_text()))
        return _snakemake(workdir, "-n", "--configfile", BAD)

    return run


def rename_experiment(old: str, new: str) -> Callable[[dict], None]:
    def change(config: dict) -> None:
        config["experiments"] = {
            (new if key == old else key): value for key, value in config["experiments"].items()
        }

    return change


def add(section: str, name: str, value: dict) -> Callable[[dict], None]:
    def change(config: dict) -> None:
        config[section][name] = value

    return change


def add_method_to_e4(name: str) -> Callable[[dict], None]:
    def change(config: dict) -> None:
        config["methods"][name] = {"kind": "sa", "alpha": 0.01, "beta": 200}
        config["experiments"]["E4"]["methods"].append(name)

    return change


def set_key(*path_and_value) -> Callable[[dict], None]:
    *path, key, value = path_and_value

    def change(config: dict) -> None:
        node = config
        for part in path:
            node = node[part]
        node[key] = value

    return change


def mnist_files(name: str) -> Callable[[dict], None]:
    def change(config: dict) -> None:
        config["sources"]["mnist"] = {
            "kind": "idx",
            "base_url": "file:///nonexistent",
            "files": {"images": {"name": name}, "labels": {"name": "labels.gz"}},
        }

    return change


def _duplicate_dataset(text: str) -> str:
    line = "  mnist_digit3: {domain: mnist, digit: 3, n_patterns: 20}\n"
    assert line in text
    return text.replace(line, line + "  mnist_digit3: {domain: mnist, digit: 3, n_patterns: 40}\n")


def _yaml_syntax_error(text: str) -> str:
    return text.replace("replicates: 2\n", "replicates: [2\n")


# -------------------------------------------------------------------- data (real runs)


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return gzip.compress(header + array.astype(np.uint8).tobytes(), mtime=0)


def labels_out_of_range(workdir: Path) -> Outcome:
    """IDX labels outside 0–9 (item 6): the fetch job refuses the file, naming it."""
    folder = workdir / "inputs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    (folder / "images.gz").write_bytes(_idx(rng.integers(0, 256, (30, 28, 28))))
    (folder / "labels.gz").write_bytes(_idx(np.array([3] * 29 + [12])))
    config = load_config(workdir)
    config["sources"]["mnist"] = {
        "kind": "local",
        "path": "inputs",
        "files": {"images": {"name": "images.gz"}, "labels": {"name": "labels.gz"}},
    }
    write_config(workdir, config, "bad.yaml")
    outcome = _snakemake(workdir, MNIST_DIGIT3, "--cores", "1", "--configfile", BAD)
    outcome.logs = _logs(workdir, "results/smoke/logs/fetch/*.log")
    return outcome


def missing_local_folder(workdir: Path) -> Outcome:
    """A missing local folder (item 12) fails once, even with --retries 2 (as on SLURM)."""
    config = load_config(workdir)
    config["sources"]["mnist"] = {"kind": "local", "path": "no_such_folder"}
    write_config(workdir, config, "bad.yaml")
    outcome = _snakemake(
        workdir, MNIST_DIGIT3, "--cores", "1", "--retries", "2", "--configfile", BAD
    )
    outcome.logs = _logs(workdir, "results/smoke/logs/fetch/*.log")
    return outcome


def _array_dataset(workdir: Path, matrix: np.ndarray) -> Outcome:
    (workdir / "inputs").mkdir()
    np.save(workdir / "inputs/patterns.npy", matrix)
    config = load_config(workdir)
    config["datasets"]["user_patterns"] = {
        "domain": "array",
        "path": "inputs/patterns.npy",
        "layout": "columns",
    }
    write_config(workdir, config, "bad.yaml")
    target = "results/smoke/memory/array/user_patterns.npz"
    outcome = _snakemake(workdir, target, "--cores", "1", "--configfile", BAD)
    outcome.logs = _logs(workdir, "results/smoke/logs/memory/array/*.log")
    return outcome


def nan_column(workdir: Path) -> Outcome:
    matrix = np.random.default_rng(1).normal(size=(16, 6))
    matrix[4, 3] = np.nan
    return _array_dataset(workdir, matrix)


def zero_column(workdir: Path) -> Outcome:
    matrix = np.random.default_rng(1).normal(size=(16, 6))
    matrix[:, 2] = 0
    return _array_dataset(workdir, matrix)


def corrupt_memory_metadata(workdir: Path) -> Outcome:
    """Items 8 and 9: a memory file with corrupt metadata is named as such, and the command
    in the message really rebuilds it (after which the failed job succeeds)."""
    build = _snakemake(workdir, MNIST_DIGIT3, "--cores", "1", "--configfile", SMOKE)
    assert build.returncode == 0, build.output[-3000:]
    path = workdir / MNIST_DIGIT3
    with np.load(path) as data:
        arrays = dict(data)
    arrays["metadata"] = np.array("{not json")
    np.savez(path, **arrays)
    sample = "results/smoke/samples/mnist/mnist_digit3/bootstrap.npz"
    outcome = _snakemake(workdir, sample, "--cores", "1", "--configfile", SMOKE)
    outcome.logs = _logs(workdir, "results/smoke/logs/sample/mnist/mnist_digit3/bootstrap.log")
    command = re.search(r"`(snakemake [^`]+)`", outcome.logs)
    outcome.extra["command"] = command and command.group(1)
    if command:  # follow the advice literally, then the failed job must succeed
        rebuild = run_in_group(
            [sys.executable, "-m", *command.group(1).split()],
            cwd=workdir,
            env=environment(),
            timeout=300,
        )
        again = _snakemake(workdir, sample, "--cores", "1", "--configfile", SMOKE)
        outcome.extra["rebuild"] = (rebuild.returncode, again.returncode)
    return outcome


def stale_provenance(workdir: Path) -> Outcome:
    """Item 11: a failed re-run leaves no provenance beside the output Snakemake deleted."""
    build = _snakemake(workdir, MNIST_DIGIT3, "--cores", "1", "--configfile", SMOKE)
    assert build.returncode == 0, build.output[-3000:]
    assert (workdir / (MNIST_DIGIT3 + ".provenance.json")).is_file()
    config = load_config(workdir)
    config["datasets"]["mnist_digit3"]["n_patterns"] = 501  # more than the offline subset has
    write_config(workdir, config, "bad.yaml")
    outcome = _snakemake(workdir, MNIST_DIGIT3, "--cores", "1", "--configfile", BAD)
    outcome.logs = _logs(workdir, "results/smoke/logs/memory/mnist/mnist_digit3.log")
    outcome.extra["left"] = [
        str(p.relative_to(workdir)) for p in (workdir / "results/smoke/memory").rglob("*")
    ]
    return outcome


def _root_mount_case(workdir: Path, mount: str) -> Outcome:
    """Run the digit-3 memory job with results/smoke behind ``mount`` (a private mount
    namespace: needs root); ``mount`` is a shell snippet using $R for the folder."""
    fetch = _snakemake(
        workdir, MNIST_DIGIT3, "--cores", "1", "--configfile", SMOKE, "--until", "fetch"
    )
    assert fetch.returncode == 0, fetch.output[-3000:]
    folder = workdir / "results/smoke/memory"  # the logs stay readable after the run
    (folder / "mnist").mkdir(parents=True, exist_ok=True)
    script = f'R="$0"; {mount} && exec "$@"'
    command = [
        "unshare",
        "-m",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        script,
        str(folder),
        sys.executable,
        "-m",
        "snakemake",
        MNIST_DIGIT3,
        "--cores",
        "1",
        "--configfile",
        SMOKE,
    ]
    result = run_in_group(command, cwd=workdir, env=environment(), timeout=300)
    logs = _logs(workdir, "results/smoke/logs/memory/mnist/*.log")
    return Outcome(result.returncode, result.stdout + result.stderr, logs)


def read_only_results(workdir: Path) -> Outcome:
    return _root_mount_case(workdir, 'mount --bind "$R" "$R" && mount -o remount,bind,ro "$R"')


def full_disk(workdir: Path) -> Outcome:
    """A 'disk' of 64 KiB for results/smoke: the memory file (125 KB) does not fit."""
    outcome = _root_mount_case(
        workdir, 'mount -t tmpfs -o size=64k tmpfs "$R" && mkdir -p "$R/mnist"'
    )
    return outcome


def missing_config_file(workdir: Path) -> Outcome:
    return _snakemake(workdir, "-n", "--configfile", "config/no_such_config.yaml")


# ---------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Case:
    id: str
    run: Callable[[Path], Outcome]
    message: str  # a regular expression the output (or the job log) must match
    root: bool = False  # needs root (a private mount namespace)


CASES = [
    # 1. config values never reach a shell
    Case(
        "experiment_name_with_backticks",
        config_case(rename_experiment("E4", "E4`touch INJECTED`")),
        r"experiments: the name 'E4`touch INJECTED`' may contain only letters, digits",
    ),
    Case(
        "experiment_name_with_semicolon",
        config_case(rename_experiment("E4", "E4;touch INJECTED")),
        r"experiments: the name 'E4;touch INJECTED' may contain only",
    ),
    Case(
        "dataset_name_with_command_substitution",
        config_case(
            add("datasets", "d$(touch INJECTED)", {"domain": "mnist", "digit": 3, "n_patterns": 20})
        ),
        r"datasets: the name 'd\$\(touch INJECTED\)' may contain only",
    ),
    Case(
        "method_name_with_semicolon_in_e4",
        config_case(add_method_to_e4("sa;id")),
        r"methods: the name 'sa;id' may contain only",
    ),
    Case(
        "protocol_name_with_space",
        config_case(add("protocols", "two words", {"n_steps": 10})),
        r"protocols: the name 'two words' may contain only",
    ),
    Case(
        "plugin_that_is_shell_code",
        config_case(set_key("plugins", ["os; touch INJECTED"])),
        r"plugins: 'os; touch INJECTED' is not a Python module name",
    ),
    # 2. nothing written outside results/
    Case(
        "experiment_name_escaping_results",
        config_case(rename_experiment("E4", "../../../escape")),
        r"experiments: the name '\.\./\.\./\.\./escape' may contain only",
    ),
    Case(
        "experiment_name_that_is_a_bad_regex",
        config_case(rename_experiment("E4", "E4(")),
        r"experiments: the name 'E4\(' may contain only",
    ),
    Case(
        "reserved_double_underscore_in_a_name",
        config_case(rename_experiment("E5", "E5__beta")),
        r"no '__'",
    ),
    Case(
        "results_dir_outside_the_working_directory",
        config_case(set_key("results_dir", "../../outside")),
        r"results_dir: '\.\./\.\./outside' must be a relative folder",
    ),
    Case(
        "absolute_results_dir",
        config_case(set_key("results_dir", "/tmp/results")),
        r"results_dir: '/tmp/results' must be a relative folder",
    ),
    Case(
        "download_name_with_dot_dot",
        config_case(mnist_files("../../../x.gz")),
        r"sources\.mnist\.files\.images\.name: '\.\./\.\./\.\./x\.gz' does not match",
    ),
    Case(
        "absolute_download_name",
        config_case(mnist_files("/tmp/x.gz")),
        r"sources\.mnist\.files\.images\.name: '/tmp/x\.gz' does not match",
    ),
    # 3./4. silent wrong results: refused
    Case(
        "dataset_written_twice",
        text_case(_duplicate_dataset),
        r"bad\.yaml: key 'mnist_digit3' is written twice \(lines 14 and 15\)",
    ),
    Case(
        "labels_outside_0_to_9",
        labels_out_of_range,
        r"labels\.gz holds label 12 at position 29; MNIST labels are 0-9",
    ),
    # 7. every cross-field constraint before any job
    Case(
        "burn_in_not_below_n_steps",
        config_case(set_key("protocols", "multi_chain", "burn_in", 500)),
        r"protocols\.multi_chain: burn_in \(500\) must be smaller than n_steps \(400\)",
    ),
    Case(
        "keep_more_than_snapshots",
        config_case(set_key("protocols", "multi_chain", "keep", 50)),
        r"protocols\.multi_chain\.keep: cannot keep 50 of the 10 snapshots",
    ),
    Case(
        "typo_inside_train",
        config_case(set_key("methods", "vae", "train", {"epochz": 3})),
        r"methods\.vae.*epochz",
    ),
    Case(
        "typo_at_the_top_level",
        config_case(set_key("replicate", 3)),
        r"replicate",
    ),
    # 8./9. a corrupt file is named, with the command that rebuilds it
    Case(
        "corrupt_memory_metadata",
        corrupt_memory_metadata,
        r"memory file results/smoke/memory/mnist/mnist_digit3\.npz has corrupt metadata.*"
        r"rebuild it with `snakemake results/smoke/memory/mnist/mnist_digit3\.npz --force "
        r"--cores 1 --configfile config/smoke\.yaml`",
    ),
    # 10. bad memories refused when built, naming the column
    Case("nan_memory_column", nan_column, r"column 3\b.*(NaN|non-finite)"),
    Case("zero_memory_column", zero_column, r"column 2\b.*(zero|0)"),
    # 11. no stale provenance
    Case("failed_rerun_leaves_no_provenance", stale_provenance, r"fewer than the n_patterns=501"),
    # 12. fail fast where a retry cannot help
    Case("missing_local_folder", missing_local_folder, r"local IDX file not found"),
    # 13. one line, not a traceback
    Case("missing_config_file", missing_config_file, r"config/no_such_config\.yaml"),
    Case("read_only_results", read_only_results, r"[Rr]ead-only file system", root=True),
    Case("full_disk", full_disk, r"disk is full|No space left on device", root=True),
    # 15. YAML syntax errors with file, line and column
    # Snakemake parses --configfile before the Snakefile runs and hides the line (see
    # docs/config-safety.md); `stochastic-attention check-config` and check_yaml_file give
    # file:line:column (tests below)
    Case(
        "yaml_syntax_error",
        text_case(_yaml_syntax_error),
        r"Config file is not valid JSON or YAML",
    ),
]


def _is_root() -> bool:
    return sys.platform == "linux" and os.geteuid() == 0 and shutil.which("unshare") is not None


def _files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file() or p.is_symlink()}


def _run_case(case: Case, root: Path) -> tuple[Outcome, list[str]]:
    """Run ``case`` in ``root``/a/b/wf; return its outcome and the files it wrote where no
    workflow may write (outside results/, resources/, .snakemake/ of the copy)."""
    workdir = copy_workflow(root / "a" / "b" / "wf")
    before = _files(root)
    outcome = case.run(workdir)
    stray = []
    for path in sorted(_files(root) - before):
        inside = path.is_relative_to(workdir)
        top = path.relative_to(workdir).parts[0] if inside else None
        if top not in ALLOWED and path.name != "bad.yaml":
            stray.append(str(path.relative_to(root)))
    return outcome, stray


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict[str, tuple[Outcome, list[str]]]:
    """Every case of the table, run concurrently (each in its own scratch folder)."""
    base = tmp_path_factory.mktemp("hostile")
    cases = [case for case in CASES if _is_root() or not case.root]
    workers = max(2, min(8, os.cpu_count() or 2))
    with ThreadPoolExecutor(workers) as pool:
        futures = {case.id: pool.submit(_run_case, case, base / case.id) for case in cases}
        results = {}
        for name, future in futures.items():
            try:
                results[name] = future.result()
            except Exception as error:  # reported by the case's own test
                results[name] = error
    results["__base__"] = base
    return results


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_input_is_refused(outcomes, case):
    if case.root and not _is_root():
        pytest.skip("needs root on Linux (a private mount namespace)")
    result = outcomes[case.id]
    if isinstance(result, Exception):
        raise result
    outcome, stray = result
    assert outcome.returncode != 0, outcome.text[-3000:]
    assert re.search(case.message, outcome.text, re.DOTALL), outcome.text[-4000:]
    assert not stray, f"files written outside results/: {stray}"
    injected = list(Path(outcomes["__base__"]).rglob(INJECTED)) + list(REPO.rglob(INJECTED))
    assert not injected, f"an injected command ran: {injected}"
    assert "Traceback" not in outcome.logs, outcome.logs[-3000:]


def test_the_table_covers_every_item_of_issue_12():
    assert len(CASES) >= 28


# ------------------------------------------------- follow-ups that need a case's outcome


def test_rebuild_command_in_the_message_really_rebuilds(outcomes):
    outcome, _ = outcomes["corrupt_memory_metadata"]
    assert outcome.extra["command"], outcome.logs
    assert outcome.extra["rebuild"] == (0, 0), outcome.extra


def test_failed_rerun_removed_output_and_provenance(outcomes):
    outcome, _ = outcomes["failed_rerun_leaves_no_provenance"]
    assert not [p for p in outcome.extra["left"] if "mnist_digit3.npz" in p], outcome.extra


def test_missing_local_folder_is_tried_once(outcomes):
    outcome, _ = outcomes["missing_local_folder"]
    assert outcome.output.count("Error in rule fetch") == 1, outcome.output[-4000:]
    assert "Trying to restart" not in outcome.output


def test_user_facing_job_errors_are_one_line(outcomes):
    for name in (
        "labels_outside_0_to_9",
        "nan_memory_column",
        "zero_memory_column",
        "missing_local_folder",
        "corrupt_memory_metadata",
    ):
        outcome, _ = outcomes[name]
        errors = [line for line in outcome.logs.splitlines() if " ERROR " in line]
        assert len(errors) == 1, (name, outcome.logs[-3000:])


# -------------------------------------------------------- in-process checks of the same


def test_diverged_sampler_names_beta_as_a_cause():
    from stochastic_attention.samplers import SamplerDivergedError, _raise_diverged

    with pytest.raises(SamplerDivergedError, match=r"beta=5000\.0.*lower alpha, or beta"):
        _raise_diverged(np.array([1.0, np.nan]), 7, 0.01, np.array([5000.0, 5000.0]))


def test_memory_step_refuses_a_nan_column_of_any_domain(tmp_path, monkeypatch):
    """The memory step's own check also covers plug-in domains that skip unit_columns."""
    from stochastic_attention.cli import main
    from stochastic_attention.domains import base

    class Careless:
        NAME = "careless"
        SOURCE_SCHEMA = None
        DATASET_SCHEMA: ClassVar[dict] = {"properties": {}}

        @staticmethod
        def build_memory(params, raw=None):
            memory = np.ones((4, 3))
            memory[1, 2] = np.inf
            return base.Memory(memory, {})

        @staticmethod
        def panel(states, memory):  # pragma: no cover - never drawn
            raise NotImplementedError

    monkeypatch.setattr(base, "_REGISTERED", dict(base._REGISTERED))
    base.register_domain(Careless)
    output = tmp_path / "memory.npz"
    params = json.dumps({"dataset": "odd", "spec": {"domain": "careless"}})
    with pytest.raises(base.DomainError, match=r"dataset odd \(careless memory\): column 2"):
        from stochastic_attention.cli import run_step

        run_step("memory", json.loads(params), {}, {"memory": output})
    assert main(["memory", "--params", params, "--output", f"memory={output}"]) == 1
    assert not output.exists() and not list(tmp_path.iterdir())


def test_download_retries_only_transient_failures(tmp_path):
    """A missing file:// file fails at once; an unreachable host is tried ``attempts`` times."""
    from stochastic_attention import download as dl

    calls = []
    original = dl._download_once

    def counting(*args, **kwargs):
        calls.append(args[0])
        return original(*args, **kwargs)

    dl._download_once = counting
    try:
        with pytest.raises(dl.DataSourceError, match="unreachable"):
            dl.download((tmp_path / "missing.gz").as_uri(), tmp_path / "x", backoff=0)
        assert len(calls) == 1
        calls.clear()
        with pytest.raises(dl.DataSourceError):
            dl.download("http://127.0.0.1:9/x.gz", tmp_path / "x", attempts=3, backoff=0)
        assert len(calls) == 3
    finally:
        dl._download_once = original
    assert not list(tmp_path.iterdir())


def test_a_config_file_is_code_note_exists():
    note = (REPO / "docs/config-safety.md").read_text()
    assert "YTE" in note and "^[A-Za-z0-9_]+$" in note


def test_yaml_check_names_file_line_and_key(tmp_path):
    from stochastic_attention.config import ConfigError, check_yaml_file

    path = tmp_path / "c.yaml"
    path.write_text("a: 1\nb:\n  c: 2\n  c: 3\n")
    with pytest.raises(ConfigError, match=r"key 'c' is written twice \(lines 3 and 4\)"):
        check_yaml_file(path)
    assert yaml.safe_load(path.read_text()) == {"a": 1, "b": {"c": 3}}  # what YAML would do
    path.write_text("a: [1\n")
    with pytest.raises(ConfigError, match=r"c\.yaml:2:1: YAML syntax error"):
        check_yaml_file(path)


def test_check_config_names_the_line_that_snakemake_hides(tmp_path):
    """Item 15's gap: ``stochastic-attention check-config`` gives file:line:column for the
    syntax error Snakemake reports without a position, and passes a valid config."""
    command = [sys.executable, "-m", "stochastic_attention", "check-config"]
    smoke = (REPO / "config/smoke.yaml").read_text()
    broken = tmp_path / "broken.yaml"
    broken.write_text(_yaml_syntax_error(smoke))
    line = _yaml_syntax_error(smoke).splitlines().index("replicates: [2") + 1
    result = subprocess.run([*command, str(broken)], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 1
    found = re.search(r"broken\.yaml:(\d+):\d+: YAML syntax error", result.stderr)
    assert found and line <= int(found.group(1)) <= line + 2, result.stderr
    assert "Traceback" not in result.stderr
    valid = subprocess.run(
        [*command, "config/smoke.yaml"], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert valid.stdout.startswith("config/smoke.yaml: valid — 11 datasets")
    typo = tmp_path / "typo.yaml"
    typo.write_text(smoke.replace("replicates: 2\n", "replicate: 2\n", 1))
    result = subprocess.run([*command, str(typo)], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 1 and "replicate" in result.stderr


def test_run_in_group_ends_grandchildren_on_timeout(tmp_path):
    """The helper every workflow test uses kills the whole process group, also on timeout."""
    marker = tmp_path / "alive"
    script = f"sleep 60 & echo $! > {marker}; wait"
    with pytest.raises(subprocess.TimeoutExpired):
        run_in_group(["sh", "-c", script], timeout=2)
    pid = int(marker.read_text())
    status = Path(f"/proc/{pid}/status")
    assert not status.exists() or "zombie" in status.read_text()
