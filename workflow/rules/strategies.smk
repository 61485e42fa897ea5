# Training strategies (docs/design.md, section 5): mined hard negatives, the denoising teacher's scores
# and the Pareto target. The train rule gets them through strategy_inputs() (common.smk).


rule mine_negatives:
    input:
        collection=f"resources/collections/{IN_DOMAIN}",
        pairs="results/train_pairs/data~{data}.jsonl",
    output:
        "results/train_pairs/data~{data}.negatives.jsonl",
    log:
        "logs/mine_negatives/data~{data}.log",
    benchmark:
        "results/benchmarks/mine_negatives/data~{data}.tsv"
    conda:
        "../../envs/drscale.yaml"
    params:
        depth=config["mining"]["depth"],
        seed=config["data_seed"],
    script:
        "../scripts/mine_negatives.py"


rule teacher_scores:
    input:
        model=f"{TEACHER_RUN}/model",
        negatives=mined_negatives,
    output:
        TEACHER_SCORES,
    log:
        "logs/teacher_scores/model~{model}/data~{data}/seed~{seed}.log",
    benchmark:
        "results/benchmarks/teacher_scores/model~{model}/data~{data}/seed~{seed}.tsv"
    conda:
        "../../envs/drscale.yaml"
    threads: config["training"]["threads"]
    resources:
        mem_mb=planned("teacher_scores", "mem_mb"),
        runtime=planned("teacher_scores", "runtime"),
        gpu=config["training"]["gpu"],
    params:
        candidates=config["denoising"]["candidates"],
        score_scale=config["evaluation"]["score_scale"],
        batch_size=config["evaluation"]["batch_size"],
    script:
        "../scripts/teacher_scores.py"


rule pareto_target:
    input:
        pareto_target_inputs,
    output:
        "results/pareto/target.json",
    log:
        "logs/pareto_target/pareto_target.log",
    benchmark:
        "results/benchmarks/pareto_target/pareto_target.tsv"
    conda:
        "../../envs/drscale.yaml"
    params:
        runs=pareto_target_runs(),
        in_domain=IN_DOMAIN,
        baselines=BASELINE_STRATEGIES,
        pareto=canonical(config["pareto"]),
    script:
        "../scripts/pareto_target.py"
