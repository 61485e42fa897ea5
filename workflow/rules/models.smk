rule train_tokenizer:
    input:
        f"resources/collections/{config['in_domain']}",
    output:
        directory("resources/tokenizer"),
    log:
        "logs/train_tokenizer/train_tokenizer.log",
    benchmark:
        "results/benchmarks/train_tokenizer/train_tokenizer.tsv"
    params:
        vocab_size=config["tokenizer"]["vocab_size"],
    conda:
        "../../envs/drscale.yaml"
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
    params:
        entry=model_entry,
        max_positions=max(
            config["training"]["max_query_length"], config["training"]["max_passage_length"]
        ),
    conda:
        "../../envs/drscale.yaml"
    script:
        "../scripts/prepare_model.py"
