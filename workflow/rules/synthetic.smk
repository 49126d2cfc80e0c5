# Synthetic experiments (SPEC §6 E1–E3) and the critical-temperature law.
# Parameters: config["experiments"]["E1" | "E2" | "E3" | "critical_law"]; helpers get_params,
# get_seed, get_e3_load_ratios and named live in common.smk.


rule e1:
    output:
        table=report("results/tables/E1.csv", caption="../report/E1.rst", category="Synthetic", subcategory="E1"),
        markdown="results/tables/E1.md",
        latex="results/tables/E1.tex",
        figure=report("results/figures/E1.png", caption="../report/E1.rst", category="Synthetic", subcategory="E1"),
    log:
        "results/logs/synthetic/E1.log",
    benchmark:
        "results/benchmarks/synthetic/E1.tsv"
    params:
        spec=lambda w: get_params("E1"),
        seed=get_seed("E1"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/core.yaml"
    shell:
        "stochastic-attention e1 --params {params.spec:q} --seed {params.seed} --threads {threads}"
        " --output table={output.table:q} markdown={output.markdown:q} latex={output.latex:q}"
        " figure={output.figure:q} > {log:q} 2>&1"


rule e2:
    output:
        table=report("results/tables/E2.csv", caption="../report/E2.rst", category="Synthetic", subcategory="E2"),
        markdown="results/tables/E2.md",
        latex="results/tables/E2.tex",
        trace="results/tables/E2_trace.csv",
        figure=report("results/figures/E2.png", caption="../report/E2.rst", category="Synthetic", subcategory="E2"),
    log:
        "results/logs/synthetic/E2.log",
    benchmark:
        "results/benchmarks/synthetic/E2.tsv"
    params:
        spec=lambda w: get_params("E2"),
        seed=get_seed("E2"),
    threads: 1
    resources:
        mem_mb=1500,
        runtime=15,
    conda:
        "../../envs/core.yaml"
    shell:
        "stochastic-attention e2 --params {params.spec:q} --seed {params.seed} --threads {threads}"
        " --output table={output.table:q} markdown={output.markdown:q} latex={output.latex:q}"
        " trace={output.trace:q} figure={output.figure:q} > {log:q} 2>&1"


rule e3_cell:
    output:
        cell="results/synthetic/E3/load_ratio_{load_ratio}.csv",
    wildcard_constraints:
        load_ratio=r"[0-9]+(\.[0-9]+)?",
    log:
        "results/logs/synthetic/E3/load_ratio_{load_ratio}.log",
    benchmark:
        "results/benchmarks/synthetic/E3/load_ratio_{load_ratio}.tsv"
    params:
        spec=lambda w: get_params(
            "E3", exclude=("title", "load_ratios", "contour_level"), load_ratio=float(w.load_ratio)
        ),
        seed=lambda w: get_seed("E3", w.load_ratio),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=15,
    conda:
        "../../envs/core.yaml"
    shell:
        "stochastic-attention e3-cell --params {params.spec:q} --seed {params.seed}"
        " --threads {threads} --output cell={output.cell:q} > {log:q} 2>&1"


rule e3_aggregate:
    input:
        cells=expand("results/synthetic/E3/load_ratio_{load_ratio}.csv", load_ratio=get_e3_load_ratios()),
    output:
        table=report("results/tables/E3.csv", caption="../report/E3.rst", category="Synthetic", subcategory="E3"),
        markdown="results/tables/E3.md",
        latex="results/tables/E3.tex",
        contour="results/tables/E3_contour.csv",
        figure=report("results/figures/E3.png", caption="../report/E3.rst", category="Synthetic", subcategory="E3"),
    log:
        "results/logs/synthetic/E3_aggregate.log",
    benchmark:
        "results/benchmarks/synthetic/E3_aggregate.tsv"
    params:
        spec=lambda w: get_params("E3"),
        seed=get_seed("E3"),
        cells=lambda w, input: named({f"cell{i}": path for i, path in enumerate(input.cells)}),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/core.yaml"
    shell:
        "stochastic-attention e3-aggregate --params {params.spec:q} --seed {params.seed}"
        " --threads {threads} --input {params.cells} --output table={output.table:q}"
        " markdown={output.markdown:q} latex={output.latex:q} contour={output.contour:q}"
        " figure={output.figure:q} > {log:q} 2>&1"


rule critical_law:
    output:
        table=report("results/tables/critical_law.csv", caption="../report/critical_law.rst", category="Synthetic", subcategory="Critical-temperature law"),
        markdown="results/tables/critical_law.md",
        latex="results/tables/critical_law.tex",
        fit="results/tables/critical_law_fit.csv",
        curves="results/tables/critical_law_curves.csv",
        figure=report("results/figures/critical_law.png", caption="../report/critical_law.rst", category="Synthetic", subcategory="Critical-temperature law"),
    log:
        "results/logs/synthetic/critical_law.log",
    benchmark:
        "results/benchmarks/synthetic/critical_law.tsv"
    params:
        spec=lambda w: get_params("critical_law"),
        seed=get_seed("critical_law"),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    conda:
        "../../envs/core.yaml"
    shell:
        "stochastic-attention critical-law --params {params.spec:q} --seed {params.seed}"
        " --threads {threads} --output table={output.table:q} markdown={output.markdown:q}"
        " latex={output.latex:q} fit={output.fit:q} curves={output.curves:q}"
        " figure={output.figure:q} > {log:q} 2>&1"
