from pathlib import Path

from drscale.logs import log_to
from drscale.models import ModelSpec, prepare_model

log_to(snakemake.log[0])
spec = ModelSpec.from_config(snakemake.wildcards.model, snakemake.params.entry)
tokenizer = snakemake.input.get("tokenizer")
prepare_model(spec, Path(snakemake.output[0]), tokenizer and Path(tokenizer), snakemake.params.max_positions,
              snakemake.params.entry.get("random_init", False))
