rule sample_negatives:
    input:
        "resources/collections/{collection}",
    output:
        "resources/samples/{collection}.npz",
    log:
        "logs/sample_negatives/{collection}.log",
    benchmark:
        "results/benchmarks/sample_negatives/{collection}.tsv"
    conda:
        "../../envs/drscale.yaml"
    resources:
        mem_mb=planned("sample_negatives", "mem_mb"),
        runtime=planned("sample_negatives", "runtime"),
    params:
        roles=collection_roles,
        negatives=lambda wildcards: collection_negatives(wildcards.collection),
        sampling={k: config["evaluation"][k] for k in ("draws", "seed")},
        attacked=attacked_queries,
    script:
        "../scripts/sample_negatives.py"


rule encode:
    input:
        model=f"results/runs/{RUN}/model",
        tokens=collection_tokens,
        sample="resources/samples/{collection}.npz",
    output:
        # One job per (run, collection): adding or removing a collection encodes only that
        # collection and leaves the other scores, and the attack that reads the in-domain ones,
        # untouched. temp(): the paper grid's scores are 217 of its 245 GB; evaluate and attack
        # read them once (docs/design.md, section 8, "Disk").
        temp(f"results/runs/{RUN}/scores/{{collection}}.npz"),
    log:
        f"logs/encode/{RUN}/{{collection}}.log",
    benchmark:
        f"results/benchmarks/encode/{RUN}/{{collection}}.tsv"
    conda:
        "../../envs/drscale.yaml"
    threads: config["training"]["threads"]
    resources:
        mem_mb=planned("encode", "mem_mb"),
        runtime=planned("encode", "runtime"),
        gpu=config["training"]["gpu"],
    params:
        batch_size=config["evaluation"]["batch_size"],
        shard_size=config["evaluation"]["shard_size"],
    script:
        "../scripts/encode.py"
