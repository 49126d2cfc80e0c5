"""Resource requests from a job's size: predictions against measured jobs, monotone, retries.

The measurements below are real jobs, recorded as data: the paper profile's largest job of
each class (``benchmarks/paper_scale.py``: the rules' ``benchmark:`` files, offline memories
of the paper's shapes) and jobs of the default profile's timed run (``results/benchmarks``
of ``make run`` at commit fe95a36). CPU time is the time compared (the machine was shared
with other work, which inflates wall time but not CPU time); every job is single-threaded.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import yaml

from stochastic_attention import resources
from stochastic_attention.config import prepare
from stochastic_attention.plan import build_plan
from stochastic_attention.resources import Estimate, estimate_job, memory_shape, request

REPO = Path(__file__).resolve().parents[1]
MULTI = {"kind": "multi_chain", "n_chains": 30, "n_steps": 5000, "burn_in": 2000, "thin": 100,
         "keep": 5, "init_noise": 0.01}  # fmt: skip
CRITICAL = {"critical": 1, "criterion": "knee"}


def _sampler(kind="sa", replicates=1, **extra) -> dict:
    return {"kind": kind, "category": "sampler", "replicates": replicates, "alpha": 0.01,
            "beta": 200, "protocol": "multi_chain", "protocol_params": MULTI, **extra}  # fmt: skip


def _learned(kind, replicates=5, **extra) -> dict:
    return {"kind": kind, "category": "learned", "replicates": replicates, "n_samples": 150,
            "energy_beta": 2000, "refit_replicates": True, **extra}  # fmt: skip


# (what, rule, spec, memory shape, training shape, measured CPU s, wall s, peak RSS MB, source)
# CPU s: the provenance record's getrusage time where it has one, else the benchmark file's
# (sampled every 30 s after 15 s: low by at most the last interval's share); peak MB: the
# provenance record's ru_maxrss (exact) where given, else the benchmark file's max_rss.
PAPER = "benchmarks/paper_scale.py, 2026-12-03 (niced under the timed run: wall s inflated)"
PAPER2 = ("benchmarks/paper_scale.py, 2026-12-03 12:15-12:40, 2 jobs on the 2 cores (other "
          "work shared them until 12:27: wall s of the first jobs inflated)")
E15_VAE_ALL = {"latent": 32, "hidden": [512, 256], "batch_size": 256, "epochs": 17}
DEFAULT = "make run at fe95a36, results/benchmarks (timed run, 2026-12-03)"
E15_VAE = {"latent": 8, "hidden": [512, 256], "batch_size": 256, "epochs": 2000}
MEASURED: list[tuple] = [
    ("SA K 3500 d 784", "sample", _sampler(), (784, 3500), None, 95.9, 1156.7, 172.9, PAPER),
    ("MALA K 3500 d 784", "sample", _sampler("mala"), (784, 3500), None, 77.4, 1112.3, 221.0,
     PAPER),
    ("MALA d 4096 K 1000", "sample", _sampler("mala", beta={"snr": 0.113}), (4096, 1000), None,
     40.4, 388.0, 274.9, PAPER),
    ("SA d 4096 K 1000 float32", "sample", _sampler(beta={"snr": 0.113}, dtype="float32"),
     (4096, 1000), None, 20.43, 181.2, 274.2, PAPER),
    ("DDPM K 3500, 10 epochs", "sample", _learned("ddpm", train={"epochs": 10}), (784, 3500),
     None, 33.1, 310.8, 1117.1, PAPER),
    ("SA K 3500 d 784 float32", "sample", _sampler(dtype="float32"), (784, 3500), None, 43.6,
     197.5, 200.0, PAPER2),
    ("SA K 3500 at its β* (knee)", "sample", _sampler(beta=CRITICAL), (784, 3500), None, 129.9,
     383.1, 392.0, PAPER2),
    ("SA d 4096 K 1000 float64", "sample", _sampler(beta={"snr": 0.113}), (4096, 1000), None,
     45.6, 159.8, 228.0, PAPER2),
    ("DDPM K 3500, 20 epochs", "sample", _learned("ddpm", train={"epochs": 20}), (784, 3500),
     None, 60.3, 76.3, 1111.0, PAPER2),
    ("E15 VAE on 60000 images", "sample", _learned("vae", train=E15_VAE_ALL, select_top_of=1500),
     (784, 100), (784, 60000), 563.1, 633.3, 1057.0, PAPER2),
    ("metrics d 4096 K 1000", "metrics", _sampler("mala"), (4096, 1000), None, 2.48, 22.0,
     220.6, PAPER),
    ("memory K 60000 (peak only)", "memory", None, (784, 60000), None, None, 38.5, 755.9, PAPER),
    ("DDPM K 100 (5000 epochs)", "sample", _learned("ddpm"), (784, 100), None, 302.6, 878.7,
     459.4, DEFAULT),
    ("VAE K 100 (4000 epochs)", "sample", _learned("vae"), (784, 100), None, 128.2, 151.0,
     385.0, DEFAULT),
    ("E15 VAE on 500 images", "sample", _learned("vae", train=E15_VAE), (784, 100), (784, 500),
     512.7, 739.6, 497.0, DEFAULT),
    ("multi-head SA K 500", "sample", _sampler("multihead_sa", replicates=5), (784, 500), None,
     27.4, 54.4, 164.8, DEFAULT),
    ("SA K 100", "sample", _sampler(replicates=5), (784, 100), None, 3.7, 3.9, 145.7, DEFAULT),
    ("SA finance d 20 K 2262", "sample",
     _sampler(replicates=5, protocol_params=MULTI | {"keep": 30}), (20, 2262), None, 11.6, 14.4,
     209.6, DEFAULT),
]  # fmt: skip


@pytest.mark.parametrize(
    ("what", "rule", "spec", "shape", "train_shape", "cpu_s", "wall_s", "rss_mb", "source"),
    MEASURED,
    ids=[m[0] for m in MEASURED],
)
def test_predictions_are_within_2x_of_the_measured_time_and_memory(
    what, rule, spec, shape, train_shape, cpu_s, wall_s, rss_mb, source
):
    predicted = estimate_job(rule, spec, shape, train_shape)
    if cpu_s is not None:
        assert cpu_s / 2 <= predicted.seconds <= 2 * cpu_s, (what, predicted, cpu_s)
    assert rss_mb / 2 <= predicted.mem_mb <= 2 * rss_mb, (what, predicted, rss_mb)


def test_the_measurements_cover_every_heavy_class():
    names = " ".join(m[0] for m in MEASURED)
    for heavy in ("SA K 3500", "MALA K 3500", "MALA d 4096", "SA d 4096", "DDPM K 3500",
                  "E15 VAE on 60000", "memory K 60000", "metrics d 4096", "β*",
                  "DDPM K 3500, 20", "float32"):  # fmt: skip
        assert heavy in names, heavy


# ----------------------------------------------------------------------- monotone
def _seconds(rule="sample", spec=None, shape=(784, 100), train_shape=None) -> float:
    return estimate_job(rule, spec, shape, train_shape).seconds


def _mem(rule="sample", spec=None, shape=(784, 100), train_shape=None) -> float:
    return estimate_job(rule, spec, shape, train_shape).mem_mb


@pytest.mark.parametrize("kind", ["sa", "mala", "multihead_sa"])
def test_a_sampler_costs_more_with_every_size(kind):
    base = _sampler(kind)
    for shape in [(784, 200), (1568, 100), (784, 3500), (4096, 1000)]:
        assert _seconds(spec=base, shape=shape) > _seconds(spec=base)
        assert _mem(spec=base, shape=shape) > _mem(spec=base)
    longer = _sampler(kind, protocol_params=MULTI | {"n_steps": 10000})
    wider = _sampler(kind, protocol_params=MULTI | {"n_chains": 60})
    for bigger in (longer, wider, _sampler(kind, replicates=5)):
        assert _seconds(spec=bigger) > _seconds(spec=base)
    assert _mem(spec=wider) > _mem(spec=base)
    assert _seconds(spec=_sampler(kind, threads=2)) < _seconds(spec=base)


def test_beta_star_and_float64_cost_more():
    assert _seconds(spec=_sampler(beta=CRITICAL), shape=(784, 3500)) > _seconds(
        spec=_sampler(), shape=(784, 3500)
    )
    assert _mem(spec=_sampler(beta=CRITICAL), shape=(784, 3500)) > _mem(
        spec=_sampler(), shape=(784, 3500)
    )
    for kind in ("sa", "mala"):
        assert _seconds(spec=_sampler(kind, dtype="float32"), shape=(784, 3500)) < _seconds(
            spec=_sampler(kind), shape=(784, 3500)
        )


@pytest.mark.parametrize("kind", ["ddpm", "vae"])
def test_a_learned_baseline_costs_more_with_every_size(kind):
    base = _learned(kind)
    assert _seconds(spec=base, shape=(784, 500)) > _seconds(spec=base)
    assert _mem(spec=base, shape=(784, 500)) > _mem(spec=base)
    assert _seconds(spec=base, train_shape=(784, 6000)) > _seconds(spec=base)
    assert _seconds(spec=_learned(kind, train={"epochs": 9000})) > _seconds(spec=base)
    assert _seconds(spec=_learned(kind, replicates=6)) > _seconds(spec=base)
    assert _seconds(spec=_learned(kind, train={"hidden": [1024, 512]})) > _seconds(spec=base)
    batches = _learned(kind, train={"batch_size": 16, "epoch_scaling": "none"}
                       if kind == "ddpm" else {"batch_size": 16})  # fmt: skip
    assert _seconds(spec=batches, shape=(784, 500)) > _seconds(spec=base, shape=(784, 500))
    one_fit = _learned(kind, refit_replicates=False)
    assert _seconds(spec=one_fit) < _seconds(spec=base)
    assert _seconds(spec=_learned(kind, threads=2)) < _seconds(spec=base)


def test_memory_and_metrics_jobs_grow_with_the_memory():
    assert _seconds("memory", shape=(784, 60000)) > _seconds("memory", shape=(784, 100))
    assert _mem("memory", shape=(784, 60000)) > _mem("memory", shape=(784, 100))
    spec = _sampler(replicates=5)
    assert _seconds("metrics", spec, (784, 3500)) > _seconds("metrics", spec, (784, 100))
    assert _seconds("metrics", spec, (784, 100)) > _seconds("metrics", _sampler(), (784, 100))


# ----------------------------------------------------------------------- requests
@pytest.mark.parametrize(
    "estimate", [Estimate(1, 10), Estimate(600, 900), Estimate(10000, 5000)], ids=str
)
def test_a_retry_asks_for_more_time_and_memory(estimate):
    requests = [request(estimate, attempt) for attempt in (1, 2, 3)]
    assert requests[0].runtime < requests[1].runtime < requests[2].runtime
    assert requests[0].mem_mb < requests[1].mem_mb < requests[2].mem_mb
    assert requests[1].runtime == 2 * requests[0].runtime


def test_a_request_covers_the_prediction_with_a_margin_and_has_floors():
    first = request(Estimate(seconds=3600, mem_mb=2000))
    assert first.runtime >= 2 * 60 and first.mem_mb >= 2 * 2000
    tiny = request(Estimate(seconds=0.1, mem_mb=1))
    assert tiny.runtime == resources.MIN_RUNTIME_MINUTES
    assert tiny.mem_mb == resources.MIN_MEM_MB


# --------------------------------------------------------------------- memory shape
@pytest.mark.parametrize(
    ("dataset", "shape"),
    [
        ({"domain": "mnist", "digit": 3, "n_patterns": 3500}, (784, 3500)),
        ({"domain": "mnist", "digit": "all", "n_patterns": 60000}, (784, 60000)),
        ({"domain": "mnist", "digit": 3, "n_patterns": 100, "pca_rank": 50}, (50, 100)),
        ({"domain": "synthetic", "d": 4096, "n_patterns": 1000}, (4096, 1000)),
        ({"domain": "faces", "size": [64, 64], "n_patterns": 100}, (4096, 100)),
        ({"domain": "images", "path": "x", "size": [32, 16], "n_patterns": 7}, (512, 7)),
        ({"domain": "finance", "tickers": ["A", "B"]}, (2, 2800)),
        ({"domain": "array", "path": "x.npy"}, resources.FALLBACK_SHAPE),
    ],
)
def test_the_memory_shape_is_known_from_the_dataset_config(dataset, shape):
    assert memory_shape(dataset) == shape


# ------------------------------------------------------------- the rules' requests
def _paper_plan():
    config = yaml.safe_load((REPO / "config/paper.yaml").read_text())
    return build_plan(prepare(copy.deepcopy(config)))


def test_the_paper_plan_asks_more_for_larger_k():
    plan = _paper_plan()
    for method in ("sa_critical", "ddpm"):
        asked = [
            resources.job_request(plan, "sample", {"dataset": dataset, "method": method})
            for dataset in (f"mnist_digit3__n_patterns_{k}" for k in (500, 1000, 2000, 3500))
        ]
        assert [a.runtime for a in asked] == sorted(a.runtime for a in asked)
        assert [a.mem_mb for a in asked] == sorted(a.mem_mb for a in asked)
        assert asked[-1].runtime > asked[0].runtime
    # SA at β* stays under the 1000 MB floor up to K 3500 (444 MB predicted, 392 MB measured);
    # the DDPM's request grows past it
    assert asked[-1].mem_mb > asked[0].mem_mb


def test_a_dry_run_shows_the_requests_of_the_resources_module(tmp_path):
    """The rules' resources lines call resources.job_request: a dry run of the paper profile
    lists, for its largest jobs, exactly what the module predicts."""
    from workflow_utils import snakemake

    target = "results/paper/samples/mnist/mnist_digit3__n_patterns_3500/{}.npz"
    methods = ("sa_critical", "ddpm")
    out = snakemake(REPO, "-n", *(target.format(m) for m in methods), "--configfile",
                    "config/paper.yaml").stdout  # fmt: skip
    plan = _paper_plan()
    for method in methods:
        block = re.search(rf"method={method}\n\s+resources: ([^\n]+)", out)
        assert block, out[-3000:]
        listed = dict(pair.split("=", 1) for pair in block.group(1).split(", "))
        wanted = resources.job_request(
            plan, "sample", {"dataset": "mnist_digit3__n_patterns_3500", "method": method}
        )
        assert int(listed["runtime"]) == wanted.runtime
        assert int(listed["mem_mb"]) == wanted.mem_mb
    json.dumps(MEASURED)  # the measurements are plain data


def test_a_method_kind_says_how_its_job_costs(monkeypatch):
    """resources asks the kind (COST_MODEL), not its category or name: a plug-in kind of
    category "simple" that declares the chains model is estimated as chains; an unknown
    model is refused with the choices."""
    from stochastic_attention.methods import base as methods

    class Walk:
        KIND, CATEGORY, PARAMS_SCHEMA, COST_MODEL = "toy_cost_walk", "simple", {}, "chains"

        @staticmethod
        def run(memory, spec, context):  # pragma: no cover - never run
            raise NotImplementedError

    monkeypatch.setattr(methods.REGISTRY, "entries", dict(methods.REGISTRY.entries))
    methods.register_method(Walk)
    spec = _sampler(kind="toy_cost_walk") | {"category": "simple"}
    walk = estimate_job("sample", spec, (784, 3500))
    assert walk.seconds == estimate_job("sample", _sampler(), (784, 3500)).seconds
    small = estimate_job("sample", {"kind": "bootstrap", "n_samples": 150}, (784, 3500))
    assert small.seconds < walk.seconds / 10
    Walk.COST_MODEL = "gpu"
    with pytest.raises(ValueError, match="COST_MODEL must be one of"):
        estimate_job("sample", spec, (784, 3500))
