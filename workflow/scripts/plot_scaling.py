import pandas as pd

from drscale.logs import log_to
from drscale.plots import plot_scaling_curves

log_to(snakemake.log[0])
plot_scaling_curves(
    pd.read_csv(snakemake.input.families, sep="\t"),
    pd.read_csv(snakemake.input.fits, sep="\t"),
    snakemake.wildcards.family,
    snakemake.output[0],
    draws=pd.read_csv(snakemake.input.draws, sep="\t"),
)
