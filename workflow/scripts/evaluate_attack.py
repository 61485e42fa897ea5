import json
from pathlib import Path

from drscale.evaluate import load_scores
from drscale.logs import log_to
from drscale.robustness import adversarial_metrics

log_to(snakemake.log[0])
scores = load_scores(Path(snakemake.input.scores), Path(snakemake.input.sample), snakemake.wildcards.split)
with open(snakemake.input.attacks, encoding="utf-8") as f:
    attacks = [json.loads(line) for line in f]
metrics = adversarial_metrics(
    scores, snakemake.params.top_m,
    {(a["query_row"], a["doc_row"]): a["score_after"] for a in attacks},
    {(a["query_row"], a["doc_row"]): a["words_substituted"] for a in attacks},
    snakemake.params.score_scale,
)
Path(snakemake.output[0]).write_text(json.dumps(metrics, indent=2) + "\n")
print(json.dumps(metrics, indent=2))
