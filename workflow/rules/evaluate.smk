rule evaluate:
    input:
        embeddings=f"results/runs/{RUN}/embeddings/{{collection}}.npz",
        collection="resources/collections/{collection}",
    output:
        f"results/runs/{RUN}/metrics/{{collection}}.json",
    log:
        f"logs/evaluate/{RUN}/{{collection}}.log",
    benchmark:
        f"results/benchmarks/evaluate/{RUN}/{{collection}}.tsv"
    conda:
        "../../envs/drscale.yaml"
    params:
        test_split=test_split,
        evaluation=canonical(config["evaluation"]),
    script:
        "../scripts/evaluate.py"
