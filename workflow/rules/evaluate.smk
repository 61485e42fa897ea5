rule evaluate:
    input:
        embeddings=f"results/runs/{RUN}/embeddings/{{collection}}.npz",
        collection="resources/collections/{collection}",
    output:
        f"results/runs/{RUN}/metrics/{{split}}/{{collection}}.json",
    log:
        f"logs/evaluate/{RUN}/{{split}}/{{collection}}.log",
    benchmark:
        f"results/benchmarks/evaluate/{RUN}/{{split}}/{{collection}}.tsv"
    conda:
        "../../envs/drscale.yaml"
    params:
        qrels_split=qrels_split,
        negatives=lambda wildcards: collection_negatives(wildcards.collection),
        evaluation=evaluation_settings(),
    script:
        "../scripts/evaluate.py"
