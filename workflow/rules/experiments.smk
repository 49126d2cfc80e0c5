# Tables, figures and the summary of the experiments with table rows (comparison, sweep,
# spectrum), and one rule per experiment kind that writes its outputs in one step of its own
# (stochastic_attention.experiments: sequence, temperature_spectrum, convergence,
# phase_diagram, critical_law, and plug-in kinds).


rule experiment_table:
    input:
        unpack(get_table_inputs),
    output:
        csv=report_entry(
            f"{R}/tables/{{experiment}}.csv", "experiment_table.rst", TABLE_SUBCATEGORY, TABLE_CSV
        ),
        md=f"{R}/tables/{{experiment}}.md",
        tex=f"{R}/tables/{{experiment}}.tex",
        html=report_entry(
            f"{R}/tables/{{experiment}}.html",
            "experiment_table.rst",
            TABLE_SUBCATEGORY,
            TABLE_HTML,
        ),
    log:
        f"{R}/logs/tables/{{experiment}}.log",
    wildcard_constraints:
        experiment=row_experiments(),
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        spec=get_experiment_params,
        inputs=lambda w, input: named(dict(input.items())),
    shell:
        f"{CLI} experiment-table --params {{params.spec:q}} --input {{params.inputs}}"
        f" --output csv={{output.csv:q}} md={{output.md:q}} tex={{output.tex:q}}"
        f" html={{output.html:q}} > {{log:q}} 2>&1"


rule figure:
    input:
        unpack(get_figure_inputs),
    output:
        report_entry(
            f"{R}/figures/{{experiment}}/{{dataset}}/{{figure}}.png",
            "figure.rst",
            "{dataset}",
            figure_label,
        ),
    log:
        f"{R}/logs/figures/{{experiment}}/{{dataset}}/{{figure}}.log",
    wildcard_constraints:
        experiment=row_experiments(),
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        spec=get_figure_params,
        inputs=lambda w, input: named(dict(input.items())),
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
    conda:
        "../../envs/core.yaml"
    threads: 1
    params:
        inputs=lambda w, input: named(dict(input.items())),
        spec=json.dumps({"config_files": [str(p) for p in workflow.configfiles]}),
    shell:
        f"{CLI} summary --params {{params.spec:q}} --input {{params.inputs}}"
        f" --output summary={{output:q}} > {{log:q}} 2>&1"


rule export:
    input:
        memory=f"{R}/memory/{{domain}}/{{dataset}}.npz",
        samples=f"{R}/samples/{{domain}}/{{dataset}}/{{method}}.npz",
    output:
        f"{R}/samples/{{domain}}/{{dataset}}/{{method}}.{{suffix}}",
    log:
        f"{R}/logs/export/{{domain}}/{{dataset}}/{{method}}.{{suffix}}.log",
    wildcard_constraints:
        suffix="(?!npz)[a-z]+",
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        f"{CLI} export --input memory={{input.memory:q}} samples={{input.samples:q}}"
        f" --output export={{output:q}} > {{log:q}} 2>&1"


for _kind in step_kinds():

    rule:
        name:
            _kind.KIND
        input:
            unpack(lambda w, kind=_kind: step_inputs(kind, PLAN, w.experiment)),
        output:
            **step_outputs(_kind),
        log:
            f"{R}/logs/experiments/{{experiment}}.log",
        benchmark:
            f"{R}/benchmarks/experiments/{{experiment}}.tsv"
        wildcard_constraints:
            experiment=names_of(_kind.KIND),
        conda:
            "../../envs/core.yaml"
        threads: 1
        resources:
            **_kind.RESOURCES,
        params:
            # the step as a value: the shell line below is formatted when a job runs, after
            # the loop has moved on, so it must not read the loop variable
            step=_kind.STEP,
            spec=lambda w: get_experiment_block(w.experiment),
            seed=lambda w: get_seed(w.experiment),
            inputs=lambda w, input: named(dict(input.items())),
            outputs=lambda w, output: named(dict(output.items())),
        shell:
            f"{CLI} {{params.step}} --params {{params.spec:q}} --seed {{params.seed}}"
            f" --threads {{threads}} --input {{params.inputs}} --output {{params.outputs}}"
            f" > {{log:q}} 2>&1"
