"""Job-level parallelism of a finished run, from Snakemake's per-job benchmark files.

Reads ``results/benchmarks/**/*.tsv`` (wall seconds per job) and prints

* the total job time T₁ (what ``--cores 1`` would take, ignoring scheduling overhead),
* the longest job, and an upper bound on the critical path T∞: the sum over the stages of
  the MNIST chain (fetch → memory → sample → metrics) of each stage's longest job, or the
  longest synthetic job if that is longer (tables and figures take about a second each),
* the best possible speed-up T₁ / T∞ and the bound T₁ / c + T∞ on c cores.

    python benchmarks/critical_path.py [results/benchmarks] [--cores 2]
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path


def job_seconds(folder: Path) -> dict[str, float]:
    """Wall seconds per job, keyed by the benchmark file's path below ``folder``."""
    seconds = {}
    for path in sorted(folder.rglob("*.tsv")):
        with path.open() as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        if rows:
            seconds[str(path.relative_to(folder))] = float(rows[-1]["s"])
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default="results/benchmarks", type=Path)
    parser.add_argument("--cores", type=int, default=2)
    arguments = parser.parse_args()
    seconds = job_seconds(arguments.folder)
    if not seconds:
        raise SystemExit(f"no benchmark files under {arguments.folder}; run the workflow first")
    stages: dict[str, list[float]] = defaultdict(list)
    for name, value in seconds.items():
        stages[name.split("/")[0]].append(value)
    total = sum(seconds.values())
    longest = max(seconds, key=seconds.get)
    chain = sum(max(stages.get(stage, [0.0])) for stage in ("fetch", "memory", "sample", "metrics"))
    critical = max(chain, max(stages.get("synthetic", [0.0])))
    print(f"jobs: {len(seconds)}")
    for stage, values in sorted(stages.items()):
        total_stage, worst = sum(values), max(values)
        print(
            f"  {stage:<10} {len(values):4d} jobs  {total_stage:8.1f} s total  {worst:7.1f} s max"
        )
    print(f"T1 (sum of job wall times):        {total:8.1f} s")
    print(f"longest job:                       {seconds[longest]:8.1f} s  ({longest})")
    print(f"critical path T_inf (upper bound): {critical:8.1f} s")
    print(f"best possible speed-up T1/T_inf:   {total / critical:8.1f}x")
    bound = total / arguments.cores + critical
    print(f"bound on {arguments.cores} cores, T1/c + T_inf:  {bound:8.1f} s")


if __name__ == "__main__":
    main()
