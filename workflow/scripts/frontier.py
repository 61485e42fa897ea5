import pandas as pd

from drscale.frontier import efficiency_table, frontier_table
from drscale.logs import log_to

log_to(snakemake.log[0])
by_seed = pd.read_csv(snakemake.input.by_seed, sep="\t")
fits = pd.read_csv(snakemake.input.fits, sep="\t")
frontier = frontier_table(by_seed)
frontier.to_csv(snakemake.output.frontier, sep="\t", index=False)
efficiency = efficiency_table(by_seed, fits[fits.law == "joint"])
efficiency.to_csv(snakemake.output.efficiency, sep="\t", index=False)
print(frontier.to_string(), efficiency.to_string(), sep="\n\n")
