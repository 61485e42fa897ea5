import json
from pathlib import Path

import torch

from drscale.checkpoints import claim_checkpoint_folder
from drscale.logs import log_to
from drscale.mining import read_jsonl, with_teacher_scores
from drscale.models import ModelSpec, check_fits_in_memory, load_start_model, parameter_counts
from drscale.registry import strategy_options
from drscale.strategies import make_strategy
from drscale.train import TrainConfig, train

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
params, wildcards, inputs = snakemake.params, snakemake.wildcards, snakemake.input
training, seed = params.training, int(wildcards.seed)
checkpoints = Path(params.checkpoints)
spec = ModelSpec.from_config(wildcards.model, params.model)
claim_checkpoint_folder(checkpoints)  # refuses a folder that a train job left running by a killed Snakemake holds

model = load_start_model(Path(inputs.model), seed, training["max_query_length"],
                         training["max_passage_length"], spec.pooling, scratch=checkpoints / "init")
check_fits_in_memory(model, wildcards.model, training["batch_size"], training["max_query_length"],
                     training["max_passage_length"])
# Mined rows are aligned with the pairs file and carry BM25 scores (the 'bm25' denoising teacher).
rows = read_jsonl(inputs.get("negatives") or inputs.pairs)
if inputs.get("teacher_scores"):  # the 'standard' teacher: the standard run of this grid point
    teacher = read_jsonl(inputs.teacher_scores)
    rows = with_teacher_scores(rows, [t["positive_score"] for t in teacher], [t["negative_scores"] for t in teacher])
target = json.loads(Path(inputs.pareto_target).read_text()) if inputs.get("pareto_target") else None
options = strategy_options(wildcards.strategy, params.strategy_config, seed, target, inputs.get("validation_probe"))
strategy = make_strategy(wildcards.strategy, **options)
config = TrainConfig(
    steps=training["steps"], batch_size=training["batch_size"], learning_rate=spec.learning_rate,
    warmup_ratio=training["warmup_ratio"], weight_decay=training["weight_decay"], seed=seed,
    checkpoint_every=training["checkpoint_every"],
)
curve = train(model, strategy, rows, config, checkpoints, Path(snakemake.output.model))
curve.to_csv(snakemake.output.loss_curve, sep="\t", index=False)
strategy.trajectory().to_csv(snakemake.output.trajectory, sep="\t", index=False)
info = {"model": wildcards.model, "architecture": spec.architecture, **parameter_counts(model), "data_size": len(rows),
        "strategy": wildcards.strategy, "seed": seed, "device": str(model.device), **config.__dict__,
        "strategy_options": options,
        **({"denoising": strategy.denoising_stats} if hasattr(strategy, "denoising_stats") else {})}
Path(snakemake.output.model_info).write_text(json.dumps(info, indent=2) + "\n")
print(json.dumps(info, indent=2))
