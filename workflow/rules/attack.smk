rule attack:
    input:
        model=f"results/runs/{RUN}/model",
        embeddings=f"results/runs/{RUN}/embeddings/{IN_DOMAIN}.npz",
        collection=f"resources/collections/{IN_DOMAIN}",
    output:
        f"results/runs/{RUN}/attacks/{IN_DOMAIN}.jsonl",
    log:
        f"logs/attack/{RUN}/{IN_DOMAIN}.log",
    benchmark:
        f"results/benchmarks/attack/{RUN}/{IN_DOMAIN}.tsv"
    conda:
        "../../envs/drscale.yaml"
    threads: config["training"]["threads"]
    resources:
        mem_mb=planned("attack", "mem_mb"),
        runtime=planned("attack", "runtime"),
        gpu=config["training"]["gpu"],
    params:
        test_split=config["collections"][IN_DOMAIN]["test_split"],
        evaluation=canonical(config["evaluation"]),
        attack=canonical(config["attack"]),
    script:
        "../scripts/attack.py"


rule evaluate_attack:
    input:
        attacks=f"results/runs/{RUN}/attacks/{IN_DOMAIN}.jsonl",
        embeddings=f"results/runs/{RUN}/embeddings/{IN_DOMAIN}.npz",
        collection=f"resources/collections/{IN_DOMAIN}",
    output:
        f"results/runs/{RUN}/metrics/{IN_DOMAIN}.adv.json",
    log:
        f"logs/evaluate_attack/{RUN}/{IN_DOMAIN}.log",
    benchmark:
        f"results/benchmarks/evaluate_attack/{RUN}/{IN_DOMAIN}.tsv"
    conda:
        "../../envs/drscale.yaml"
    resources:
        mem_mb=planned("evaluate_attack", "mem_mb"),
        runtime=planned("evaluate_attack", "runtime"),
    params:
        test_split=config["collections"][IN_DOMAIN]["test_split"],
        evaluation=canonical(config["evaluation"]),
        attack=canonical(config["attack"]),
    script:
        "../scripts/evaluate_attack.py"
