rule train:
    input:
        unpack(strategy_inputs),
        model="resources/models/{model}",
        pairs="results/train_pairs/data~{data}.jsonl",
    output:
        model=directory(f"results/runs/{RUN}/model"),
        loss_curve=f"results/runs/{RUN}/loss_curve.tsv",
        trajectory=f"results/runs/{RUN}/trajectory.tsv",
        model_info=f"results/runs/{RUN}/model_info.json",
    log:
        f"logs/train/{RUN}.log",
    benchmark:
        f"results/benchmarks/train/{RUN}.tsv"
    conda:
        "../../envs/drscale.yaml"
    threads: config["training"]["threads"]
    resources:
        mem_mb=planned("train", "mem_mb"),
        runtime=planned("train", "runtime"),
        gpu=config["training"]["gpu"],
    params:
        # Not an output: Snakemake must not delete it when a killed job is rerun.
        checkpoints=f"results/checkpoints/{RUN}",
        model=model_entry,
        training=canonical(config["training"]),
        strategy_config=strategy_config,
    script:
        "../scripts/train.py"
