from pathlib import Path

import pandas as pd

from drscale.logs import log_to
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
summary = trajectories.groupby("run").agg(w_first=("w", "first"), w_last=("w", "last"), w_mean=("w", "mean"),
                                         w_min=("w", "min"), w_max=("w", "max"))
print(summary.to_string())
