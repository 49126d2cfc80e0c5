"""Measure the largest job of each heavy class of ``config/paper.yaml``, offline, for real.

    PYTHONPATH=src .venv/bin/python benchmarks/paper_scale.py [--cores 2] [--only NAME …]

The paper's sources need the network, so the memories are equivalent offline ones of the
same shape (the cost depends on d, K, chains, steps, replicates and epochs, not on pixels):

* ``ps_k3500``: 3500 MNIST images of all digits from the offline 5000 (d 784, K 3500;
  the paper's E13 K 3500 digit-3 memory has the same shape);
* ``ps_d4096``: a random unit memory d 4096, K 1000 (faces-sized states, K 1000);
* ``ps_all60000``: a random unit memory d 784, K 60 000 (the shape of the E15 training set);
* ``mnist_digit3``: the paper's own K 100 digit-3 memory (offline images), scored against.

Each job is a real Snakemake job of the paper profile's rules (config/paper.yaml with
these datasets and ``ps_*`` method variants added: one replicate for samplers, as the
paper's protocol; DDPM with 10 and 20 epochs to extrapolate to 5000 linearly; the E15
VAE as configured). Wall time, CPU time and peak memory come from the rules' own
``benchmark:`` files; the script prints them as a table and writes
``results/paperscale/measurements.json``. The machine may be shared: CPU time is the
robust column.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = "results/paperscale"

DATASETS = {
    "ps_k3500": {"domain": "mnist", "digit": "all", "n_patterns": 3500},
    "ps_d4096": {"domain": "synthetic", "d": 4096, "n_patterns": 1000, "seed": 1},
    "ps_all60000": {"domain": "synthetic", "d": 784, "n_patterns": 60000, "seed": 2},
}
ONE = {"replicates": 1}
METHODS = {
    "ps_sa_generation": {"kind": "sa", "alpha": 0.01, "beta": 200} | ONE,
    "ps_mala_generation": {"kind": "mala", "alpha": 0.01, "beta": 200} | ONE,
    "ps_sa_generation_f32": {"kind": "sa", "alpha": 0.01, "beta": 200, "dtype": "float32"} | ONE,
    "ps_mala_generation_f32": {"kind": "mala", "alpha": 0.01, "beta": 200, "dtype": "float32"}
    | ONE,
    "ps_sa_critical": {"kind": "sa", "alpha": 0.01, "beta": {"critical": 1, "criterion": "knee"}}
    | ONE,
    "ps_sa_faces": {"kind": "sa", "alpha": 0.01, "beta": {"snr": 0.113}} | ONE,
    "ps_mala_faces": {"kind": "mala", "alpha": 0.01, "beta": {"snr": 0.113}} | ONE,
    "ps_sa_faces_f32": {"kind": "sa", "alpha": 0.01, "beta": {"snr": 0.113}, "dtype": "float32"}
    | ONE,
    "ps_mala_faces_f32": {"kind": "mala", "alpha": 0.01, "beta": {"snr": 0.113}, "dtype": "float32"}
    | ONE,
    **{
        f"ps_ddpm_e{e}": {
            "kind": "ddpm",
            "energy_beta": 2000,
            "n_samples": 150,
            "train": {"epochs": e},
        }
        for e in (10, 20, 40)
    },
    "ps_vae_all": {
        "kind": "vae",
        "energy_beta": 2000,
        "n_samples": 150,
        "train_dataset": "ps_all60000",
        "select_top_of": 1500,
        "train": {"latent": 32, "hidden": [512, 256], "batch_size": 256, "epochs": 17},
    },
}
# (dataset, method) of every measured sample job; metrics of the largest samples file too
JOBS = [
    *[("ps_k3500", m) for m in ("ps_sa_generation", "ps_mala_generation", "ps_sa_critical",
                                "ps_sa_generation_f32")],
    *[("ps_d4096", m) for m in ("ps_sa_faces", "ps_mala_faces", "ps_sa_faces_f32")],
    *[("ps_k3500", f"ps_ddpm_e{e}") for e in (10, 20)],
    ("mnist_digit3", "ps_vae_all"),
]  # fmt: skip
METRICS = [(d, m) for d, m in JOBS if m.startswith(("ps_sa", "ps_mala"))]


def measurement_config() -> dict:
    """config/paper.yaml with offline sources and the measurement datasets and methods."""
    config = yaml.safe_load((ROOT / "config/paper.yaml").read_text())
    config["sources"] = yaml.safe_load((ROOT / "config/config.yaml").read_text())["sources"]
    config["results_dir"] = RESULTS
    config["datasets"] |= DATASETS
    config["methods"] |= METHODS
    return config


def domain_of(config: dict, dataset: str) -> str:
    return config["datasets"][dataset]["domain"]


def targets(config: dict, only: list[str]) -> list[str]:
    out = []
    for dataset, method in JOBS:
        if only and method not in only:
            continue
        domain = domain_of(config, dataset)
        out.append(f"{RESULTS}/samples/{domain}/{dataset}/{method}.npz")
        if (dataset, method) in METRICS:
            out.append(f"{RESULTS}/metrics/{domain}/{dataset}/{method}.json")
    out.append(f"{RESULTS}/memory/synthetic/ps_all60000.npz")
    return out


def read_benchmark(path: Path) -> dict | None:
    """One row of a Snakemake benchmark file: wall s, CPU s, peak RSS MB."""
    if not path.exists():
        return None
    with path.open() as handle:
        row = next(csv.DictReader(handle, delimiter="\t"))
    return {"wall_s": float(row["s"]), "cpu_s": float(row["cpu_time"]),
            "max_rss_mb": float(row["max_rss"])}  # fmt: skip


def read_provenance(output: Path) -> dict | None:
    """Wall s, CPU s (exact: getrusage) and peak RSS MB from a job's provenance sidecar."""
    path = output.with_name(output.name + ".provenance.json")
    if not path.exists():
        return None
    record = json.loads(path.read_text())
    if "cpu_seconds" not in record:
        return None
    return {"wall_s": record["wall_seconds"], "cpu_s": record["cpu_seconds"],
            "max_rss_mb": record["peak_memory_mb"]}  # fmt: skip


def _measured(output: Path, benchmark: Path) -> dict | None:
    """The job's own provenance record (exact CPU time and peak RSS) where it has one, else
    its Snakemake benchmark file (sampled every 30 s after the first 15 s)."""
    found = read_provenance(output)
    if found:
        return found | {"from": "provenance"}
    found = read_benchmark(benchmark)
    return found | {"from": "benchmark"} if found else None


OUTPUTS = (("sample", "samples", ".npz"), ("metrics", "metrics", ".json"))


def collect(config: dict) -> list[dict]:
    """Every measured job of the measurement run, with the job's size."""
    rows = []
    results, bench = ROOT / RESULTS, ROOT / RESULTS / "benchmarks"
    for dataset, method in JOBS:
        domain = domain_of(config, dataset)
        for rule, folder, suffix in (
            ("sample", "samples", ".npz"),
            ("metrics", "metrics", ".json"),
        ):
            output = results / folder / domain / dataset / f"{method}{suffix}"
            found = _measured(output, bench / rule / domain / dataset / f"{method}.tsv")
            if found:
                rows.append({"rule": rule, "dataset": dataset, "method": method} | found)
    for dataset in (*DATASETS, "mnist_digit3"):
        domain = domain_of(config, dataset)
        output = results / "memory" / domain / f"{dataset}.npz"
        found = _measured(output, bench / "memory" / domain / f"{dataset}.tsv")
        if found:
            rows.append({"rule": "memory", "dataset": dataset, "method": ""} | found)
    return rows


DTYPE_PAIRS = [
    ("ps_k3500", "ps_sa_generation"),
    ("ps_d4096", "ps_sa_faces"),
]
COMPARED = ("novelty", "diversity", "energy", "max_cosine")


def dtype_comparison(config: dict) -> list[dict]:
    """float64 against float32 on the same job: each metric with its SE, the difference in
    units of the two SEs combined, and the sampling-time ratio."""
    rows = []
    for dataset, method in DTYPE_PAIRS:
        domain = domain_of(config, dataset)
        folder = ROOT / RESULTS / "metrics" / domain / dataset
        paths = [folder / f"{method}.json", folder / f"{method}_f32.json"]
        if not all(p.exists() for p in paths):
            continue
        f64, f32 = (json.loads(p.read_text()) for p in paths)
        row = {"dataset": dataset, "method": method,
               "time_ratio": f32["seconds"] / f64["seconds"]}  # fmt: skip
        for name in COMPARED:
            se = (f64[f"{name}_se"] ** 2 + f32[f"{name}_se"] ** 2) ** 0.5
            row[name] = (f64[name], f64[f"{name}_se"], f32[name], f32[f"{name}_se"],
                         (f32[name] - f64[name]) / se)  # fmt: skip
        rows.append(row)
    return rows


def dry_run_jobs(configfile: str) -> list[tuple[str, dict]]:
    """(rule, wildcards) of every job of ``snakemake -n`` for a config file."""
    snakemake = Path(sys.executable).with_name("snakemake")
    out = subprocess.run([str(snakemake), "-n", "--forceall", "--configfile", configfile],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout  # fmt: skip
    jobs, rule = [], None
    for line in out.splitlines():
        line = line.strip()
        if line.startswith(("rule ", "localrule ")) and line.endswith(":"):
            rule = line.split()[1].rstrip(":")
            jobs.append((rule, {}))
        elif line.startswith("wildcards:") and rule is not None:
            for pair in line.removeprefix("wildcards:").split(","):
                key, _, value = pair.strip().partition("=")
                jobs[-1][1][key] = value
    return jobs


def t1_estimate(configfile: str = "config/paper.yaml") -> dict:
    """Predicted seconds of every job of a config's DAG (stochastic_attention.resources),
    summed: T₁, the run's CPU time on one core of the reference machine."""
    from stochastic_attention.config import prepare
    from stochastic_attention.plan import build_plan
    from stochastic_attention.resources import plan_estimate

    config = prepare(yaml.safe_load((ROOT / configfile).read_text()))
    plan = build_plan(config)
    per_rule: dict[str, list[float]] = {}
    for rule, wildcards in dry_run_jobs(configfile):
        seconds = plan_estimate(plan, rule, wildcards).seconds
        per_rule.setdefault(rule, []).append(seconds)
    return {rule: (len(v), sum(v), max(v)) for rule, v in sorted(per_rule.items())}


def check_run(configfile: str, results: Path) -> list[dict]:
    """Predicted against measured CPU time and peak memory of every sample, memory and
    metrics job with a benchmark file under ``results`` (a finished run of ``configfile``)."""
    from stochastic_attention.config import prepare
    from stochastic_attention.plan import build_plan
    from stochastic_attention.resources import plan_estimate

    plan = build_plan(prepare(yaml.safe_load((ROOT / configfile).read_text())))
    rows = []
    for rule in ("sample", "memory", "metrics"):
        for path in sorted((results / "benchmarks" / rule).rglob("*.tsv")):
            parts = path.relative_to(results / "benchmarks" / rule).with_suffix("").parts
            wildcards = {"dataset": parts[1]} | ({"method": parts[2]} if len(parts) > 2 else {})
            measured = read_benchmark(path)
            predicted = plan_estimate(plan, rule, wildcards)
            kind = plan.methods[parts[2]]["kind"] if len(parts) > 2 else ""
            prediction = {"predicted_s": predicted.seconds, "predicted_mb": predicted.mem_mb}
            rows.append({"rule": rule, "kind": kind, **wildcards, **measured, **prediction})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--only", nargs="*", default=[], help="only these ps_* methods")
    parser.add_argument("--collect", action="store_true", help="only print the table")
    parser.add_argument("--t1", metavar="CONFIG", help="print the predicted T₁ of CONFIG's DAG")
    parser.add_argument("--check", nargs=2, metavar=("CONFIG", "RESULTS"),
                        help="predicted / measured of every benchmark file of a run")  # fmt: skip
    args = parser.parse_args(argv)
    if args.check:
        rows = check_run(args.check[0], Path(args.check[1]))
        print(f"{'rule':8} {'kind':14} {'jobs':>4} {'time ratio min/median/max':>28} "
              f"{'mem ratio min/median/max':>26}")  # fmt: skip
        groups: dict[tuple, list[dict]] = {}
        for row in rows:
            groups.setdefault((row["rule"], row["kind"]), []).append(row)
        for (rule, kind), group in sorted(groups.items()):
            # a job under a second has no reliable CPU time in a benchmark file: its wall time
            t = sorted(r["predicted_s"] / (r["cpu_s"] if r["cpu_s"] >= 1 else r["wall_s"])
                       for r in group)  # fmt: skip
            m = sorted(r["predicted_mb"] / max(r["max_rss_mb"], 1.0) for r in group)
            print(f"{rule:8} {kind:14} {len(group):4d} {t[0]:8.2f} {t[len(t) // 2]:8.2f} "
                  f"{t[-1]:8.2f}    {m[0]:6.2f} {m[len(m) // 2]:6.2f} {m[-1]:6.2f}")  # fmt: skip
        (ROOT / RESULTS).mkdir(parents=True, exist_ok=True)
        (ROOT / RESULTS / "check.json").write_text(json.dumps(rows, indent=1))
        return 0
    if args.t1:
        table = t1_estimate(args.t1)
        print(f"{'rule':10} {'jobs':>5} {'sum s':>9} {'max s':>8}")
        for rule, (count, total, longest) in table.items():
            print(f"{rule:10} {count:5d} {total:9.0f} {longest:8.0f}")
        total = sum(v[1] for v in table.values())
        print(f"T1 = {total:.0f} s = {total / 3600:.2f} CPU-hours (one core, reference machine)")
        return 0
    config = measurement_config()
    path = ROOT / RESULTS / "config.yaml"
    if not args.collect:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        snakemake = Path(sys.executable).with_name("snakemake")
        command = [str(snakemake), *targets(config, args.only), "--cores", str(args.cores),
                   "--rerun-incomplete", "--prioritize", *targets(config, args.only)[:6],
                   "--configfile", str(path)]  # fmt: skip
        subprocess.run(command, cwd=ROOT, check=True)
    rows = collect(config)
    (ROOT / RESULTS / "measurements.json").write_text(json.dumps(rows, indent=1))
    compared = dtype_comparison(config)
    (ROOT / RESULTS / "dtype.json").write_text(json.dumps(compared, indent=1))
    for row in compared:
        print(f"{row['dataset']} {row['method']}: float32 / float64 sampling time "
              f"{row['time_ratio']:.2f}")  # fmt: skip
        for name in COMPARED:
            a, sa, b, sb, z = row[name]
            print(f"  {name:11} f64 {a:.4f} ± {sa:.4f}  f32 {b:.4f} ± {sb:.4f}  Δ/SE {z:+.2f}")
    print(f"{'rule':8} {'dataset':13} {'method':24} {'wall s':>8} {'CPU s':>8} {'peak MB':>8}")
    for row in rows:
        print(f"{row['rule']:8} {row['dataset']:13} {row['method']:24} {row['wall_s']:8.1f} "
              f"{row['cpu_s']:8.1f} {row['max_rss_mb']:8.0f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
