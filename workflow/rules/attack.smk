rule attack:
    input:
        model=f"results/runs/{RUN}/model",
        embeddings=f"results/runs/{RUN}/embeddings/{IN_DOMAIN}.npz",
        collection=f"resources/collections/{IN_DOMAIN}",
    output:
        f"results/runs/{RUN}/attacks/{{split}}/{IN_DOMAIN}.jsonl",
    log:
        f"logs/attack/{RUN}/{{split}}/{IN_DOMAIN}.log",
    benchmark:
        f"results/benchmarks/attack/{RUN}/{{split}}/{IN_DOMAIN}.tsv"
    conda:
        "../../envs/drscale.yaml"
    threads: config["training"]["threads"]
    resources:
        gpu=config["training"]["gpu"],
    params:
        qrels_split=in_domain_split,
        negatives=collection_negatives(IN_DOMAIN),
        evaluation=evaluation_settings(),
        attack=canonical(config["attack"]),
    script:
        "../scripts/attack.py"


rule evaluate_attack:
    input:
        attacks=f"results/runs/{RUN}/attacks/{{split}}/{IN_DOMAIN}.jsonl",
        embeddings=f"results/runs/{RUN}/embeddings/{IN_DOMAIN}.npz",
        collection=f"resources/collections/{IN_DOMAIN}",
    output:
        f"results/runs/{RUN}/metrics/{{split}}/{IN_DOMAIN}.adv.json",
    log:
        f"logs/evaluate_attack/{RUN}/{{split}}/{IN_DOMAIN}.log",
    benchmark:
        f"results/benchmarks/evaluate_attack/{RUN}/{{split}}/{IN_DOMAIN}.tsv"
    conda:
        "../../envs/drscale.yaml"
    params:
        qrels_split=in_domain_split,
        negatives=collection_negatives(IN_DOMAIN),
        evaluation=evaluation_settings(),
        attack=canonical(config["attack"]),
    script:
        "../scripts/evaluate_attack.py"
