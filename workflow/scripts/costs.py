from drscale.costs import cost_fits, cost_table
from drscale.logs import log_to

log_to(snakemake.log[0])
params = snakemake.params
costs = cost_table(params.runs, params.training, params.negatives_per_query, params.attacked_per_batch)
costs.to_csv(snakemake.output.costs, sep="\t", index=False)
fits = cost_fits(costs)
fits.to_csv(snakemake.output.fits, sep="\t", index=False)
print(fits.to_string())
