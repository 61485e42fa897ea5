from pathlib import Path

import pandas as pd

from drscale.logs import log_to
from drscale.summary import summary_markdown

log_to(snakemake.log[0])
tables = {name: pd.read_csv(path, sep="\t") for name, path in snakemake.input.items()}
summary = summary_markdown(
    tables["findings"],
    tables["families"],
    tables["metrics"],
    snakemake.params.negatives,
    cost_fits=tables["cost_fits"],
    budget=tables["budget"],
)
Path(snakemake.output[0]).write_text(summary)
print(summary)
