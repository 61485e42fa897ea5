import json
from pathlib import Path

from drscale import data
from drscale.logs import log_to

log_to(snakemake.log[0])
entry, folder = snakemake.params.entry, Path(snakemake.output[0])
kind, value = data.parse_source(entry["source"])
if kind == "docstrings":
    harvests = {package: Path(path) for package, path in snakemake.input.items()}
    manifest = data.build_docstring_collection(
        folder, harvests, entry["packages"], entry["test_queries"], entry["dev_queries"], entry["split_seed"]
    )
elif kind == "local":
    manifest = data.copy_local_collection(folder, Path(value).expanduser())
else:
    manifest = data.download_beir_collection(folder, value)
print(json.dumps(manifest, indent=2))
