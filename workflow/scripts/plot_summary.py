import pandas as pd

from drscale.logs import log_to
from drscale.plots import plot_exponents, plot_frontier

log_to(snakemake.log[0])
plot_exponents(pd.read_csv(snakemake.input.fits, sep="\t"), snakemake.output.exponents)
plot_frontier(pd.read_csv(snakemake.input.frontier, sep="\t"), snakemake.output.frontier)
