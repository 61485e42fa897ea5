import json
from pathlib import Path

import pandas as pd
import torch

from drscale.logs import log_to
from drscale.pareto_target import pareto_target
from drscale.registry import strategy_options
from drscale.strategies import make_strategy

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
pareto, runs = snakemake.params.pareto, snakemake.params.runs
measurements, splits = None, []
if runs:
    from sentence_transformers import SentenceTransformer

    from drscale.models import parameter_counts
    from drscale.probe import measure_probe

    probe = json.loads(Path(snakemake.input.probe).read_text())
    splits = probe["splits"]
    # The Pareto strategy's own probe settings, so r* is measured exactly as the controller measures.
    strategy = make_strategy("pareto", **strategy_options("pareto", snakemake.params.strategy_config, 0,
                                                          {"target_ratio": 1.0, "w0": 0.5}))
    rows = []
    for run, folder in zip(runs, snakemake.input.models):
        model = SentenceTransformer(folder)
        measured = measure_probe(model, probe, strategy._synonyms(), strategy.probe_attack(), strategy.scale)
        rows.append({**{k: run[k] for k in ("model", "data_size", "strategy", "seed")},
                     "non_embedding_params": parameter_counts(model)["non_embedding_params"], **measured})
        print(json.dumps(rows[-1]))
    measurements = pd.DataFrame(rows)
target = pareto_target(measurements, snakemake.params.baselines, w_min=pareto["w_min"], w_max=pareto["w_max"],
                       target_ratio=pareto.get("target_ratio"), w0=pareto.get("w0"))
target["validation_splits"] = splits
if runs and "ce_ood_mean" not in measurements:
    target["note"] = "no OOD collection has validation data: ce_rob of the probe is its adversarial CE alone"
Path(snakemake.output[0]).write_text(json.dumps(target, indent=2) + "\n")
print(json.dumps(target, indent=2))
