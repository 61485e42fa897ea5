import json
from pathlib import Path

from drscale import data
from drscale.logs import log_to

log_to(snakemake.log[0])
pairs = data.training_pairs(data.load_collection(Path(snakemake.input[0]), "train"))
subset = data.nested_subset(pairs, int(snakemake.wildcards.data), snakemake.params.seed)
with open(snakemake.output[0], "w", encoding="utf-8") as f:
    for query, passage in subset:
        f.write(json.dumps({"query": query, "positive": passage}, ensure_ascii=False) + "\n")
print(f"{len(subset)} of {len(pairs)} training pairs")
