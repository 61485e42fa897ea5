rule harvest_docstrings:
    output:
        "resources/docstrings/{package}.jsonl",
    log:
        "logs/harvest_docstrings/{package}.log",
    benchmark:
        "results/benchmarks/harvest_docstrings/{package}.tsv"
    conda:
        "../../envs/drscale.yaml"
    script:
        "../scripts/harvest_docstrings.py"


rule prepare_collection:
    input:
        unpack(collection_inputs),
    output:
        directory("resources/collections/{collection}"),
    log:
        "logs/prepare_collection/{collection}.log",
    benchmark:
        "results/benchmarks/prepare_collection/{collection}.tsv"
    conda:
        "../../envs/drscale.yaml"
    params:
        entry=preparation_entry,
    script:
        "../scripts/prepare_collection.py"


rule training_pairs:
    input:
        f"resources/collections/{IN_DOMAIN}",
    output:
        "results/train_pairs/data~{data}.jsonl",
    log:
        "logs/training_pairs/data~{data}.log",
    benchmark:
        "results/benchmarks/training_pairs/data~{data}.tsv"
    conda:
        "../../envs/drscale.yaml"
    params:
        seed=config["data_seed"],
    script:
        "../scripts/training_pairs.py"
