from drscale.aggregate import tidy_metrics
from drscale.logs import log_to

log_to(snakemake.log[0])
metrics = tidy_metrics(snakemake.params.runs, snakemake.params.in_domain, snakemake.params.negatives)
metrics.to_csv(snakemake.output.metrics, sep="\t", index=False)
print(metrics.groupby(["strategy", "metric"]).size().to_string())
