import json
from pathlib import Path

from drscale.data import load_collection
from drscale.encode import Embeddings
from drscale.evaluate import evaluate_collection
from drscale.logs import log_to

log_to(snakemake.log[0])
settings = snakemake.params.evaluation
inputs = snakemake.input
for embeddings, folder, split, output in zip(inputs.embeddings, inputs.collections, snakemake.params.test_splits,
                                             snakemake.output):
    collection = load_collection(Path(folder), split)
    metrics = evaluate_collection(Embeddings.load(Path(embeddings)), collection.qrels, settings["score_scale"],
                                  settings["negatives"], settings["draws"], settings["seed"])
    Path(output).write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"{folder}: {json.dumps(metrics)}")
