rule sample:
    input:
        unpack(get_sample_inputs),
    output:
        "results/samples/{domain}/{dataset}/{method}.npz",
    log:
        "results/logs/sample/{domain}/{dataset}/{method}.log",
    benchmark:
        "results/benchmarks/sample/{domain}/{dataset}/{method}.tsv"
    params:
        spec=get_method_params,
        seed=lambda w: get_seed(w.dataset, w.method),
        inputs=lambda w, input: named(dict(input.items())),
        # the configured thread count, not Snakemake's (which --cores may scale down):
        # torch's float reductions depend on it, and tables must not depend on --cores
        threads=get_method_threads,
    threads: get_method_threads
    resources:
        mem_mb=2000,
        runtime=60,
    conda:
        "../../envs/learn.yaml"
    shell:
        "stochastic-attention sample --params {params.spec:q} --seed {params.seed}"
        " --threads {params.threads} --input {params.inputs} --output samples={output:q} > {log:q} 2>&1"
