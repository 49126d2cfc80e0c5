"""The user's own data through the real workflow: ``array`` (.npy, .csv) and ``images`` (PNGs).

The test writes the files into a scratch copy of the workflow, points datasets at them with
paths relative to the working directory, runs a comparison experiment (SA, bootstrap,
Gaussian, convex) from a clean environment (PATH without the venv) and checks the table and
the sample grids. Bad files fail at the memory job with one line in its log naming the file
and the problem; the other datasets' jobs still run (``--keep-going``).
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from workflow_utils import clean_snakemake, copy_workflow, job_log, planned_jobs

pytestmark = pytest.mark.slow

METHODS = {
    "sa": {"kind": "sa", "alpha": 0.01, "beta": 50, "label": "SA"},
    "bootstrap": {"kind": "bootstrap", "n_samples": 20},
    "gaussian": {"kind": "gaussian", "alpha": 0.01, "n_samples": 20},
    "convex": {"kind": "convex", "n_samples": 20},
}
PROTOCOL = {"n_chains": 4, "n_steps": 200, "burn_in": 100, "thin": 20, "keep": 5}


def config(datasets: dict, experiment: dict | None = None) -> dict:
    """A config comparing SA with three simple baselines on ``datasets`` (tiny sizes)."""
    return {
        "seed": 5,
        "results_dir": "results",
        "datasets": datasets,
        "protocols": {"multi_chain": PROTOCOL},
        "methods": METHODS,
        "experiments": {
            "mine": experiment
            or {
                "kind": "comparison",
                "title": "my data",
                "datasets": list(datasets),
                "methods": list(METHODS),
                "energy_beta": 50,
                "figures": ["sample_grids"],
            }
        },
    }


def write_config(workdir: Path, content: dict, name: str = "mine.yaml") -> str:
    (workdir / "config" / name).write_text(yaml.safe_dump(content, sort_keys=False))
    return f"config/{name}"


def patterns(d: int = 16, k: int = 12, seed: int = 3) -> np.ndarray:
    """(d, K) positive patterns: smooth bumps at different places, one per column."""
    grid = np.linspace(0, 1, d)
    centres = np.random.default_rng(seed).uniform(0, 1, size=k)
    return np.exp(-((grid[:, None] - centres[None, :]) ** 2) / 0.02) + 0.05


def write_pictures(folder: Path, n: int = 10) -> None:
    """``n`` 12×12 PNGs of moving squares, alternating grey (L) and colour (RGB) files."""
    folder.mkdir(parents=True)
    for i in range(n):
        picture = np.full((12, 12), 30, np.uint8)
        picture[i % 8 : i % 8 + 4, (3 * i) % 8 : (3 * i) % 8 + 4] = 220
        if i % 2:
            Image.fromarray(np.stack([picture, picture // 2, picture], -1), "RGB").save(
                folder / f"img{i:02d}.png"
            )
        else:
            Image.fromarray(picture, "L").save(folder / f"img{i:02d}.png")


@pytest.fixture
def workdir(tmp_path) -> Path:
    return copy_workflow(tmp_path / "work")


def test_array_and_images_datasets_give_a_table_and_sample_grids(workdir):
    data = workdir / "data"
    data.mkdir()
    values = patterns()
    np.save(data / "bumps.npy", values.T)  # rows: one pattern per row
    header = ",".join(f"p{j}" for j in range(values.shape[1]))
    np.savetxt(data / "bumps.csv", values, delimiter=",", header=header, comments="")
    write_pictures(data / "pictures")
    datasets = {
        "bumps_npy": {"domain": "array", "path": "data/bumps.npy", "layout": "rows"},
        "bumps_csv": {
            "domain": "array",
            "path": "data/bumps.csv",
            "layout": "columns",
            "n_patterns": 10,
            "image_shape": [4, 4],
        },
        "squares": {"domain": "images", "path": "data/pictures", "size": [8, 8]},
    }
    configfile = write_config(workdir, config(datasets))
    clean_snakemake(workdir, ["--cores", "2", "--configfile", configfile])

    table = pd.read_csv(workdir / "results/tables/mine.csv")
    assert len(table) == len(datasets) * len(METHODS)
    assert sorted(set(table["dataset"])) == sorted(datasets)
    assert set(table["method"]) == {"SA", "bootstrap", "gaussian", "convex"}
    assert np.isfinite(table[["novelty", "diversity", "energy"]].to_numpy()).all()
    assert table.loc[table["method"] == "bootstrap", "novelty"].abs().max() < 1e-12
    for name in datasets:
        grid = workdir / f"results/figures/mine/{name}/sample_grids.png"
        assert grid.stat().st_size > 1000, grid
    assert "my data" in (workdir / "results/summary.md").read_text()

    # relative paths were read from the working directory, and recorded as written
    def memory(domain: str, name: str) -> tuple[np.ndarray, dict]:
        with np.load(workdir / f"results/memory/{domain}/{name}.npz") as loaded:
            return loaded["memory"], json.loads(str(loaded["metadata"]))

    from_npy, meta_npy = memory("array", "bumps_npy")
    from_csv, meta_csv = memory("array", "bumps_csv")
    unit = values / np.linalg.norm(values, axis=0)
    np.testing.assert_allclose(from_npy, unit, rtol=1e-12)
    np.testing.assert_allclose(from_csv, unit[:, :10], rtol=1e-12)
    assert meta_npy["path"] == "data/bumps.npy" and meta_csv["csv_header"][0] == "p0"
    squares, meta_images = memory("images", "squares")
    assert squares.shape == (64, 10)
    assert [f["mode"] for f in meta_images["files"][:2]] == ["L", "RGB"]


def _bad_files(data: Path) -> dict[str, tuple[dict, str, list[str]]]:
    """dataset → (its config, the file its error must name, words the error must hold)."""
    data.mkdir()
    (data / "empty.csv").write_text("")
    np.save(data / "cube.npy", np.ones((2, 3, 4)))
    (data / "words.csv").write_text("1,2,3\n4,five,6\n")
    np.save(data / "nan.npy", np.array([[1.0, np.nan], [2.0, 3.0]]))
    np.save(data / "zero.npy", np.array([[1.0, 0.0, 2.0], [3.0, 0.0, 4.0]]))
    (data / "blank").mkdir()
    lab = data / "odd"
    write_pictures(lab, n=2)
    Image.new("LAB", (12, 12)).save(lab / "img05.png", format="TIFF")  # a mode with no grey
    array = {"domain": "array", "layout": "columns"}
    return {
        "empty": (array | {"path": "data/empty.csv"}, "data/empty.csv", ["is empty"]),
        "cube": (
            array | {"path": "data/cube.npy"},
            "data/cube.npy",
            ["shape (2, 3, 4)", "not a 2-D matrix"],
        ),
        "words": (
            array | {"path": "data/words.csv"},
            "data/words.csv",
            ["line 2, column 2", "'five'", "not a number"],
        ),
        "nan": (array | {"path": "data/nan.npy"}, "data/nan.npy", ["pattern 1", "NaN or inf"]),
        "zero": (array | {"path": "data/zero.npy"}, "data/zero.npy", ["pattern 1", "all zeros"]),
        "blank": (
            {"domain": "images", "path": "data/blank", "size": [8, 8]},
            "data/blank",
            ["holds no images"],
        ),
        "odd": (
            {"domain": "images", "path": "data/odd", "size": [8, 8]},
            "data/odd/img05.png",
            ["mode 'LAB'", "cannot be converted to grayscale"],
        ),
    }


def test_bad_files_fail_at_the_memory_job_with_one_line_naming_the_file(workdir):
    bad = _bad_files(workdir / "data")
    write_pictures(workdir / "good")
    datasets = {name: spec for name, (spec, _, _) in bad.items()}
    datasets["good"] = {"domain": "images", "path": "good", "size": [8, 8], "n_patterns": 4}
    experiment = {
        "kind": "comparison",
        "datasets": list(datasets),
        "methods": ["bootstrap"],
        "energy_beta": 50,
        "figures": [],
    }
    configfile = write_config(workdir, config(datasets, experiment))
    result = clean_snakemake(
        workdir, ["--cores", "2", "--keep-going", "--configfile", configfile], check=False
    )
    assert result.returncode != 0
    for name, (spec, path, words) in bad.items():
        log = job_log(workdir, "results", "memory", spec["domain"], name)
        lines = log.strip().splitlines()
        assert len(lines) == 1, log
        assert "Traceback" not in log
        assert "DomainError" in lines[0] and path in lines[0], lines[0]
        for word in words:
            assert word in lines[0], lines[0]
        assert not (workdir / f"results/memory/{spec['domain']}/{name}.npz").exists()
    # the good dataset's jobs ran (--keep-going): the failure is the bad files' alone
    assert list((workdir / "results/metrics/images/good").glob("bootstrap*.json"))


def test_a_missing_file_is_named_before_any_job_runs(workdir):
    datasets = {"absent": {"domain": "array", "path": "data/absent.npy", "layout": "rows"}}
    configfile = write_config(workdir, config(datasets))
    result = clean_snakemake(workdir, ["--cores", "1", "--configfile", configfile], check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "data/absent.npy" in output
    assert "Missing input files for rule memory" in output
    assert not (workdir / "results/memory").exists()


# ------------------------------------------------- edits in place re-run exactly their jobs


def _rewrite_keeping_mtime(path: Path, content: bytes) -> None:
    """Overwrite ``path`` in place (same name, same inode) and put its mtime back, as
    ``cp -p``, ``rsync -t`` or an editor that preserves timestamps would."""
    before = path.stat()
    with open(path, "r+b") as handle:
        handle.write(content)
        handle.truncate()
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_mtime_ns == before.st_mtime_ns


def _prices_csv(path: Path, days: int = 40, last: float = 12.0) -> None:
    rows = ["Date,AAA,BBB,CCC"]
    for i, day in enumerate(pd.bdate_range("2024-01-02", periods=days)):
        close = last if i == days - 1 else 10 + np.sin(i)
        rows.append(f"{day:%Y-%m-%d},{close:.4f},{20 + np.cos(i):.4f},{5 + 0.1 * i:.4f}")
    path.write_text("\n".join(rows) + "\n")


def test_edited_inputs_rerun_exactly_their_dependents(workdir):
    """A memory depends on the content of what it reads (digests.py), not only on mtimes.

    What Snakemake 9 sees by itself: a changed mtime of an input *file*. It misses a file
    edited inside an input folder (it looks at the folder's own mtime), a file whose mtime
    is kept, and every file a fetch job reads from a local source (not an input at all).
    All three edits below keep the file's name and mtime; each must re-run the job that
    reads the file and the jobs downstream of it, and nothing else (the fourth dataset).
    """
    data = workdir / "data"
    data.mkdir()
    np.save(data / "vectors.npy", patterns(seed=1).T)
    np.save(data / "other.npy", patterns(seed=2).T)
    write_pictures(data / "pictures", n=6)
    _prices_csv(data / "prices.csv")
    datasets = {
        "vec": {"domain": "array", "path": "data/vectors.npy", "layout": "rows"},
        "untouched": {"domain": "array", "path": "data/other.npy", "layout": "rows"},
        "pics": {"domain": "images", "path": "data/pictures", "size": [8, 8]},
        "stocks": {"domain": "finance"},
    }
    experiment = {"kind": "comparison", "datasets": list(datasets), "methods": ["bootstrap"]}
    content = config(datasets, experiment | {"figures": []})
    content["methods"] = {"bootstrap": {"kind": "bootstrap", "n_samples": 20, "energy_beta": 50}}
    content["sources"] = {"finance": {"kind": "local", "path": "data/prices.csv"}}
    configfile = write_config(workdir, content)
    domains = {"vec": "array", "untouched": "array", "pics": "images", "stocks": "finance"}
    targets = [f"results/samples/{domains[n]}/{n}/bootstrap.npz" for n in datasets]

    def dry_run() -> str:
        result = clean_snakemake(workdir, [*targets, "-n", "--configfile", configfile])
        return result.stdout + result.stderr

    clean_snakemake(workdir, [*targets, "--cores", "2", "--configfile", configfile])
    assert "Nothing to be done" in dry_run()
    memory = {n: workdir / f"results/memory/{domains[n]}/{n}.npz" for n in datasets}
    built = {n: path.read_bytes() for n, path in memory.items()}
    stamps = {n: path.stat().st_mtime_ns for n, path in memory.items()}

    picture = data / "pictures" / "img03.png"
    swapped = Image.fromarray(255 - np.asarray(Image.open(picture)))
    buffer = io.BytesIO()
    swapped.save(buffer, format="PNG")
    _rewrite_keeping_mtime(picture, buffer.getvalue())
    _rewrite_keeping_mtime(data / "vectors.npy", _npy_bytes(patterns(seed=9).T))
    prices = data / "prices.csv"
    _prices_csv(workdir / "new.csv", last=14.0)
    _rewrite_keeping_mtime(prices, (workdir / "new.csv").read_bytes())

    planned = dry_run()
    assert planned_jobs(planned) == {"fetch": 1, "memory": 3, "sample": 3}, planned
    for name in ("vec", "pics", "stocks"):
        assert f"results/memory/{domains[name]}/{name}.npz" in planned
    assert "results/memory/array/untouched.npz" not in planned
    assert "Params have changed since last execution" in planned

    clean_snakemake(workdir, [*targets, "--cores", "2", "--configfile", configfile])
    for name in ("vec", "pics", "stocks"):
        assert memory[name].read_bytes() != built[name], name  # rebuilt from the new data
    assert memory["untouched"].stat().st_mtime_ns == stamps["untouched"]
    assert "Nothing to be done" in dry_run()


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()
