from pathlib import Path

import pandas as pd

from drscale.logs import log_to
from drscale.pareto import trajectory_summary
from drscale.plots import plot_weight_trajectories

log_to(snakemake.log[0])
tables = []
for path in snakemake.input:
    table = pd.read_csv(path, sep="\t")
    table["run"] = str(Path(path).parent.relative_to("results/runs"))
    tables.append(table)
trajectories = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(
    columns=["run", "step", "w", "loss_eff", "loss_rob"])
trajectories.to_csv(snakemake.output.table, sep="\t", index=False)
plot_weight_trajectories(trajectories, snakemake.output.plot, label="run")
bounds = snakemake.params.pareto
print(trajectory_summary(trajectories, bounds["w_min"], bounds["w_max"]).to_string())
