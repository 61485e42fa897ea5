import json
from pathlib import Path

from drscale.aggregate import tidy_metrics
from drscale.logs import log_to
from drscale.pareto_target import pareto_target

log_to(snakemake.log[0])
pareto = snakemake.params.pareto
runs = snakemake.params.runs
metrics = tidy_metrics(runs, snakemake.params.in_domain) if runs else None
target = pareto_target(metrics, snakemake.params.baselines, w_min=pareto["w_min"], w_max=pareto["w_max"],
                       target_ratio=pareto.get("target_ratio"), w0=pareto.get("w0"))
if target["robustness_family"] == "ce_ood_mean":
    target["note"] = "no adversarial CE (attack stage absent): ce_rob is the mean OOD CE alone"
Path(snakemake.output[0]).write_text(json.dumps(target, indent=2) + "\n")
print(json.dumps(target, indent=2))
