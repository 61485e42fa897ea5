from pathlib import Path

import pandas as pd

from drscale.findings import findings_table
from drscale.logs import log_to
from drscale.summary import findings_rst

log_to(snakemake.log[0])
tables = {name: pd.read_csv(path, sep="\t") for name, path in snakemake.input.items()}
findings = findings_table(
    tables["fits"],
    tables["draws"],
    tables["families"],
    frontier=tables["frontier"],
    efficiency=tables["efficiency"],
    by_seed=tables.get("by_seed"),
    cost_fits=tables["cost_fits"],
)
findings.to_csv(snakemake.output.findings, sep="\t", index=False)
Path(snakemake.output.rst).write_text(findings_rst(findings))
print(findings.to_string())
