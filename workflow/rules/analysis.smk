rule fit:
    input:
        "results/metrics.tsv",
    output:
        families="results/families.tsv",
        by_seed="results/families_by_seed.tsv",
        fits=report("results/fits.tsv", caption="../report/fits.rst", category="Tables"),
        draws="results/fit_bootstrap.tsv",
    log:
        "logs/fit/fit.log",
    benchmark:
        "results/benchmarks/fit/fit.tsv"
    conda:
        "../../envs/drscale.yaml"
    params:
        analysis=canonical(
            {
                k: config["analysis"][k]
                for k in ("robustness_weight", "bootstrap", "seed", "fit_objective")
            }
        ),
    script:
        "../scripts/fit.py"


rule costs:
    input:
        cost_inputs(),
    output:
        costs="results/costs.tsv",
        fits=report(
            "results/cost_fits.tsv",
            caption="../report/cost_fits.rst",
            category="Costs",
        ),
    log:
        "logs/costs/costs.log",
    benchmark:
        "results/benchmarks/costs/costs.tsv"
    conda:
        "../../envs/drscale.yaml"
    params:
        runs=cost_records(),
        training=canonical(config["training"]),
        negatives_per_query=config["mining"]["negatives_per_query"],
        attacked_per_batch=config["adversarial"]["attacked_per_batch"],
    script:
        "../scripts/costs.py"


rule frontier:
    input:
        by_seed="results/families_by_seed.tsv",
        fits="results/fits.tsv",
    output:
        frontier=report(
            "results/frontier.tsv", caption="../report/frontier.rst", category="Tables"
        ),
        efficiency=report(
            "results/efficiency.tsv",
            caption="../report/efficiency.rst",
            category="Tables",
        ),
    log:
        "logs/frontier/frontier.log",
    benchmark:
        "results/benchmarks/frontier/frontier.tsv"
    conda:
        "../../envs/drscale.yaml"
    script:
        "../scripts/frontier.py"


rule findings:
    input:
        unpack(findings_inputs),
    output:
        findings=report(
            "results/findings.tsv",
            caption="../report/findings.rst",
            category="Findings",
        ),
        rst="results/findings.rst",
    log:
        "logs/findings/findings.log",
    benchmark:
        "results/benchmarks/findings/findings.tsv"
    conda:
        "../../envs/drscale.yaml"
    script:
        "../scripts/findings.py"


rule budget:
    input:
        families="results/families.tsv",
        fits="results/fits.tsv",
        draws="results/fit_bootstrap.tsv",
        costs="results/costs.tsv",
        cost_fits="results/cost_fits.tsv",
    output:
        budget=report(
            "results/budget.tsv", caption="../report/budget.rst", category="Costs"
        ),
        plot=report(
            "results/plots/iso_cost.png",
            caption="../report/iso_cost.rst",
            category="Costs",
            labels={"figure": "iso-cost curves"},
        ),
    log:
        "logs/budget/budget.log",
    benchmark:
        "results/benchmarks/budget/budget.tsv"
    conda:
        "../../envs/drscale.yaml"
    params:
        budgets=config["analysis"]["budgets"],
    script:
        "../scripts/budget.py"


rule summary:
    input:
        findings="results/findings.tsv",
        families="results/families.tsv",
        metrics="results/metrics.tsv",
        cost_fits="results/cost_fits.tsv",
        budget="results/budget.tsv",
    output:
        report(
            "results/summary.md", caption="../report/summary.rst", category="Findings"
        ),
    log:
        "logs/summary/summary.log",
    benchmark:
        "results/benchmarks/summary/summary.tsv"
    conda:
        "../../envs/drscale.yaml"
    params:
        negatives=config["evaluation"]["negatives"],
    script:
        "../scripts/summary.py"


rule plot_scaling:
    input:
        families="results/families.tsv",
        fits="results/fits.tsv",
        draws="results/fit_bootstrap.tsv",
    output:
        report(
            "results/plots/scaling_{family}.png",
            caption="../report/scaling.rst",
            category="Scaling laws",
            labels={"family": "{family}"},
        ),
    log:
        "logs/plot_scaling/{family}.log",
    benchmark:
        "results/benchmarks/plot_scaling/{family}.tsv"
    conda:
        "../../envs/drscale.yaml"
    script:
        "../scripts/plot_scaling.py"


rule plot_summary:
    input:
        fits="results/fits.tsv",
        frontier="results/frontier.tsv",
    output:
        exponents=report(
            "results/plots/exponents.png",
            caption="../report/exponents.rst",
            category="Scaling laws",
            labels={"figure": "exponents"},
        ),
        frontier=report(
            "results/plots/frontier.png",
            caption="../report/frontier_plot.rst",
            category="Pareto frontier",
            labels={"figure": "frontier"},
        ),
    log:
        "logs/plot_summary/plot_summary.log",
    benchmark:
        "results/benchmarks/plot_summary/plot_summary.tsv"
    conda:
        "../../envs/drscale.yaml"
    script:
        "../scripts/plot_summary.py"


rule plot_trajectories:
    input:
        pareto_trajectories(),
    output:
        plot=report(
            "results/plots/pareto_trajectories.png",
            caption="../report/trajectories.rst",
            category="Pareto training",
            labels={"figure": "w_t trajectories"},
        ),
        table="results/pareto/trajectories.tsv",
    log:
        "logs/plot_trajectories/plot_trajectories.log",
    benchmark:
        "results/benchmarks/plot_trajectories/plot_trajectories.tsv"
    conda:
        "../../envs/drscale.yaml"
    params:
        pareto={k: config["pareto"][k] for k in ("w_min", "w_max")},
    script:
        "../scripts/plot_trajectories.py"


rule report:
    input:
        analysis_outputs(),
    output:
        "results/report.html",
    log:
        "logs/report/report.log",
    benchmark:
        "results/benchmarks/report/report.tsv"
    conda:
        "../../envs/drscale.yaml"
    params:
        snakefile=workflow.main_snakefile,
        # The run's own resolved config (defaults filled in, --config applied), so the inner
        # call expects exactly the outputs this run made, whatever config files it was given.
        config=json.dumps(config, sort_keys=True),
        configfile="logs/report/config.json",
    shell:
        "printf '%s' {params.config:q} > {params.configfile} && "
        "snakemake --snakefile '{params.snakefile}' --directory . --configfile {params.configfile} "
        "--report {output} --nolock --workflow-profile none > {log} 2>&1"
