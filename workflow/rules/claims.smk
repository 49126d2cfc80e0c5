# The paper's headline claims evaluated on this run's tables (stochastic_attention.claims).


rule claims:
    input:
        unpack(get_claims_inputs),
    output:
        csv=report_entry(
            f"{R}/tables/claims.csv", "claims.rst", CLAIMS_SUBCATEGORY, TABLE_CSV, "claims"
        ),
        md=f"{R}/tables/claims.md",
        tex=f"{R}/tables/claims.tex",
        html=report_entry(
            f"{R}/tables/claims.html", "claims.rst", CLAIMS_SUBCATEGORY, TABLE_HTML, "claims"
        ),
    log:
        f"{R}/logs/tables/claims.log",
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        spec=get_claims_params,
        inputs=lambda w, input: named(dict(input.items())),
    shell:
        f"{CLI} claims --params {{params.spec:q}} --input {{params.inputs}}"
        f" --output csv={{output.csv:q}} md={{output.md:q}} tex={{output.tex:q}}"
        f" html={{output.html:q}} > {{log:q}} 2>&1"
