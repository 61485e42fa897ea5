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
        samples=expand("resources/samples/{collection}.npz", collection=COLLECTIONS),
    output:
        # One job per run for all its collections: a job's start (importing sentence-transformers,
        # ~9 s of CPU) costs more than encoding a collection. One file per collection, so evaluate
        # jobs stay per collection and the attack reads only the in-domain scores. temp(): the
        # paper grid's scores are 217 of its 245 GB; the profiles keep them (notemp) for
        # extensions, --delete-temp-output removes them (docs/design.md, section 8, "Disk").
        temp(
            [
                f"results/runs/{RUN}/scores/{collection}.npz"
                for collection in COLLECTIONS
            ]
        ),
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
        shard_size=config["evaluation"]["shard_size"],
    script:
        "../scripts/encode.py"
