"""scripts/compare_results.py on folders written by the project's own table writer.

Each test changes one thing between two copies of a small results folder and checks what
the script says and its exit status: identical folders pass, a changed cell, array value,
metadata entry or missing file fails, and wall-time columns and keys are reported as
expected differences without failing.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stochastic_attention.report.tables import write_table

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "compare_results.py"


def _load():
    spec = importlib.util.spec_from_file_location("compare_results", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


compare_results = _load()


def write_results(folder: Path, *, novelty=0.1478571406, seconds=1.25, value=0.5,
                  sampling_seconds=0.127, acceptance=0.99) -> Path:  # fmt: skip
    """A results folder: one table in four formats, a samples file, a metrics file."""
    (folder / "tables").mkdir(parents=True)
    table = pd.DataFrame(
        {
            "dataset": ["mnist_digit3", "mnist_digit3"],
            "method": ["SA", "DDPM"],
            "novelty": [novelty, 0.2],
            "novelty_se": [0.0019, 0.003],
            "seconds": [seconds, 80.5],
        }
    )
    write_table(
        table,
        folder / "tables" / "E13.csv",
        folder / "tables" / "E13.md",
        title="E13: scaling",
        latex_path=folder / "tables" / "E13.tex",
        html_path=folder / "tables" / "E13.html",
    )
    samples = folder / "samples" / "mnist" / "mnist_digit3"
    samples.mkdir(parents=True)
    metadata = {"beta": 2000.0, "sampling_seconds": sampling_seconds, "seeds": {"start": [1, 2]}}
    np.savez(
        samples / "sa.npz",
        samples=np.array([[value, 1.0], [np.nan, 2.0]]),
        groups=np.array([0, 1]),
        metadata=json.dumps(metadata),
    )
    (samples / "sa.npz.provenance.json").write_text(json.dumps({"wall_seconds": seconds}))
    metrics = folder / "metrics" / "mnist" / "mnist_digit3"
    metrics.mkdir(parents=True)
    (metrics / "sa.json").write_text(json.dumps({"novelty": novelty, "acceptance": acceptance}))
    (folder / "logs").mkdir()
    (folder / "logs" / "sa.log").write_text(f"took {seconds} s\n")
    return folder


def run(capsys, before: Path, after: Path, *options: str) -> tuple[int, str]:
    status = compare_results.main([str(before), str(after), *options])
    return status, capsys.readouterr().out


def test_identical_folders_pass(tmp_path, capsys):
    before = write_results(tmp_path / "before")
    after = tmp_path / "after"
    shutil.copytree(before, after)
    status, out = run(capsys, before, after)
    assert status == 0
    assert "6 files compared in both folders: identical (0 differences, 0 expected)" in out


def test_wall_times_are_expected_differences(tmp_path, capsys):
    """seconds in every table format, sampling_seconds in the metadata; logs and provenance
    (which hold wall times too) are not compared at all."""
    before = write_results(tmp_path / "before")
    after = write_results(tmp_path / "after", seconds=2.5, sampling_seconds=0.2)
    status, out = run(capsys, before, after)
    assert status == 0, out
    assert "identical (0 differences, 5 expected)" in out
    assert "tables/E13.csv row 1 (mnist_digit3, SA) column 'seconds': '1.25' -> '2.5'" in out
    assert "column 'wall time (s)'" in out  # the Markdown, LaTeX and HTML header label
    assert "samples/mnist/mnist_digit3/sa.npz[metadata].sampling_seconds: 0.127 -> 0.2" in out
    assert "logs/" not in out and "provenance" not in out


def test_a_changed_cell_fails_and_is_named(tmp_path, capsys):
    before = write_results(tmp_path / "before")
    after = write_results(tmp_path / "after", novelty=0.1478571407)
    status, out = run(capsys, before, after)
    assert status == 1
    assert (
        "tables/E13.csv row 1 (mnist_digit3, SA) column 'novelty': '0.1478571406' -> "
        "'0.1478571407'" in out
    )
    assert "metrics/mnist/mnist_digit3/sa.json.novelty: 0.1478571406 -> 0.1478571407" in out
    assert "DIFFERENT (2 differences" in out  # the rounded text tables show the same value


def test_array_values_metadata_and_missing_files_fail(tmp_path, capsys):
    before = write_results(tmp_path / "before")
    after = write_results(tmp_path / "after", value=0.5 + 1e-16 * 5)
    status, out = run(capsys, before, after)
    assert status == 1
    assert "sa.npz[samples]: 1 of 4 values differ, largest |difference| 5.55e-16" in out
    assert "[groups]" not in out  # NaN equals NaN, unchanged arrays are not reported
    (after / "tables" / "E13.tex").unlink()
    status, out = run(capsys, before, after)
    assert status == 1 and "tables/E13.tex: only in" in out
    status, out = run(capsys, before, after, "--exclude", "*.tex", "--exclude", "samples/*")
    assert status == 0, out
    status, out = run(capsys, before, after, "--include", "tables/*.csv")
    assert status == 0 and "1 files compared" in out


def test_non_time_metadata_and_a_text_only_change_fail(tmp_path, capsys):
    before = write_results(tmp_path / "before")
    after = write_results(tmp_path / "after", acceptance=0.98)
    (after / "tables" / "E13.md").write_text(
        (after / "tables" / "E13.md").read_text().replace("E13: scaling", "E13: scaled")
    )
    status, out = run(capsys, before, after)
    assert status == 1
    assert "sa.json.acceptance: 0.99 -> 0.98" in out
    assert "tables/E13.md item 1: '## E13: scaling' -> '## E13: scaled'" in out


def test_a_missing_folder_is_a_usage_error(tmp_path, capsys):
    assert compare_results.main([str(tmp_path / "nowhere"), str(tmp_path)]) == 2


@pytest.mark.parametrize("suffix", [".md", ".tex", ".html"])
def test_text_tables_are_compared_cell_by_cell(tmp_path, capsys, suffix):
    """A changed rounded cell in one rendering alone is a difference under its label."""
    before = write_results(tmp_path / "before")
    after = write_results(tmp_path / "after")
    path = after / "tables" / f"E13{suffix}"
    text = path.read_text()
    assert "80.5" in text
    path.write_text(text.replace("80.5", "80.6").replace("0.2000", "0.2001"))
    status, out = run(capsys, before, after, "--include", f"*{suffix}")
    assert status == 1, out
    assert "column 'wall time (s)'" in out and "(1 differences, 1 expected)" in out
