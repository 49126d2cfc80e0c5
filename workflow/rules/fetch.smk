rule fetch:
    output:
        "resources/{domain}/{domain}.npz",
    log:
        "results/logs/fetch/{domain}.log",
    params:
        spec=lambda w: json.dumps({"domain": w.domain, "source": get_source(w.domain)}),
    benchmark:
        "results/benchmarks/fetch/{domain}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    retries: 2
    shell:
        "stochastic-attention fetch --params {params.spec:q} --output raw={output:q} > {log:q} 2>&1"
