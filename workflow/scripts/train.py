import json
from pathlib import Path

import torch

from drscale.logs import log_to
from drscale.models import load_start_model, parameter_counts
from drscale.strategies import make_strategy
from drscale.train import TrainConfig, train

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
params, wildcards = snakemake.params, snakemake.wildcards
training, seed = params.training, int(wildcards.seed)
checkpoints = Path(params.checkpoints)

model = load_start_model(Path(snakemake.input.model), seed, training["max_query_length"],
                         training["max_passage_length"], params.model["pooling"], scratch=checkpoints / "init")
with open(snakemake.input.pairs, encoding="utf-8") as f:
    pairs = [(row["query"], row["positive"]) for row in map(json.loads, f)]
config = TrainConfig(
    steps=training["steps"], batch_size=training["batch_size"], learning_rate=params.model["learning_rate"],
    warmup_ratio=training["warmup_ratio"], weight_decay=training["weight_decay"], seed=seed,
    checkpoint_every=training["checkpoint_every"],
)
curve = train(model, make_strategy(wildcards.strategy, scale=params.score_scale), pairs, config,
              checkpoints, Path(snakemake.output.model))
curve.to_csv(snakemake.output.loss_curve, sep="\t", index=False)
info = {"model": wildcards.model, **parameter_counts(model), "data_size": len(pairs), "strategy": wildcards.strategy,
        "seed": seed, "device": str(model.device), **config.__dict__}
Path(snakemake.output.model_info).write_text(json.dumps(info, indent=2) + "\n")
print(json.dumps(info, indent=2))
