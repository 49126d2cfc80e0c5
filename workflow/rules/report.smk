rule comparison_table:
    input:
        unpack(get_experiment_metrics),
    output:
        table=report("results/tables/{experiment}.csv", caption="../report/comparison_table.rst", category="Tables"),
        markdown="results/tables/{experiment}.md",
        latex="results/tables/{experiment}.tex",
    log:
        "results/logs/tables/{experiment}.log",
    params:
        spec=get_table_params,
        inputs=lambda w, input: named(dict(input.items())),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/core.yaml"
    shell:
        "stochastic-attention comparison-table --params {params.spec:q} --input {params.inputs}"
        " --output table={output.table:q} markdown={output.markdown:q} latex={output.latex:q}"
        " > {log:q} 2>&1"


rule sample_grids:
    input:
        unpack(get_grid_inputs),
    output:
        report(
            "results/figures/{experiment}_{dataset}_samples.png",
            caption="../report/sample_grids.rst",
            category="Sample grids",
            subcategory="{experiment}",
        ),
    log:
        "results/logs/figures/{experiment}_{dataset}_samples.log",
    params:
        spec=get_grid_params,
        inputs=lambda w, input: named(dict(input.items())),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/core.yaml"
    shell:
        "stochastic-attention sample-grids --params {params.spec:q} --input {params.inputs}"
        " --output figure={output:q} > {log:q} 2>&1"


rule training_curves:
    input:
        unpack(get_training_inputs),
    output:
        report(
            "results/figures/{experiment}_{dataset}_training.png",
            caption="../report/training_curves.rst",
            category="Training losses",
            subcategory="{experiment}",
        ),
    log:
        "results/logs/figures/{experiment}_{dataset}_training.log",
    params:
        spec=lambda w: json.dumps({"title": f"{w.experiment}: training losses on {w.dataset}"}),
        inputs=lambda w, input: named(dict(input.items())),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/core.yaml"
    shell:
        "stochastic-attention training-curves --params {params.spec:q} --input {params.inputs}"
        " --output figure={output:q} > {log:q} 2>&1"


rule summary:
    input:
        **get_table_markdowns(),
    output:
        "results/summary.md",
    log:
        "results/logs/summary.log",
    params:
        inputs=lambda w, input: named(dict(input.items())),
    threads: 1
    conda:
        "../../envs/core.yaml"
    shell:
        "stochastic-attention summary --input {params.inputs} --output summary={output:q} > {log:q} 2>&1"
