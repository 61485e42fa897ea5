rule attack:
    input:
        model=f"results/runs/{RUN}/model",
        embeddings=f"results/runs/{RUN}/embeddings/{{collection}}.npz",
        collection="resources/collections/{collection}",
    output:
        f"results/runs/{RUN}/attacks/{{collection}}.jsonl",
    log:
        f"logs/attack/{RUN}/{{collection}}.log",
    benchmark:
        f"results/benchmarks/attack/{RUN}/{{collection}}.tsv"
    conda:
        "../../envs/drscale.yaml"
    threads: config["training"]["threads"]
    resources:
        gpu=config["training"]["gpu"],
    params:
        test_split=test_split,
        evaluation=canonical(config["evaluation"]),
        attack=canonical(config["attack"]),
    script:
        "../scripts/attack.py"


rule evaluate_attack:
    input:
        attacks=f"results/runs/{RUN}/attacks/{{collection}}.jsonl",
        embeddings=f"results/runs/{RUN}/embeddings/{{collection}}.npz",
        collection="resources/collections/{collection}",
    output:
        f"results/runs/{RUN}/metrics/{{collection}}.adv.json",
    log:
        f"logs/evaluate_attack/{RUN}/{{collection}}.log",
    benchmark:
        f"results/benchmarks/evaluate_attack/{RUN}/{{collection}}.tsv"
    conda:
        "../../envs/drscale.yaml"
    params:
        test_split=test_split,
        evaluation=canonical(config["evaluation"]),
        attack=canonical(config["attack"]),
    script:
        "../scripts/evaluate_attack.py"
