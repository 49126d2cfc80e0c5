# Tables, figures and the summary of the data experiments (comparison, sweep, spectrum).


rule experiment_table:
    input:
        unpack(get_table_inputs),
    output:
        csv=report(
            f"{R}/tables/{{experiment}}.csv",
            caption="../report/experiment_table.rst",
            category="{experiment}",
            subcategory=TABLE_SUBCATEGORY,
            labels=CSV_LABELS,
        ),
        md=f"{R}/tables/{{experiment}}.md",
        tex=f"{R}/tables/{{experiment}}.tex",
        html=report(
            f"{R}/tables/{{experiment}}.html",
            caption="../report/experiment_table.rst",
            category="{experiment}",
            subcategory=TABLE_SUBCATEGORY,
            labels=HTML_LABELS,
        ),
    log:
        f"{R}/logs/tables/{{experiment}}.log",
    wildcard_constraints:
        experiment=data_experiments(),
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
        report(
            f"{R}/figures/{{experiment}}/{{dataset}}/{{figure}}.png",
            caption="../report/figure.rst",
            category="{experiment}",
            subcategory="{dataset}",
            labels=figure_labels,
        ),
    log:
        f"{R}/logs/figures/{{experiment}}/{{dataset}}/{{figure}}.log",
    wildcard_constraints:
        experiment=data_experiments(),
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


rule sequence:
    input:
        unpack(get_sequence_inputs),
    output:
        csv=report(
            f"{R}/tables/{{experiment}}.csv",
            caption="../report/sequence.rst",
            category="{experiment}",
            subcategory=sequence_dataset,
            labels=CSV_LABELS,
        ),
        md=f"{R}/tables/{{experiment}}.md",
        tex=f"{R}/tables/{{experiment}}.tex",
        html=report(
            f"{R}/tables/{{experiment}}.html",
            caption="../report/sequence.rst",
            category="{experiment}",
            subcategory=sequence_dataset,
            labels=HTML_LABELS,
        ),
        figure=report(
            f"{R}/figures/{{experiment}}.png",
            caption="../report/sequence.rst",
            category="{experiment}",
            subcategory=sequence_dataset,
            labels={"result": "figure: autocorrelations"},
        ),
    log:
        f"{R}/logs/sequence/{{experiment}}.log",
    benchmark:
        f"{R}/benchmarks/sequence/{{experiment}}.tsv"
    wildcard_constraints:
        experiment=names_of("sequence"),
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        spec=get_sequence_params,
        seed=lambda w: get_seed(w.experiment),
        inputs=lambda w, input: named(dict(input.items())),
    shell:
        f"{CLI} sequence --params {{params.spec:q}} --seed {{params.seed}}"
        f" --input {{params.inputs}} --output csv={{output.csv:q}} md={{output.md:q}}"
        f" tex={{output.tex:q}} html={{output.html:q}} figure={{output.figure:q}} > {{log:q}} 2>&1"
