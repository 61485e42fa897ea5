rule encode:
    input:
        model=f"results/runs/{RUN}/model",
        tokens=collection_tokens,
    output:
        [
            f"results/runs/{RUN}/embeddings/{collection}.npz"
            for collection in COLLECTIONS
        ],
    log:
        f"logs/encode/{RUN}.log",
    benchmark:
        f"results/benchmarks/encode/{RUN}.tsv"
    conda:
        "../../envs/drscale.yaml"
    threads: config["training"]["threads"]
    resources:
        mem_mb=planned("encode", "mem_mb"),
        runtime=planned("encode", "runtime"),
        gpu=config["training"]["gpu"],
    params:
        batch_size=config["evaluation"]["batch_size"],
    script:
        "../scripts/encode.py"
