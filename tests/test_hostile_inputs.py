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
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import zipfile
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
    """An ``array`` dataset of ``matrix`` saved as ``inputs/patterns.npy``."""
    buffer = io.BytesIO()
    np.save(buffer, matrix)
    return _file_dataset(workdir, "patterns.npy", buffer.getvalue())


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



# ------------------------------------------------- issue 23: builders of the new rows


def check_config_case(content: bytes | Callable[[str], str]) -> Callable[[Path], Outcome]:
    """``stochastic-attention check-config`` on a file: for what Snakemake reads before the
    pipeline's checks (a binary file, a YTE template), where only check-config can say more."""

    def run(workdir: Path) -> Outcome:
        text = (workdir / SMOKE).read_text()
        data = content if isinstance(content, bytes) else content(text).encode()
        (workdir / BAD).write_bytes(data)
        command = [sys.executable, "-m", "stochastic_attention", "check-config", BAD]
        result = run_in_group(command, cwd=workdir, env=environment(), timeout=300)
        return Outcome(result.returncode, result.stdout + result.stderr)

    return run


def sweep_of(experiment: str, sweep: dict) -> Callable[[dict], None]:
    """``experiment`` as a sweep over ``sweep`` (a comparison becomes a sweep)."""

    def change(config: dict) -> None:
        config["experiments"][experiment] |= {"kind": "sweep", "sweep": sweep}

    return change


def _file_dataset(workdir: Path, name: str, data: bytes, **extra) -> Outcome:
    """An ``array`` dataset read from ``inputs/<name>`` (``data``): its memory job's outcome."""
    (workdir / "inputs").mkdir(exist_ok=True)
    (workdir / "inputs" / name).write_bytes(data)
    config = load_config(workdir)
    config["datasets"]["user_patterns"] = {
        "domain": "array",
        "path": f"inputs/{name}",
        "layout": "columns",
        **extra,
    }
    write_config(workdir, config, "bad.yaml")
    target = "results/smoke/memory/array/user_patterns.npz"
    outcome = _snakemake(workdir, target, "--cores", "1", "--configfile", BAD)
    outcome.logs = _logs(workdir, "results/smoke/logs/memory/array/*.log")
    return outcome


def csv_first_line_with_na(workdir: Path) -> Outcome:
    """A first line with one non-number is data with a bad cell, not a header to drop."""
    return _file_dataset(workdir, "patterns.csv", b"NA,1,2\n3,4,5\n6,7,8\n2,2,9\n")


def npz_member_that_is_not_npy(workdir: Path) -> Outcome:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        with archive.open("X.npy", "w") as member:
            np.lib.format.write_array(member, np.eye(3))
        archive.writestr("notes.txt", "not an array")
    return _file_dataset(workdir, "patterns.npz", buffer.getvalue(), key="notes.txt")


def npy_header_claims_enormous_shape(workdir: Path) -> Outcome:
    """A header claiming 10⁵ × 10⁵ float64 (80 GB) over 80 bytes of data."""
    buffer = io.BytesIO()
    header = {"descr": "<f8", "fortran_order": False, "shape": (100_000, 100_000)}
    np.lib.format.write_array_header_1_0(buffer, header)
    return _file_dataset(workdir, "patterns.npy", buffer.getvalue() + bytes(80))


def nan_written_into_a_memory_file(workdir: Path) -> Outcome:
    """A memory damaged after it was built: named, with the command that rebuilds it."""
    build = _snakemake(workdir, MNIST_DIGIT3, "--cores", "1", "--configfile", SMOKE)
    assert build.returncode == 0, build.output[-3000:]
    path = workdir / MNIST_DIGIT3
    with np.load(path) as data:
        arrays = dict(data)
    arrays["memory"][0, 0] = np.nan
    np.savez(path, **arrays)
    sample = "results/smoke/samples/mnist/mnist_digit3/bootstrap.npz"
    outcome = _snakemake(workdir, sample, "--cores", "1", "--configfile", SMOKE)
    outcome.logs = _logs(workdir, "results/smoke/logs/sample/mnist/mnist_digit3/bootstrap.log")
    return outcome


def digits_in_a_protein_alignment(workdir: Path) -> Outcome:
    (workdir / "inputs").mkdir()
    rows = ["ACDEFGHIKLMNPQRSTVWY", "ACDEFGHIKLMNPQRSTVWB", "ACDEFGHIKLMNPQRST*XZ",
            "ACDEFGHIKLMNPQ7STVWY"]  # fmt: skip
    lines = [f"seq{i} {row}" for i, row in enumerate(rows)]
    (workdir / "inputs/family.sto").write_text("# STOCKHOLM 1.0\n" + "\n".join(lines) + "\n//\n")
    config = load_config(workdir)
    config["sources"]["protein"] = {"kind": "local", "path": "inputs/family.sto"}
    write_config(workdir, config, "bad.yaml")
    target = "results/smoke/memory/protein/protein_rrm.npz"
    outcome = _snakemake(workdir, target, "--cores", "1", "--configfile", BAD)
    outcome.logs = _logs(workdir, "results/smoke/logs/fetch/protein-*.log")
    return outcome


def more_heads_than_directions(workdir: Path) -> Outcome:
    """n_heads above the memory's rank: only the sample job can know (K = 20 → 19)."""
    config = load_config(workdir)
    config["methods"]["multihead"]["n_heads"] = 25
    write_config(workdir, config, "bad.yaml")
    target = "results/smoke/samples/mnist/mnist_digit3/multihead.npz"
    outcome = _snakemake(workdir, target, "--cores", "1", "--configfile", BAD)
    outcome.logs = _logs(workdir, "results/smoke/logs/sample/mnist/mnist_digit3/multihead.log")
    return outcome


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
    # ------------------------------------------------------------------ issue 23
    # silent before: a sweep key is a key of the method's block
    Case(
        "sweep_key_typo",
        config_case(sweep_of("E11", {"method.alpah": [0.005, 0.1]})),
        r"experiments\.E11\.sweep\.method\.alpah: method 'sa_retrieval' \(kind sa\) has no "
        r"key 'alpah'; did you mean 'method\.alpha'\?",
    ),
    Case(
        "sweep_value_out_of_range",
        config_case(sweep_of("E11", {"method.alpha": [-1, 2]})),
        r"experiments\.E11\.sweep\.method\.alpha = -1 \(method 'sa_retrieval'\): alpha: -1 is "
        r"less than or equal to the minimum of 0",
    ),
    Case(
        "sweep_value_that_is_an_unknown_protocol",
        config_case(sweep_of("E7", {"method.protocol": ["nope"]})),
        r"experiments\.E7\.sweep\.method\.protocol = 'nope'.*no protocol 'nope' under "
        r"'protocols'",
    ),
    Case(
        "nan_beta",
        config_case(set_key("methods", "sa_retrieval", "beta", float("nan"))),
        r"methods\.sa_retrieval\.beta: nan is not a finite number",
    ),
    Case(
        "n_samples_written_as_a_float",
        config_case(set_key("methods", "bootstrap", "n_samples", 50.0)),
        r"methods\.bootstrap\.n_samples: 50\.0 is not an integer; write 50",
    ),
    Case(
        "name_of_300_characters",
        config_case(rename_experiment("E4", "E" * 300)),
        r"experiments: the name 'E{20}'… has 300 characters; names may have at most 64",
    ),
    Case(
        "image_size_beyond_the_limit",
        config_case(add("datasets", "huge", {"domain": "images", "path": "inputs",
                                             "size": [100_000, 100_000]})),
        r"datasets\.huge\.size\.0: 100000 is greater than the maximum of 2048",
    ),
    # read before the pipeline's checks by Snakemake: check-config names them
    Case(
        "binary_config_file",
        check_config_case(bytes(range(128, 256)) * 8),
        r"config/bad\.yaml is not a text file: byte 0 is not UTF-8",
    ),
    Case(
        "yte_template",
        check_config_case(lambda text: "__use_yte__: true\n" + text),
        r"config/bad\.yaml is a YTE template \(__use_yte__: true\): Snakemake runs the Python "
        r"code in it when it reads the file, for `snakemake -n` and `--lint` too",
    ),
    Case(
        "top_level_scalar",
        check_config_case(b"42\n"),
        r"the top level must be a mapping of keys \(seed: …, datasets: …\), not a number",
    ),
    # job time: only the job can know, and it says so in one line
    Case(
        "csv_first_line_with_na",
        csv_first_line_with_na,
        r"inputs/patterns\.csv: is not a numeric CSV: line 1, column 1 holds 'NA'",
    ),
    Case(
        "npz_member_that_is_not_npy",
        npz_member_that_is_not_npy,
        r"inputs/patterns\.npz: member 'notes\.txt' is not a \.npy array",
    ),
    Case(
        "npy_header_claims_enormous_shape",
        npy_header_claims_enormous_shape,
        r"inputs/patterns\.npy: has a header that claims shape \(100000, 100000\) "
        r"\(80,000,000,000 bytes\) but only 80 bytes of data follow",
    ),
    Case(
        "nan_written_into_a_memory_file",
        nan_written_into_a_memory_file,
        r"memory file results/smoke/memory/mnist/mnist_digit3\.npz holds NaN or inf in column "
        r"0, so it was damaged after it was built; rebuild it with `snakemake "
        r"results/smoke/memory/mnist/mnist_digit3\.npz --force",
    ),
    Case(
        "digits_in_a_protein_alignment",
        digits_in_a_protein_alignment,
        r"inputs/family\.sto: sequence seq3 holds '7' at column 15, which is neither a residue "
        r"letter nor a gap",
    ),
    Case(
        "more_heads_than_directions",
        more_heads_than_directions,
        r"n_heads=25 exceeds the 19 principal directions of this memory",
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


ISSUE_12 = {
    "1 a config value runs a shell command": [
        "experiment_name_with_backticks",
        "experiment_name_with_semicolon",
        "dataset_name_with_command_substitution",
        "method_name_with_semicolon_in_e4",
        "protocol_name_with_space",
        "plugin_that_is_shell_code",
    ],
    "2 writes outside results/": [
        "experiment_name_escaping_results",
        "experiment_name_that_is_a_bad_regex",
        "reserved_double_underscore_in_a_name",
        "results_dir_outside_the_working_directory",
        "absolute_results_dir",
        "download_name_with_dot_dot",
        "absolute_download_name",
    ],
    "3 downloads unverified by default": [
        "test_mnist_source.py::test_canonical_files_are_checked_by_default"
    ],
    "4 a key written twice": ["dataset_written_twice", "test_yaml_check_names_file_line_and_key"],
    "5 a method name that matches no rule": ["method_name_with_semicolon_in_e4"],
    "6 IDX labels outside 0-9": ["labels_outside_0_to_9"],
    "7 cross-field constraints before any job": [
        "burn_in_not_below_n_steps",
        "keep_more_than_snapshots",
        "typo_inside_train",
        "typo_at_the_top_level",
    ],
    "8 corrupt memory metadata": ["corrupt_memory_metadata"],
    "9 a rebuild command that rebuilds": [
        "corrupt_memory_metadata",
        "test_rebuild_command_in_the_message_really_rebuilds",
    ],
    "10 NaN and zero memory columns": [
        "nan_memory_column",
        "zero_memory_column",
        "test_memory_step_refuses_a_nan_column_of_any_domain",
    ],
    "11 stale provenance": [
        "failed_rerun_leaves_no_provenance",
        "test_failed_rerun_removed_output_and_provenance",
    ],
    "12 retry only what can succeed": [
        "missing_local_folder",
        "test_missing_local_folder_is_tried_once",
        "test_download_retries_only_transient_failures",
    ],
    "13 one line, not a traceback": ["missing_config_file", "read_only_results", "full_disk"],
    "14 beta named as a cause of divergence": [
        "test_diverged_sampler_names_beta_as_a_cause"
    ],
    "15 YAML syntax errors with a position": [
        "yaml_syntax_error",
        "test_check_config_names_the_line_that_snakemake_hides",
    ],
    "16 tests end their processes": ["test_run_in_group_ends_grandchildren_on_timeout"],
}
"""Every item of issue 12 → the rows of :data:`CASES` or the tests that cover it."""

ISSUE_23 = {
    "silent: a sweep key typo": [
        "sweep_key_typo",
        "test_a_typo_in_any_key_a_sweep_can_name_is_refused",
    ],
    "silent: a CSV first line dropped as a header": [
        "csv_first_line_with_na",
        "test_a_csv_header_is_taken_only_when_every_cell_is_a_name",
    ],
    "silent: a newline in a title": ["test_a_title_with_newlines_stays_one_line_everywhere"],
    "silent: a file edited in place": [
        "test_user_data.py::test_edited_inputs_rerun_exactly_their_dependents"
    ],
    "silent: day-first dates": ["test_finance_dates_are_read_one_way_only"],
    "silent: a ticker dropped for a missing price": ["test_a_dropped_ticker_is_logged_and_noted"],
    "outside: YTE templates": ["yte_template"],
    "outside: results_dir through a symlink": [
        "test_check_config_names_where_a_symlinked_results_dir_writes"
    ],
    "non-finite numbers": ["nan_beta", "test_config_check_refuses"],
    "out-of-range or unknown sweep values": [
        "sweep_value_out_of_range",
        "sweep_value_that_is_an_unknown_protocol",
        "test_config_check_refuses",
    ],
    "n_samples: 50.0": ["n_samples_written_as_a_float"],
    "n_heads above the memory's rank": ["more_heads_than_directions"],
    "enormous sizes": ["image_size_beyond_the_limit", "npy_header_claims_enormous_shape"],
    "legal YAML refused, binary file, top-level scalar": [
        "test_merge_keys_and_a_trailing_slash_in_results_dir_are_legal",
        "binary_config_file",
        "top_level_scalar",
    ],
    "names too long": ["name_of_300_characters", "test_config_check_refuses"],
    "results_dir: results/": ["test_merge_keys_and_a_trailing_slash_in_results_dir_are_legal"],
    "a column of 1e308": ["test_a_column_near_the_float_limit_is_normalised_correctly"],
    "an npz member that is not npy": ["npz_member_that_is_not_npy"],
    "NaN written into a memory file": ["nan_written_into_a_memory_file"],
    "protein letters outside the alphabet": [
        "digits_in_a_protein_alignment",
        "test_protein_letters_outside_the_20_amino_acids",
    ],
    "a server that closes without answering": [
        "test_download_retries_a_server_that_closes_without_answering"
    ],
    "a server trickling bytes": ["test_download_cuts_off_a_trickling_server"],
}
"""Every case of issue 23 → the rows of :data:`CASES` or the tests that cover it."""


def _exists(reference: str) -> bool:
    """A row of CASES or CHECK_CASES, a test of this module, or ``file.py::test`` in tests/."""
    if "::" in reference:
        module, name = reference.split("::")
        return f"\ndef {name}(" in (Path(__file__).parent / module).read_text()
    rows = {case.id for case in CASES} | {case.id for case in CHECK_CASES}
    return reference in rows or callable(globals().get(reference))


def test_the_table_covers_every_item_of_issues_12_and_23():
    ids = [case.id for case in CASES] + [case.id for case in CHECK_CASES]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert len(ISSUE_12) == 16
    for issue in (ISSUE_12, ISSUE_23):
        for item, references in issue.items():
            assert references, item
            missing = [r for r in references if not _exists(r)]
            assert not missing, (item, missing)


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

    monkeypatch.setattr(base.REGISTRY, "entries", dict(base.REGISTRY.entries))
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

    def ended() -> bool:  # gone, or a zombie waiting for init to reap it
        try:
            return "zombie" in status.read_text()
        except FileNotFoundError:
            return True

    deadline = time.monotonic() + 10  # SIGKILL is delivered at the next scheduling (sleep 60)
    while not ended() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ended(), status.read_text()


# ------------------------------------------ issue 23: config checks, in process (fast)

SCHEMA = REPO / "workflow/schemas/config.schema.yaml"


def _smoke() -> dict:
    return yaml.safe_load((REPO / SMOKE).read_text())


def _prepare(config: dict) -> dict:
    from stochastic_attention.config import prepare

    return prepare(config, schema_path=SCHEMA)


@dataclass(frozen=True)
class CheckCase:
    """A change to the smoke config that the check a run makes (config.prepare) refuses."""

    id: str
    change: Callable[[dict], None]
    message: str


NAN, INF = float("nan"), float("inf")
CHECK_CASES = [
    # every number is finite, wherever the schema says number (one rule in the validator)
    CheckCase("inf_critical_beta", set_key("methods", "sa_critical", "beta", {"critical": INF}),
              r"methods\.sa_critical\.beta\.critical: inf is not a finite number"),
    CheckCase("nan_snr_alpha", set_key("methods", "sa_faces", "beta", {"snr": 0.1, "alpha": NAN}),
              r"methods\.sa_faces\.beta\.alpha: nan is not a finite number"),
    CheckCase("nan_energy_beta_of_an_experiment", set_key("experiments", "E8", "energy_beta", NAN),
              r"experiments\.E8\.energy_beta: nan is not a finite number"),
    CheckCase("nan_energy_beta_of_a_method", set_key("methods", "gaussian", "energy_beta", -INF),
              r"methods\.gaussian\.energy_beta: -inf is not a finite number"),
    CheckCase("nan_protocol_value", set_key("protocols", "multi_chain", "init_noise", NAN),
              r"protocols\.multi_chain\.init_noise: nan is not a finite number"),
    CheckCase("inf_synthetic_experiment_key", set_key("experiments", "E1", "beta_max", INF),
              r"experiments\.E1\.beta_max: inf is not a finite number"),
    CheckCase("nan_domain_key", set_key("datasets", "protein_rrm", "variance", NAN),
              r"datasets\.protein_rrm\.variance: nan is not a finite number"),
    CheckCase("nan_source_key", set_key("sources", "finance", "timeout", INF),
              r"sources\.finance\.timeout: inf is not a finite number"),
    CheckCase("nan_spectrum_beta", set_key("experiments", "E6", "betas", [2000, NAN]),
              r"experiments\.E6\.betas\.1: nan is not a finite number"),
    CheckCase("nan_sweep_value", sweep_of("E11", {"method.alpha": [0.01, NAN]}),
              r"experiments\.E11\.sweep\.method\.alpha = nan \(method 'sa_retrieval'\): alpha: "
              r"nan is not a finite number"),
    # integers are written as integers
    CheckCase("protocol_steps_as_a_float", set_key("protocols", "multi_chain", "n_steps", 400.0),
              r"protocols\.multi_chain\.n_steps: 400\.0 is not an integer; write 400"),
    CheckCase("seed_as_a_float", set_key("seed", 7.0), r"at seed: 7\.0 is not an integer"),
    # the β* criterion every {critical: c} takes: a typo is refused, not read as the default
    CheckCase("beta_criterion_typo", set_key("beta_criterion", "knees"),
              r"beta_criterion: 'knees' is not one of \['inflection', 'knee'\]"),
    # a sweep point is the block with one key replaced, checked like a written block
    CheckCase("sweep_value_of_an_unknown_enum", sweep_of("E11", {"method.backend": ["jax"]}),
              r"experiments\.E11\.sweep\.method\.backend = 'jax' \(method 'sa_retrieval'\): "
              r"backend: 'jax' is not one of \['numpy', 'torch'\]"),
    CheckCase("sweep_value_below_the_minimum", sweep_of("E13", {"dataset.n_patterns": [20, 1]}),
              r"experiments\.E13\.sweep\.dataset\.n_patterns = 1 \(dataset 'mnist_digit3'\): "
              r"n_patterns: 1 is less than the minimum of 2"),
    CheckCase("sweep_value_of_the_wrong_type", sweep_of("E16", {"method.n_heads": ["two"]}),
              r"experiments\.E16\.sweep\.method\.n_heads = 'two' \(method 'multihead'\): "
              r"n_heads: 'two' is not of type 'integer'"),
    CheckCase("sweep_of_a_dataset_key_typo", sweep_of("E13", {"dataset.n_patternz": [20]}),
              r"experiments\.E13\.sweep\.dataset\.n_patternz: dataset 'mnist_digit3' \(domain "
              r"mnist\) has no key 'n_patternz'; did you mean 'dataset\.n_patterns'\?"),
    CheckCase("sweep_of_a_key_a_baseline_lacks", sweep_of("E5", {"method.beta": [200]}),
              r"has no key 'beta'"),
    CheckCase("sweep_that_changes_a_kind", sweep_of("E11", {"method.kind": ["mala"]}),
              r"experiments\.E11\.sweep\.method\.kind: a sweep cannot change a method's kind"),
    CheckCase("sweep_of_a_reference_to_an_unknown_dataset",
              sweep_of("E15", {"method.train_dataset": ["nowhere"]}),
              r"experiments\.E15\.sweep\.method\.train_dataset = 'nowhere'.*unknown dataset "
              r"'nowhere'"),
    CheckCase("spectrum_of_a_method_without_beta", set_key("experiments", "E6", "method",
                                                           "bootstrap"),
              r"experiments\.E6\.betas: method 'bootstrap' \(kind bootstrap\) has no key 'beta'"),
    # names and file names fit the file system
    CheckCase("name_of_65_characters", add("datasets", "d" * 65,
                                           {"domain": "mnist", "digit": 3, "n_patterns": 20}),
              r"datasets: the name 'd{20}'… has 65 characters; names may have at most 64"),
    CheckCase("derived_file_name_too_long", sweep_of("E11", {"method.label": ["x" * 240]}),
              r"the file name '(sa|mala)_retrieval__label_x+'… .* has \d+ characters; the "
              r"pipeline keeps file names below 215"),
]


@pytest.mark.parametrize("case", CHECK_CASES, ids=[case.id for case in CHECK_CASES])
def test_config_check_refuses(case):
    from stochastic_attention.config import ConfigError

    config = _smoke()
    case.change(config)
    with pytest.raises(ConfigError, match=case.message) as error:
        _prepare(config)
    assert "\n" not in str(error.value)


def _method_blocks() -> dict[str, tuple[str, dict]]:
    """One written block per registered method kind: kind → (name in smoke, block)."""
    from stochastic_attention.methods.base import method_kinds

    blocks = {}
    for name, block in _smoke()["methods"].items():
        blocks.setdefault(block["kind"], (name, block))
    missing = set(method_kinds()) - set(blocks)
    assert not missing, f"add a method of kind {missing} to the smoke config or to this test"
    return blocks


EXTRA_DATASETS = {
    "synthetic": {"domain": "synthetic", "d": 16, "n_patterns": 8},
    "array": {"domain": "array", "path": "data/x.npy", "layout": "rows"},
    "images": {"domain": "images", "path": "data/pictures", "size": [8, 8]},
}


def _dataset_blocks() -> dict[str, dict]:
    """One written block per registered domain: domain → block."""
    from stochastic_attention.domains.base import domain_names

    blocks = dict(EXTRA_DATASETS)
    for block in _smoke()["datasets"].values():
        blocks.setdefault(block["domain"], block)
    missing = set(domain_names()) - set(blocks)
    assert not missing, f"add a dataset of domain {missing} to EXTRA_DATASETS"
    return blocks


def _typo(key: str, keys: list[str]) -> str:
    """A plausible typo of ``key`` that is no key: its last two letters swapped, or doubled."""
    swapped = key[:-2] + key[-1] + key[-2] if len(key) > 1 else key
    for typo in (swapped, key + key[-1]):
        if typo != key and typo not in keys:
            return typo
    raise AssertionError(key)  # pragma: no cover


def test_a_typo_in_any_key_a_sweep_can_name_is_refused():
    """Every key of every method kind and domain, read from the composed schema: a sweep over
    the key itself (with the block's own value) passes; over a typo of it, the check refuses
    it naming the experiment, the key and the intended one."""
    from stochastic_attention.config import ConfigError, _block_keys, compose_schema

    schema = compose_schema(SCHEMA)
    walked = 0
    for section, blocks in (("methods", _method_blocks()), ("datasets", _dataset_blocks())):
        target = section[:-1]
        for kind, entry in blocks.items():
            name, block = entry if section == "methods" else (f"walk_{kind}", entry)
            keys = [k for k in _block_keys(schema, section, block) if k not in ("kind", "domain")]
            assert keys, (section, kind)
            for key in keys:
                config = _smoke()
                if section == "datasets":
                    config["datasets"][name] = block
                datasets = [name] if section == "datasets" else ["mnist_digit3"]
                if section == "methods" and kind in ("hmm_emission", "shuffled"):
                    datasets = ["protein_rrm"]
                elif section == "methods" and kind in ("garch", "mvn_gaussian"):
                    datasets = ["sp500"]
                methods = [name] if section == "methods" else ["sa_generation"]
                typo = _typo(key, keys)
                config["experiments"] = {
                    "walk": {"kind": "sweep", "datasets": datasets, "methods": methods,
                             "energy_beta": 200, "sweep": {f"{target}.{typo}": [1]}}
                }
                with pytest.raises(ConfigError) as error:
                    _prepare(config)
                message = str(error.value)
                assert message.startswith(f"experiments.walk.sweep.{target}.{typo}: "), message
                assert f"has no key '{typo}'" in message, message
                assert f"did you mean '{target}.{key}'?" in message, message
                walked += 1
    assert walked >= 40, walked


def test_a_sweep_over_a_key_with_valid_values_passes():
    """The positive control of the walk: real sweeps of the smoke config pass, a new one too."""
    config = _smoke()
    config["experiments"]["E11"]["sweep"] = {"method.alpha": [0.005, 0.02], "method.dtype":
                                             ["float32"]}
    config["experiments"]["E13"]["sweep"] = {"dataset.n_patterns": [20, 30],
                                             "dataset.digit": [3, 5]}
    _prepare(config)


def test_merge_keys_and_a_trailing_slash_in_results_dir_are_legal(tmp_path):
    """Legal YAML that the strict loader refused (``<<: *anchor``), and ``results/smoke/``:
    a real dry run plans an explicit target, with no '//' paths; a duplicate key beside a
    merge key is still refused."""
    from stochastic_attention.config import ConfigError, check_yaml_file

    workdir = copy_workflow(tmp_path / "wf")
    text = (workdir / SMOKE).read_text()
    written = "  sa_generation: {kind: sa, alpha: 0.01, beta: 200, label: SA}\n"
    single = '  sa_single: {kind: sa, alpha: 0.01, beta: 200, protocol: single_chain, label: "SA, one chain"}\n'  # noqa: E501
    assert written in text and single in text
    text = text.replace(written, written.replace("sa_generation: {", "sa_generation: &sa200 {"))
    text = text.replace(single, '  sa_single: {<<: *sa200, protocol: single_chain, label: "SA, one chain"}\n')  # noqa: E501
    text = text.replace("results_dir: results/smoke\n", "results_dir: results/smoke/\n")
    (workdir / BAD).write_text(text)
    assert check_yaml_file(workdir / BAD) == yaml.safe_load(text)
    outcome = _snakemake(workdir, "results/smoke/tables/E7.csv", "-n", "--configfile", BAD)
    assert outcome.returncode == 0, outcome.output[-3000:]
    assert "results/smoke//" not in outcome.output and "experiment_table" in outcome.output
    duplicate = tmp_path / "duplicate.yaml"
    duplicate.write_text("base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n  y: 3\n")
    with pytest.raises(ConfigError, match=r"key 'y' is written twice \(lines 4 and 5\)"):
        check_yaml_file(duplicate)


def test_check_config_names_where_a_symlinked_results_dir_writes(tmp_path):
    """A results_dir through a symlink is allowed (results on a big disk); check-config
    prints where the files really go."""
    workdir = copy_workflow(tmp_path / "wf")
    (tmp_path / "big_disk").mkdir()
    (workdir / "results").symlink_to(tmp_path / "big_disk")
    command = [sys.executable, "-m", "stochastic_attention", "check-config", SMOKE]
    result = run_in_group(command, cwd=workdir, env=environment(), timeout=300)
    assert result.returncode == 0, result.stderr
    real = (tmp_path / "big_disk").resolve()
    assert f"results in results/smoke/ (a symlink: files go to {real}/smoke/)" in result.stdout


def test_a_title_with_newlines_stays_one_line_everywhere(tmp_path):
    """A title (or label) with line breaks: one line in the config the rules read, and the
    table writers keep any text on one line (Markdown heading and rows, the LaTeX comment)."""
    import pandas as pd

    from stochastic_attention.report import tables

    hostile = "E4\n\\input{/etc/passwd}\n## Fake heading\n| 1 | 2 |"
    config = _smoke()
    config["experiments"]["E4"]["title"] = hostile
    config["methods"]["sa_retrieval"]["label"] = "SA\n| injected | row |"
    _prepare(config)
    assert config["experiments"]["E4"]["title"] == " ".join(hostile.split())
    assert "\n" not in config["methods"]["sa_retrieval"]["label"]

    table = pd.DataFrame({"method": ["SA\n| injected | row |"], "novelty": [0.5]})
    paths = {s: tmp_path / f"t.{s}" for s in ("csv", "md", "tex", "html")}
    tables.write_table(table, paths["csv"], paths["md"], title=hostile,
                       latex_path=paths["tex"], html_path=paths["html"])
    tables.write_document(hostile, [("", table)], markdown_path=tmp_path / "d.md",
                          latex_path=tmp_path / "d.tex")
    for path in (paths["md"], tmp_path / "d.md"):
        lines = path.read_text().splitlines()
        assert sum(line.startswith("#") for line in lines) == 1, lines
        assert sum(line.startswith("|") for line in lines) == 3, lines  # head, rule, one row
    for path in (paths["tex"], tmp_path / "d.tex"):
        live = [line for line in path.read_text().splitlines() if not line.startswith("%")]
        assert not any("\\input" in line for line in live), live
    assert "<h" not in paths["html"].read_text().split("<body>")[1].split("<table")[0]


def test_a_csv_header_is_taken_only_when_every_cell_is_a_name(tmp_path):
    from stochastic_attention.domains import array

    def read(text: str):
        path = tmp_path / "x.csv"
        path.write_text(text)
        return array.build_memory({"path": str(path), "layout": "rows"})

    named = read("a,b,c\n1,2,3\n4,5,7\n")
    assert named.patterns.shape == (3, 2) and named.metadata["csv_header"] == ["a", "b", "c"]
    assert "line 1 of" in named.metadata["notes"][0] and "header of 3 column names" in (
        named.metadata["notes"][0]
    )
    assert read("1,2,3\n4,5,7\n").metadata["notes"] == []
    for first, shown in (("NA,1,2", "'NA'"), ("1,,2", "''"), ("0x1F,1,2", "'0x1F'"),
                         ("NA,NA,NA", "'NA'")):
        with pytest.raises(array.DomainError, match=rf"line 1, column \d holds {shown}"):
            read(f"{first}\n3,4,5\n6,7,8\n")


def test_a_column_near_the_float_limit_is_normalised_correctly(tmp_path):
    """A column of 1e308 overflowed ‖x‖ and became zeros ('all zeros'); now it is the unit
    vector of its direction, and ordinary columns are unchanged to the last bit."""
    from stochastic_attention.domains import array

    matrix = np.random.default_rng(0).normal(size=(6, 4))
    matrix[:, 1] = [1e308, -1e308, 1e308, 1e308, 0, 0]
    np.save(tmp_path / "x.npy", matrix)
    memory = array.build_memory({"path": str(tmp_path / "x.npy"), "layout": "columns"}).patterns
    np.testing.assert_allclose(memory[:, 1], [0.5, -0.5, 0.5, 0.5, 0, 0], rtol=1e-15)
    others = matrix[:, [0, 2, 3]]
    assert np.array_equal(memory[:, [0, 2, 3]], others / np.linalg.norm(others, axis=0))


def _prices(tmp_path: Path, dates: list[str], missing: int | None = None) -> Path:
    path = tmp_path / "prices.csv"
    lines = ["Date,AAA,BBB,CCC"]
    for i, day in enumerate(dates):
        third = "" if i == missing else f"{5 + i}"
        lines.append(f"{day},{10 + i},{20 - i / 2},{third}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_finance_dates_are_read_one_way_only(tmp_path):
    """25/03/2022 was parsed day-first and 03/04/2022 month-first in the same file."""
    from stochastic_attention.domains import finance

    day_first = ["24/03/2022", "25/03/2022", "28/03/2022", "01/04/2022", "04/04/2022"]
    path = _prices(tmp_path, day_first)
    out = tmp_path / "raw.npz"
    with pytest.raises(finance.DomainError, match=r"row 2: '24/03/2022' in column 'Date' is not "
                       r"a YYYY-MM-DD date, and day-first and month-first cannot be told apart"):
        finance.fetch({"kind": "local", "path": str(path)}, out)
    assert not out.exists()
    finance.fetch({"kind": "local", "path": str(path), "date_format": "%d/%m/%Y"}, out)
    dates = finance.load_raw(out)[2].tolist()
    assert dates == ["2022-03-24", "2022-03-25", "2022-03-28", "2022-04-01", "2022-04-04"]
    with pytest.raises(finance.DomainError, match=r"'24/03/2022' .* does not match date_format"):
        finance.fetch({"kind": "local", "path": str(path), "date_format": "%m/%d/%Y"}, out)
    iso = _prices(tmp_path, ["2022-03-24", "2022-03-25", "2022-03-28"])
    finance.fetch({"kind": "local", "path": str(iso)}, out)  # ISO needs no format


def test_a_dropped_ticker_is_logged_and_noted(tmp_path, caplog):
    """One missing price drops the ticker (returns need every day): the fetch job logs it,
    and every table of the dataset says so under the table."""
    from stochastic_attention.domains import finance
    from stochastic_attention.report import experiment_tables

    path = _prices(tmp_path, ["2022-03-24", "2022-03-25", "2022-03-28", "2022-03-29"], missing=2)
    with caplog.at_level("WARNING", logger="stochastic_attention"):
        provenance = finance.fetch({"kind": "local", "path": str(path)}, tmp_path / "raw.npz")
    assert provenance["tickers"] == ["AAA", "BBB"]
    (note,) = provenance["notes"]
    assert "ticker CCC" in note and "1 of 4 days missing (first 2022-03-28)" in note
    assert note in caplog.text
    params = {"experiment": "E9", "title": "E9", "rows": [
        {"dataset": "sp500", "method": "bootstrap", "_dataset": "sp500", "_method": "bootstrap"}]}
    record = {"novelty": 0.1, "novelty_se": 0.01, "notes": [note]}
    table, paired = experiment_tables.build(params, [record], [])
    outputs = {s: tmp_path / f"E9.{s}" for s in ("csv", "md", "tex", "html")}
    experiment_tables.write(params, table, paired, outputs)
    assert f"sp500: {note}" in outputs["md"].read_text()
    assert "ticker CCC" in outputs["html"].read_text()


def test_protein_letters_outside_the_20_amino_acids(tmp_path):
    """B J O U X Z and * are read ('other': all zeros, SPEC §5) and HMMER takes them; a digit
    or punctuation is refused when the file is read, naming sequence and column."""
    from stochastic_attention.domains import protein
    from stochastic_attention.domains.protein_hmm import build_hmm, search

    names, rows = protein.read_alignment(
        b"# STOCKHOLM 1.0\ns1 ACDEFGHIKL\ns2 ACDBZXJOU*\ns3 AC.EF~HIKL\n//\n", "stockholm", "f"
    )
    assert rows.tolist() == ["ACDEFGHIKL", "ACDBZXJOU*", "AC-EF-HIKL"]
    assert not protein.one_hot(["BZXJOU*"]).any()
    hmm = build_hmm(list(rows), list(names))
    assert search(hmm, ["ACDBZXJOU*"], z=1000, evalue=0.01).passed.shape == (1,)
    for bad in ("ACDEF1HIKL", "ACDEF#HIKL", "ACDEF?HIKL"):
        data = f"# STOCKHOLM 1.0\ns1 ACDEFGHIKL\ns2 {bad}\n//\n".encode()
        with pytest.raises(protein.DataSourceError, match=r"sequence s2 holds '.' at column 6"):
            protein.read_alignment(data, "stockholm", "f")


# ---------------------------------------------------- network: misbehaving local servers


class _Server:
    """A local TCP server that answers every connection with ``handle(connection)``."""

    def __init__(self, handle: Callable[[socket.socket], None]) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.connections = 0
        self.handle = handle
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/file.gz"

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            with connection:
                connection.recv(65536)  # the request
                try:
                    self.handle(connection)
                except OSError:
                    pass

    def close(self) -> None:
        self.listener.close()


def test_download_retries_a_server_that_closes_without_answering(tmp_path):
    from stochastic_attention import download as dl

    server = _Server(lambda connection: None)  # read the request, close, say nothing
    try:
        with pytest.raises(dl.DataSourceError, match=r"closed the connection without a valid "
                           r"answer.*Retry later") as error:
            dl.download(server.url, tmp_path / "x.gz", attempts=3, backoff=0, timeout=5)
        assert server.connections == 3  # transient: retried
    finally:
        server.close()
    assert "\n" not in str(error.value) and not list(tmp_path.iterdir())


def test_download_cuts_off_a_trickling_server(tmp_path):
    """One byte every 0.1 s is within any per-read timeout; the deadline ends it."""
    from stochastic_attention import download as dl

    def trickle(connection: socket.socket) -> None:
        connection.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 100000\r\n\r\n")
        for _ in range(600):
            connection.sendall(b"x")
            time.sleep(0.1)

    server = _Server(trickle)
    start = time.monotonic()
    try:
        with pytest.raises(dl.DataSourceError, match=r"bytes arrived before the overall "
                           r"deadline"):
            dl.download(server.url, tmp_path / "x.gz", attempts=1, timeout=5, deadline=1.5)
    finally:
        server.close()
    assert time.monotonic() - start < 10
    assert not list(tmp_path.iterdir())
