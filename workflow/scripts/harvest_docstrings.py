from pathlib import Path

from drscale.docstrings import harvest_package
from drscale.logs import log_to

log_to(snakemake.log[0])
count = harvest_package(snakemake.wildcards.package, Path(snakemake.output[0]))
print(f"{snakemake.wildcards.package}: {count} docstring pairs")
