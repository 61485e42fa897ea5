# Training strategies (docs/design.md section 5): mined hard negatives, the denoising teacher's scores
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


rule validation_probe:
    input:
        [f"resources/collections/{c}" for c, _, _ in probe_collections()],
    output:
        PROBE,
    log:
        "logs/validation_probe/validation_probe.log",
    benchmark:
        "results/benchmarks/validation_probe/validation_probe.tsv"
    conda:
        "../../envs/drscale.yaml"
    params:
        collections=probe_collections(),
        queries=config["pareto"]["probe_queries"],
        negatives=config["pareto"]["probe_negatives"],
        seed=config["evaluation"]["seed"],
    script:
        "../scripts/validation_probe.py"


rule pareto_target:
    input:
        unpack(pareto_target_inputs),
    output:
        "results/pareto/target.json",
    log:
        "logs/pareto_target/pareto_target.log",
    benchmark:
        "results/benchmarks/pareto_target/pareto_target.tsv"
    conda:
        "../../envs/drscale.yaml"
    threads: config["training"]["threads"]
    resources:
        gpu=config["training"]["gpu"],
    params:
        runs=pareto_target_runs(),
        baselines=BASELINE_STRATEGIES,
        pareto=canonical(config["pareto"]),
        # The probe's attack is the in-training attack (adversarial section).
        strategy_config=canonical(
            {
                "adversarial": config["adversarial"],
                "pareto": config["pareto"],
                "attack": {"synonyms": config["attack"]["synonyms"]},
                "evaluation": {"score_scale": config["evaluation"]["score_scale"]},
            }
        ),
    script:
        "../scripts/pareto_target.py"
