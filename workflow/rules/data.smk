# Data jobs: fetch a domain's source, build each dataset's memory, draw each method's
# samples, score them. Paths and parameters come from the plan (common.smk).


rule fetch:
    output:
        raw="resources/{domain}/{domain}-{source}.npz",
        provenance="resources/{domain}/{domain}-{source}.npz.provenance.json",
    log:
        f"{R}/logs/fetch/{{domain}}-{{source}}.log",
    benchmark:
        f"{R}/benchmarks/fetch/{{domain}}-{{source}}.tsv"
    wildcard_constraints:
        source="[0-9a-f]{10}",
    # network sources retry inside the download (download.py); a bad file never heals
    retries: 0
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        spec=get_source_spec,
        digest=get_source_digest,
    shell:
        f"{CLI} fetch --params {{params.spec:q}} --output raw={{output.raw:q}} > {{log:q}} 2>&1"


rule memory:
    input:
        unpack(get_memory_inputs),
    output:
        f"{R}/memory/{{domain}}/{{dataset}}.npz",
    log:
        f"{R}/logs/memory/{{domain}}/{{dataset}}.log",
    benchmark:
        f"{R}/benchmarks/memory/{{domain}}/{{dataset}}.tsv"
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=get_resource("memory", "mem_mb"),
        runtime=get_resource("memory", "runtime"),
    params:
        spec=get_memory_spec,
        digest=get_memory_digest,
        inputs=lambda w, input: named(dict(input.items())),
    shell:
        f"{CLI} memory --params {{params.spec:q}} --input {{params.inputs}}"
        f" --output memory={{output:q}} > {{log:q}} 2>&1"


rule sample:
    input:
        unpack(get_sample_inputs),
    output:
        f"{R}/samples/{{domain}}/{{dataset}}/{{method}}.npz",
    log:
        f"{R}/logs/sample/{{domain}}/{{dataset}}/{{method}}.log",
    benchmark:
        f"{R}/benchmarks/sample/{{domain}}/{{dataset}}/{{method}}.tsv"
    conda:
        "../../envs/learn.yaml"
    threads: get_method_threads
    resources:
        mem_mb=get_resource("sample", "mem_mb"),
        runtime=get_resource("sample", "runtime"),
        gpu=get_method_gpus,  # the SLURM plugin turns gpu=1 into --gpus=1
    params:
        spec=get_sample_spec,
        inputs=lambda w, input: named(dict(input.items())),
        # the configured thread count, not Snakemake's (which --cores may scale down):
        # torch's float reductions depend on it, and tables must not depend on --cores
        threads=get_method_threads,
    shell:
        f"{CLI} sample --params {{params.spec:q}}"
        f" --threads {{params.threads}} --input {{params.inputs}}"
        f" --output samples={{output:q}} > {{log:q}} 2>&1"


rule metrics:
    input:
        memory=f"{R}/memory/{{domain}}/{{dataset}}.npz",
        samples=f"{R}/samples/{{domain}}/{{dataset}}/{{method}}.npz",
    output:
        f"{R}/metrics/{{domain}}/{{dataset}}/{{method}}.json",
    log:
        f"{R}/logs/metrics/{{domain}}/{{dataset}}/{{method}}.log",
    benchmark:
        f"{R}/benchmarks/metrics/{{domain}}/{{dataset}}/{{method}}.tsv"
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=get_resource("metrics", "mem_mb"),
        runtime=get_resource("metrics", "runtime"),
    params:
        spec=lambda w: json.dumps({"dataset": w.dataset, "method": w.method}),
    shell:
        f"{CLI} metrics --params {{params.spec:q}} --input memory={{input.memory:q}}"
        f" samples={{input.samples:q}} --output metrics={{output:q}} > {{log:q}} 2>&1"


rule paired:
    input:
        memory=f"{R}/memory/{{domain}}/{{dataset}}.npz",
        first=f"{R}/samples/{{domain}}/{{dataset}}/{{first}}.npz",
        second=f"{R}/samples/{{domain}}/{{dataset}}/{{second}}.npz",
    output:
        f"{R}/metrics/{{domain}}/{{dataset}}/paired/{{first}}__minus__{{second}}.json",
    log:
        f"{R}/logs/paired/{{domain}}/{{dataset}}/{{first}}__minus__{{second}}.log",
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        spec=lambda w: json.dumps({"first": w.first, "second": w.second}),
    shell:
        f"{CLI} paired --params {{params.spec:q}} --input memory={{input.memory:q}}"
        f" first={{input.first:q}} second={{input.second:q}} --output paired={{output:q}}"
        f" > {{log:q}} 2>&1"
