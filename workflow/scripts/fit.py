import pandas as pd

from drscale.families import families_by_seed, metric_families
from drscale.fit import scaling_fits
from drscale.logs import log_to

log_to(snakemake.log[0])
settings = snakemake.params.analysis
metrics = pd.read_csv(snakemake.input[0], sep="\t")
families_by_seed(metrics, settings["robustness_weight"]).to_csv(snakemake.output.by_seed, sep="\t", index=False)
families = metric_families(metrics, settings["robustness_weight"])
families.to_csv(snakemake.output.families, sep="\t", index=False)
fits, draws = scaling_fits(
    families, n_bootstrap=settings["bootstrap"], seed=settings["seed"], objective=settings["fit_objective"]
)
fits.to_csv(snakemake.output.fits, sep="\t", index=False)
draws.to_csv(snakemake.output.draws, sep="\t", index=False)
print(fits.to_string())
