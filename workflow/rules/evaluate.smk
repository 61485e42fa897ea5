rule evaluate:
    input:
        embeddings=[
            f"results/runs/{RUN}/embeddings/{collection}.npz"
            for collection in COLLECTIONS
        ],
        collections=expand("resources/collections/{collection}", collection=COLLECTIONS),
    output:
        # One job per run for all its collections: each takes a second, less than starting a job.
        [f"results/runs/{RUN}/metrics/{collection}.json" for collection in COLLECTIONS],
    log:
        f"logs/evaluate/{RUN}.log",
    benchmark:
        f"results/benchmarks/evaluate/{RUN}.tsv"
    conda:
        "../../envs/drscale.yaml"
    resources:
        mem_mb=planned("evaluate", "mem_mb"),
        runtime=planned("evaluate", "runtime"),
    params:
        test_splits=[config["collections"][c]["test_split"] for c in COLLECTIONS],
        evaluation=canonical(config["evaluation"]),
    script:
        "../scripts/evaluate.py"
