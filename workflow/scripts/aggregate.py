from pathlib import Path

from drscale.aggregate import summary_markdown, tidy_metrics
from drscale.logs import log_to

log_to(snakemake.log[0])
metrics = tidy_metrics(snakemake.params.runs, snakemake.params.in_domain, snakemake.params.negatives)
metrics.to_csv(snakemake.output.metrics, sep="\t", index=False)
summary = summary_markdown(metrics, snakemake.params.negatives[snakemake.params.in_domain])
Path(snakemake.output.summary).write_text(summary)
print(summary)
