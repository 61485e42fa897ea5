import json
from pathlib import Path

from drscale.data import load_collection
from drscale.encode import Embeddings
from drscale.evaluate import evaluate_collection
from drscale.logs import log_to

log_to(snakemake.log[0])
settings = snakemake.params.evaluation
collection = load_collection(Path(snakemake.input.collection), snakemake.params.qrels_split)
emb = Embeddings.load(Path(snakemake.input.embeddings)).of_queries(sorted(collection.queries))
metrics = evaluate_collection(emb, collection.qrels, settings["score_scale"], snakemake.params.negatives,
                              settings["draws"], settings["seed"])
Path(snakemake.output[0]).write_text(json.dumps(metrics, indent=2) + "\n")
print(json.dumps(metrics))
