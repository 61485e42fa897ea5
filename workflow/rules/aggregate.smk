rule aggregate:
    input:
        [r["model_info"] for r in run_records()],
        [path for r in run_records() for _, path in r["metrics"]],
    output:
        metrics=report(
            "results/metrics.tsv",
            caption="../report/metrics.rst",
            category="Tables",
        ),
    log:
        "logs/aggregate/aggregate.log",
    benchmark:
        "results/benchmarks/aggregate/aggregate.tsv"
    conda:
        "../../envs/drscale.yaml"
    params:
        runs=run_records(),
        in_domain=IN_DOMAIN,
        negatives={c: collection_negatives(c) for c in COLLECTIONS},
    script:
        "../scripts/aggregate.py"
