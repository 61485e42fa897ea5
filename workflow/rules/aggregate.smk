def run_records():
    """Per run: its path id, model_info.json and its (collection, metrics JSON) pairs.

    Every evaluated collection has clean metrics; the in-domain one also has the attack's.
    """
    in_domain = config["in_domain"]
    return [
        {
            "run": run,
            "model_info": f"results/runs/{run}/model_info.json",
            "metrics": [(c, f"results/runs/{run}/metrics/{c}.json") for c in COLLECTIONS]
            + [(in_domain, f"results/runs/{run}/metrics/{in_domain}.adv.json")],
        }
        for run in GRID.instance_patterns
    ]


rule aggregate:
    input:
        [r["model_info"] for r in run_records()],
        [path for r in run_records() for _, path in r["metrics"]],
    output:
        metrics=report(
            "results/metrics.tsv",
            caption="../report/metrics.rst",
            category="Tables",
        ),
        summary=report(
            "results/summary.md",
            caption="../report/summary.rst",
            category="Tables",
        ),
    log:
        "logs/aggregate/aggregate.log",
    benchmark:
        "results/benchmarks/aggregate/aggregate.tsv"
    params:
        runs=run_records(),
        in_domain=config["in_domain"],
        negatives=config["evaluation"]["negatives"],
    conda:
        "../../envs/drscale.yaml"
    script:
        "../scripts/aggregate.py"
