"""Progress lines of long sampler runs: time-based, at most one per interval, in the log."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import numpy as np

from stochastic_attention import samplers


def _fake_clock(monkeypatch, times):
    ticks = iter(times)
    monkeypatch.setattr(samplers, "time", SimpleNamespace(perf_counter=lambda: next(ticks)))


def test_progress_logs_a_step_line_once_per_interval(monkeypatch, caplog):
    # clock at construction, then one reading per update (seconds)
    _fake_clock(monkeypatch, [0.0, 3.0, 9.9, 10.0, 15.0, 19.9, 20.5, 21.0])
    progress = samplers._Progress(7, "SA")
    with caplog.at_level(logging.INFO, logger=samplers.log.name):
        for step in range(1, 8):
            progress.update(step)
    lines = [r.getMessage() for r in caplog.records if r.name == samplers.log.name]
    assert lines == ["SA: step 3/7 (10 s)", "SA: step 6/7 (20 s)"]


def test_a_short_run_logs_no_progress(caplog):
    rng = np.random.default_rng(0)
    memory = rng.standard_normal((4, 3))
    with caplog.at_level(logging.INFO, logger=samplers.log.name):
        samplers.run_chains(
            memory, memory[:, :2], kernel="sa", beta=2.0, alpha=0.1, rng=rng, record_steps=[50]
        )
    assert not [r for r in caplog.records if "step" in r.getMessage()]
