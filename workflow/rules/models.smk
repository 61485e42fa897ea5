rule train_tokenizer:
    input:
        f"resources/collections/{IN_DOMAIN}",
    output:
        directory("resources/tokenizer"),
    log:
        "logs/train_tokenizer/train_tokenizer.log",
    benchmark:
        "results/benchmarks/train_tokenizer/train_tokenizer.tsv"
    conda:
        "../../envs/drscale.yaml"
    params:
        vocab_size=config["tokenizer"]["vocab_size"],
    script:
        "../scripts/train_tokenizer.py"


rule prepare_model:
    input:
        unpack(start_model_inputs),
    output:
        directory("resources/models/{model}"),
    log:
        "logs/prepare_model/{model}.log",
    benchmark:
        "results/benchmarks/prepare_model/{model}.tsv"
    conda:
        "../../envs/drscale.yaml"
    params:
        entry=model_entry,
        max_positions=max(
            config["training"]["max_query_length"],
            config["training"]["max_passage_length"],
        ),
    script:
        "../scripts/prepare_model.py"
