rule metrics:
    input:
        memory=get_memory,
        samples="results/samples/{domain}/{dataset}/{method}.npz",
    output:
        "results/metrics/{domain}/{dataset}/{method}.json",
    log:
        "results/logs/metrics/{domain}/{dataset}/{method}.log",
    benchmark:
        "results/benchmarks/metrics/{domain}/{dataset}/{method}.tsv"
    params:
        spec=get_metrics_params,
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/core.yaml"
    shell:
        "stochastic-attention metrics --params {params.spec:q} --input memory={input.memory:q}"
        " samples={input.samples:q} --output metrics={output:q} > {log:q} 2>&1"
