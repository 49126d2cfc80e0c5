"""The step runner: atomic outputs, provenance records, clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from stochastic_attention import cli
from stochastic_attention.arrays import BadInputError, read_npz
from stochastic_attention.seeds import derive_seed


@cli.step("test-write-then-fail")
def _write_then_fail(params, inputs, outputs, seed, threads):
    outputs["result"].write_text("half a result")
    raise ValueError("deliberate failure after writing")


@cli.step("test-ok")
def _ok(params, inputs, outputs, seed, threads):
    outputs["result"].write_text(json.dumps(params))
    return {"note": "done"}


def test_failed_step_leaves_no_output(tmp_path):
    target = tmp_path / "out" / "result.txt"
    with pytest.raises(ValueError, match="deliberate"):
        cli.run_step("test-write-then-fail", {}, {}, {"result": target})
    assert not target.exists()
    assert list(target.parent.iterdir()) == []  # no temporary leftovers either


def test_successful_step_writes_output_and_provenance(tmp_path):
    target = tmp_path / "result.json"
    record = cli.run_step("test-ok", {"beta": 2.0}, {}, {"result": target}, seed=5, threads=1)
    assert json.loads(target.read_text()) == {"beta": 2.0}
    provenance = json.loads((tmp_path / "result.json.provenance.json").read_text())
    assert provenance["seed"] == 5 and provenance["params"] == {"beta": 2.0}
    assert provenance["note"] == "done" and provenance["wall_seconds"] >= 0
    assert record["library_version"]


def test_missing_input_and_unknown_step_are_named(tmp_path):
    with pytest.raises(cli.StepError, match="input file"):
        cli.run_step("test-ok", {}, {"memory": tmp_path / "nope.npz"}, {"result": tmp_path / "x"})
    with pytest.raises(cli.StepError, match="unknown step 'nope'"):
        cli.run_step("nope", {}, {}, {})


def test_main_reports_errors_in_one_line(tmp_path, capsys):
    status = cli.main(["test-ok", "--params", "{not json", "--output", f"result={tmp_path}/r"])
    assert status == 1
    assert "not valid JSON" in capsys.readouterr().err


def test_read_npz_explains_corrupt_and_incomplete_files(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"garbage")
    fix = r"rebuild it with `snakemake .*bad.npz --force"
    with pytest.raises(BadInputError, match=r"bad.npz is not a readable .npz file.*" + fix):
        read_npz(bad, ("memory",), "memory")
    partial = tmp_path / "partial.npz"
    np.savez(partial, other=np.zeros(2))
    with pytest.raises(BadInputError, match="lacks the array"):
        read_npz(partial, ("memory",), "memory")


def test_seeds_depend_on_names_not_order():
    assert derive_seed(1, "a", "b") == derive_seed(1, "a", "b")
    assert derive_seed(1, "a", "b") != derive_seed(1, "b", "a")
    assert derive_seed(1, "a") != derive_seed(2, "a")


def test_every_step_is_in_the_lazy_import_table():
    from stochastic_attention import steps

    steps.load()
    registered = {name for name in cli.STEPS if not name.startswith("test-")}
    assert registered == set(steps.STEP_MODULES)
