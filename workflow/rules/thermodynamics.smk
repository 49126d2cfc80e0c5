# The cells of a phase diagram (SPEC §6 E3): one job per load ratio; the experiment kind's
# own rule (phase_diagram, experiments.smk) joins them (stochastic_attention.experiments).


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
        spec=lambda w: get_experiment_block(
            w.experiment,
            exclude=("title", "load_ratios", "contour_level"),
            load_ratio=float(w.load_ratio),
        ),
        seed=lambda w: get_seed(w.experiment, w.load_ratio),
    shell:
        f"{CLI} phase-diagram-cell --params {{params.spec:q}} --seed {{params.seed}}"
        f" --threads {{threads}} --output cell={{output.cell:q}} > {{log:q}} 2>&1"
