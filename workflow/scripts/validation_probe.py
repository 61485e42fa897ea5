import json
from pathlib import Path

from drscale.logs import log_to
from drscale.probe import build_probe

log_to(snakemake.log[0])
params = snakemake.params
collections = [(name, role, Path(f"resources/collections/{name}"), split) for name, role, split in params.collections]
probe = build_probe(collections, params.queries, params.negatives, params.seed)
Path(snakemake.output[0]).write_text(json.dumps(probe, ensure_ascii=False) + "\n")
print(f"probe of {probe['splits']}: " + ", ".join(f"{p['collection']} {len(p['queries'])} queries, "
                                                  f"{len(p['pool'])} pool passages" for p in probe["parts"]))
