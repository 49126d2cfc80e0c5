# Synthetic experiments (SPEC §6 E1–E3) and the critical-temperature law, by kind:
# temperature_spectrum, convergence, phase_diagram, critical_law. Each experiment's config
# block holds the keyword arguments of its library function (stochastic_attention.synthetic).


rule temperature_spectrum:
    output:
        table=report(
            f"{R}/tables/{{experiment}}.csv",
            caption="../report/E1.rst",
            category="{experiment}",
            subcategory=SYNTHETIC_SUBCATEGORY,
            labels=CSV_LABELS,
        ),
        html=report(
            f"{R}/tables/{{experiment}}.html",
            caption="../report/E1.rst",
            category="{experiment}",
            subcategory=SYNTHETIC_SUBCATEGORY,
            labels=HTML_LABELS,
        ),
        markdown=f"{R}/tables/{{experiment}}.md",
        latex=f"{R}/tables/{{experiment}}.tex",
        figure=report(
            f"{R}/figures/{{experiment}}.png",
            caption="../report/E1.rst",
            category="{experiment}",
            subcategory=SYNTHETIC_SUBCATEGORY,
            labels={"result": "figure"},
        ),
    log:
        f"{R}/logs/synthetic/{{experiment}}.log",
    benchmark:
        f"{R}/benchmarks/synthetic/{{experiment}}.tsv"
    wildcard_constraints:
        experiment=names_of("temperature_spectrum"),
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        spec=lambda w: get_synthetic_params(w.experiment),
        seed=lambda w: get_seed(w.experiment),
    shell:
        f"{CLI} e1 --params {{params.spec:q}} --seed {{params.seed}} --threads {{threads}}"
        f" --output table={{output.table:q}} markdown={{output.markdown:q}}"
        f" latex={{output.latex:q}} html={{output.html:q}} figure={{output.figure:q}} > {{log:q}} 2>&1"


rule convergence:
    output:
        table=report(
            f"{R}/tables/{{experiment}}.csv",
            caption="../report/E2.rst",
            category="{experiment}",
            subcategory=SYNTHETIC_SUBCATEGORY,
            labels=CSV_LABELS,
        ),
        html=report(
            f"{R}/tables/{{experiment}}.html",
            caption="../report/E2.rst",
            category="{experiment}",
            subcategory=SYNTHETIC_SUBCATEGORY,
            labels=HTML_LABELS,
        ),
        markdown=f"{R}/tables/{{experiment}}.md",
        latex=f"{R}/tables/{{experiment}}.tex",
        trace=f"{R}/tables/{{experiment}}_trace.csv",
        figure=report(
            f"{R}/figures/{{experiment}}.png",
            caption="../report/E2.rst",
            category="{experiment}",
            subcategory=SYNTHETIC_SUBCATEGORY,
            labels={"result": "figure"},
        ),
    log:
        f"{R}/logs/synthetic/{{experiment}}.log",
    benchmark:
        f"{R}/benchmarks/synthetic/{{experiment}}.tsv"
    wildcard_constraints:
        experiment=names_of("convergence"),
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=1500,
        runtime=15,
    params:
        spec=lambda w: get_synthetic_params(w.experiment),
        seed=lambda w: get_seed(w.experiment),
    shell:
        f"{CLI} e2 --params {{params.spec:q}} --seed {{params.seed}} --threads {{threads}}"
        f" --output table={{output.table:q}} markdown={{output.markdown:q}}"
        f" latex={{output.latex:q}} html={{output.html:q}} trace={{output.trace:q}} figure={{output.figure:q}}"
        f" > {{log:q}} 2>&1"


rule phase_diagram_cell:
    output:
        cell=f"{R}/synthetic/{{experiment}}/load_ratio_{{load_ratio}}.csv",
    log:
        f"{R}/logs/synthetic/{{experiment}}/load_ratio_{{load_ratio}}.log",
    benchmark:
        f"{R}/benchmarks/synthetic/{{experiment}}/load_ratio_{{load_ratio}}.tsv"
    wildcard_constraints:
        experiment=names_of("phase_diagram"),
        load_ratio=r"[0-9]+(\.[0-9]+)?",
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=15,
    params:
        spec=lambda w: get_synthetic_params(
            w.experiment,
            exclude=("title", "load_ratios", "contour_level"),
            load_ratio=float(w.load_ratio),
        ),
        seed=lambda w: get_seed(w.experiment, w.load_ratio),
    shell:
        f"{CLI} e3-cell --params {{params.spec:q}} --seed {{params.seed}}"
        f" --threads {{threads}} --output cell={{output.cell:q}} > {{log:q}} 2>&1"


rule phase_diagram:
    input:
        cells=lambda w: expand(
            f"{R}/synthetic/{w.experiment}/load_ratio_{{load_ratio}}.csv",
            load_ratio=get_load_ratios(w.experiment),
        ),
    output:
        table=report(
            f"{R}/tables/{{experiment}}.csv",
            caption="../report/E3.rst",
            category="{experiment}",
            subcategory=SYNTHETIC_SUBCATEGORY,
            labels=CSV_LABELS,
        ),
        html=report(
            f"{R}/tables/{{experiment}}.html",
            caption="../report/E3.rst",
            category="{experiment}",
            subcategory=SYNTHETIC_SUBCATEGORY,
            labels=HTML_LABELS,
        ),
        markdown=f"{R}/tables/{{experiment}}.md",
        latex=f"{R}/tables/{{experiment}}.tex",
        contour=f"{R}/tables/{{experiment}}_contour.csv",
        figure=report(
            f"{R}/figures/{{experiment}}.png",
            caption="../report/E3.rst",
            category="{experiment}",
            subcategory=SYNTHETIC_SUBCATEGORY,
            labels={"result": "figure"},
        ),
    log:
        f"{R}/logs/synthetic/{{experiment}}_aggregate.log",
    benchmark:
        f"{R}/benchmarks/synthetic/{{experiment}}_aggregate.tsv"
    wildcard_constraints:
        experiment=names_of("phase_diagram"),
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        spec=lambda w: get_synthetic_params(w.experiment),
        seed=lambda w: get_seed(w.experiment),
        cells=lambda w, input: named({f"cell{i}": path for i, path in enumerate(input.cells)}),
    shell:
        f"{CLI} e3-aggregate --params {{params.spec:q}} --seed {{params.seed}}"
        f" --threads {{threads}} --input {{params.cells}} --output table={{output.table:q}}"
        f" markdown={{output.markdown:q}} latex={{output.latex:q}} html={{output.html:q}}"
        f" contour={{output.contour:q}} figure={{output.figure:q}} > {{log:q}} 2>&1"


rule critical_law:
    output:
        table=report(
            f"{R}/tables/{{experiment}}.csv",
            caption="../report/critical_law.rst",
            category="{experiment}",
            subcategory=SYNTHETIC_SUBCATEGORY,
            labels=CSV_LABELS,
        ),
        html=report(
            f"{R}/tables/{{experiment}}.html",
            caption="../report/critical_law.rst",
            category="{experiment}",
            subcategory=SYNTHETIC_SUBCATEGORY,
            labels=HTML_LABELS,
        ),
        markdown=f"{R}/tables/{{experiment}}.md",
        latex=f"{R}/tables/{{experiment}}.tex",
        fit=f"{R}/tables/{{experiment}}_fit.csv",
        curves=f"{R}/tables/{{experiment}}_curves.csv",
        figure=report(
            f"{R}/figures/{{experiment}}.png",
            caption="../report/critical_law.rst",
            category="{experiment}",
            subcategory=SYNTHETIC_SUBCATEGORY,
            labels={"result": "figure"},
        ),
    log:
        f"{R}/logs/synthetic/{{experiment}}.log",
    benchmark:
        f"{R}/benchmarks/synthetic/{{experiment}}.tsv"
    wildcard_constraints:
        experiment=names_of("critical_law"),
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        spec=lambda w: get_synthetic_params(w.experiment),
        seed=lambda w: get_seed(w.experiment),
    shell:
        f"{CLI} critical-law --params {{params.spec:q}} --seed {{params.seed}}"
        f" --threads {{threads}} --output table={{output.table:q}}"
        f" markdown={{output.markdown:q}} latex={{output.latex:q}} html={{output.html:q}} fit={{output.fit:q}}"
        f" curves={{output.curves:q}} figure={{output.figure:q}} > {{log:q}} 2>&1"
