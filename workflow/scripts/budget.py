import pandas as pd

from drscale.budget import data_is_free, default_budgets, iso_cost_curves, plan, train_flops_law
from drscale.logs import log_to
from drscale.plots import plot_iso_cost

log_to(snakemake.log[0])
tables = {name: pd.read_csv(path, sep="\t") for name, path in snakemake.input.items()}
budgets = snakemake.params.budgets or default_budgets(tables["costs"])
inputs = tables["fits"], tables["cost_fits"], tables["costs"], tables["families"], budgets
table = plan(tables["fits"], tables["draws"], *inputs[1:])
table.to_csv(snakemake.output.budget, sep="\t", index=False)
standard = tables["families"][tables["families"]["strategy"] == "standard"]
law = train_flops_law(tables["cost_fits"])
free = law is not None and data_is_free(law)
plot_iso_cost(iso_cost_curves(*inputs), table, snakemake.output.plot, measured=standard, free_data=free)
print(f"budgets (FLOPs): {budgets}", table.to_string(), sep="\n")
