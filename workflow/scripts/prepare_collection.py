import json
from pathlib import Path

from drscale import data
from drscale.beir_folder import shared_pairs
from drscale.logs import log_to

log_to(snakemake.log[0])
name, entry, folder = snakemake.wildcards.collection, snakemake.params.entry, Path(snakemake.output[0])
# K, the data sizes and the role are read from the config, not params: changing them must not rebuild
# the collection (and retrain every model), only re-check it here and at planning.
config = snakemake.config
kind, value = data.parse_source(entry["source"])
if kind == "docstrings":
    harvests = {package: Path(path) for package, path in snakemake.input.items() if package != "in_domain"}
    manifest = data.build_docstring_collection(
        folder, harvests, entry["packages"], entry["test_queries"], entry["dev_queries"], entry["split_seed"]
    )
elif kind == "local":
    manifest = data.copy_local_collection(folder, Path(value).expanduser())
else:
    manifest = data.download_beir_collection(folder, value)
print(json.dumps(manifest, indent=2))
in_domain = name == config["in_domain"]
data.check_prepared(name, config["collections"][name], manifest["stats"], config["evaluation"]["negatives"],
                    config["data_sizes"] if in_domain else None,
                    config["attack"]["queries"] if in_domain else None)
if snakemake.input.get("in_domain"):  # an OOD collection not built from docstrings: no training text in its tests
    for split in data.evaluated_splits(config["collections"][name]):
        shared, total, first = shared_pairs(folder, split, Path(snakemake.input.in_domain))
        if shared:
            raise ValueError(
                f"collections.{name}: {shared} of the {total} relevant {split} pairs share their query or passage "
                f"text with the training split of the in-domain collection {config['in_domain']!r} (first: query "
                f"{first!r}), so models are tested on what they were trained on; remove those pairs from "
                f"qrels/{split}.tsv or do not evaluate '{name}' out of domain"
            )
