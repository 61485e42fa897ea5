rule tokenize:
    input:
        tokenizer=tokenizer_folder,
        collection="resources/collections/{collection}",
    output:
        "resources/tokens/{tokenizer}/{collection}.npz",
    log:
        "logs/tokenize/{tokenizer}/{collection}.log",
    benchmark:
        "results/benchmarks/tokenize/{tokenizer}/{collection}.tsv"
    conda:
        "../../envs/drscale.yaml"
    resources:
        mem_mb=planned("tokenize", "mem_mb"),
        runtime=planned("tokenize", "runtime"),
    params:
        splits=query_splits,
        query_length=config["training"]["max_query_length"],
        passage_length=config["training"]["max_passage_length"],
    script:
        "../scripts/tokenize.py"
