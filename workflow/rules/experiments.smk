# Tables, figures and the summary of the data experiments (comparison, sweep, spectrum).


rule experiment_table:
    input:
        unpack(get_table_inputs),
    output:
        csv=report(
            f"{R}/tables/{{experiment}}.csv",
            caption="../report/experiment_table.rst",
            category="Tables",
        ),
        md=f"{R}/tables/{{experiment}}.md",
        tex=f"{R}/tables/{{experiment}}.tex",
        html=report(
            f"{R}/tables/{{experiment}}.html",
            caption="../report/experiment_table.rst",
            category="Tables",
            labels={"experiment": "{experiment}", "format": "table"},
        ),
    wildcard_constraints:
        experiment=data_experiments(),
    log:
        f"{R}/logs/tables/{{experiment}}.log",
    params:
        spec=get_experiment_params,
        inputs=lambda w, input: named(dict(input.items())),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/core.yaml"
    shell:
        f"{CLI} experiment-table --params {{params.spec:q}} --input {{params.inputs}}"
        f" --output csv={{output.csv:q}} md={{output.md:q}} tex={{output.tex:q}}"
        f" html={{output.html:q}} > {{log:q}} 2>&1"


rule figure:
    input:
        unpack(get_figure_inputs),
    output:
        report(
            f"{R}/figures/{{experiment}}/{{dataset}}/{{figure}}.png",
            caption="../report/figure.rst",
            category="{experiment}",
            subcategory="{dataset}",
            labels={"figure": "{figure}"},
        ),
    wildcard_constraints:
        experiment=data_experiments(),
    log:
        f"{R}/logs/figures/{{experiment}}/{{dataset}}/{{figure}}.log",
    params:
        spec=get_figure_params,
        inputs=lambda w, input: named(dict(input.items())),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/core.yaml"
    shell:
        f"{CLI} figure --params {{params.spec:q}} --input {{params.inputs}}"
        f" --output figure={{output:q}} > {{log:q}} 2>&1"


rule summary:
    input:
        **get_summary_inputs(),
    output:
        f"{R}/summary.md",
    log:
        f"{R}/logs/summary.log",
    params:
        inputs=lambda w, input: named(dict(input.items())),
        spec=json.dumps({"config_files": [str(p) for p in workflow.configfiles]}),
    threads: 1
    conda:
        "../../envs/core.yaml"
    shell:
        f"{CLI} summary --params {{params.spec:q}} --input {{params.inputs}}"
        f" --output summary={{output:q}} > {{log:q}} 2>&1"
