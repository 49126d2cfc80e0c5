"""Fixtures shared by several test modules."""

from __future__ import annotations

import pytest

from workflow_utils import copy_workflow, snakemake


@pytest.fixture(scope="session")
def smoke_workdir(tmp_path_factory):
    """A scratch copy of the workflow after one complete smoke run (config/smoke.yaml).

    Session-scoped, so every module that needs the smoke results shares one run; tests must
    not change its results (dry runs and reports only).
    """
    workdir = copy_workflow(tmp_path_factory.mktemp("smoke_session"))
    snakemake(workdir, "--cores", "2", "--configfile", "config/smoke.yaml", timeout=1800)
    return workdir
