rule fetch:
    output:
        "resources/{domain}/{domain}.npz",
    log:
        "results/logs/fetch/{domain}.log",
    benchmark:
        "results/benchmarks/fetch/{domain}.tsv"
    params:
        spec=lambda w: json.dumps({"domain": w.domain, "source": get_source(w.domain)}),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    retries: 2
    conda:
        "../../envs/core.yaml"
    shell:
        "stochastic-attention fetch --params {params.spec:q} --output raw={output:q} > {log:q} 2>&1"
