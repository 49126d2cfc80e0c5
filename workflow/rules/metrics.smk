rule metrics:
    input:
        memory=get_memory,
        samples="results/samples/{domain}/{dataset}/{method}.npz",
    output:
        "results/metrics/{domain}/{dataset}/{method}.json",
    log:
        "results/logs/metrics/{domain}/{dataset}/{method}.log",
    params:
        spec=get_metrics_params,
    benchmark:
        "results/benchmarks/metrics/{domain}/{dataset}/{method}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "stochastic-attention metrics --params {params.spec:q} --input memory={input.memory:q}"
        " samples={input.samples:q} --output metrics={output:q} > {log:q} 2>&1"
