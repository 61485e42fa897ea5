import json
from pathlib import Path

from drscale.evaluate import evaluate_split, load_scores, read_qrels
from drscale.logs import log_to

log_to(snakemake.log[0])
scores = load_scores(Path(snakemake.input.scores), Path(snakemake.input.sample), snakemake.wildcards.split)
qrels = read_qrels(Path(snakemake.input.collection), snakemake.params.qrels_split)
metrics = evaluate_split(scores, qrels, snakemake.params.score_scale)
Path(snakemake.output[0]).write_text(json.dumps(metrics, indent=2) + "\n")
print(json.dumps(metrics))
