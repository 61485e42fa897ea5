import json
from pathlib import Path

from drscale.data import load_collection
from drscale.encode import Embeddings
from drscale.evaluate import sample_negatives
from drscale.logs import log_to
from drscale.robustness import adversarial_metrics, attacked_query_rows

log_to(snakemake.log[0])
evaluation, settings = snakemake.params.evaluation, snakemake.params.attack
collection = load_collection(Path(snakemake.input.collection), snakemake.params.qrels_split)
emb = Embeddings.load(Path(snakemake.input.embeddings)).of_queries(sorted(collection.queries))
sample = sample_negatives(emb, collection.qrels, snakemake.params.negatives, evaluation["draws"], evaluation["seed"])
with open(snakemake.input.attacks, encoding="utf-8") as f:
    attacks = [json.loads(line) for line in f]
metrics = adversarial_metrics(
    emb, sample, attacked_query_rows(len(emb.query_ids), settings["queries"], settings["seed"]), settings["top_m"],
    {(a["query_row"], a["doc_row"]): a["score_after"] for a in attacks},
    {(a["query_row"], a["doc_row"]): a["words_substituted"] for a in attacks},
    evaluation["score_scale"],
)
Path(snakemake.output[0]).write_text(json.dumps(metrics, indent=2) + "\n")
print(json.dumps(metrics, indent=2))
