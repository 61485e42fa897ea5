rule evaluate:
    input:
        scores=f"results/runs/{RUN}/scores/{{collection}}.npz",
        sample="resources/samples/{collection}.npz",
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
        score_scale=config["evaluation"]["score_scale"],
    script:
        "../scripts/evaluate.py"
