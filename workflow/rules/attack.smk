rule attack:
    input:
        model=f"results/runs/{RUN}/model",
        scores=f"results/runs/{RUN}/scores/{IN_DOMAIN}.npz",
        sample=f"resources/samples/{IN_DOMAIN}.npz",
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
        mem_mb=planned("attack", "mem_mb"),
        runtime=planned("attack", "runtime"),
        gpu=config["training"]["gpu"],
    params:
        qrels_split=in_domain_split,
        score_scale=config["evaluation"]["score_scale"],
        attack=canonical(config["attack"]),
    script:
        "../scripts/attack.py"


rule evaluate_attack:
    input:
        attacks=f"results/runs/{RUN}/attacks/{{split}}/{IN_DOMAIN}.jsonl",
        scores=f"results/runs/{RUN}/scores/{IN_DOMAIN}.npz",
        sample=f"resources/samples/{IN_DOMAIN}.npz",
    output:
        f"results/runs/{RUN}/metrics/{{split}}/{IN_DOMAIN}.adv.json",
    log:
        f"logs/evaluate_attack/{RUN}/{{split}}/{IN_DOMAIN}.log",
    benchmark:
        f"results/benchmarks/evaluate_attack/{RUN}/{{split}}/{IN_DOMAIN}.tsv"
    conda:
        "../../envs/drscale.yaml"
    params:
        score_scale=config["evaluation"]["score_scale"],
        top_m=config["attack"]["top_m"],
    script:
        "../scripts/evaluate_attack.py"
