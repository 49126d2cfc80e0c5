rule memory:
    input:
        raw="resources/{domain}/{domain}.npz",
    output:
        "results/memory/{domain}/{dataset}.npz",
    log:
        "results/logs/memory/{domain}/{dataset}.log",
    benchmark:
        "results/benchmarks/memory/{domain}/{dataset}.tsv"
    params:
        spec=lambda w: json.dumps(DATASETS[w.dataset], sort_keys=True),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/core.yaml"
    shell:
        "stochastic-attention memory --params {params.spec:q} --input raw={input.raw:q}"
        " --output memory={output:q} > {log:q} 2>&1"
