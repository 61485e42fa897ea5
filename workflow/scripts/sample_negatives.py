from pathlib import Path

import numpy as np

from drscale.evaluate import Role, corpus_ids, read_qrels, sample_negatives, save_sample
from drscale.logs import log_to
from drscale.robustness import attacked_query_rows

log_to(snakemake.log[0])
params, folder = snakemake.params, Path(snakemake.input[0])
doc_ids = corpus_ids(folder)
roles = {}
for role, split in params.roles.items():
    qrels = read_qrels(folder, split)
    query_ids = sorted(qrels)
    try:
        sample = sample_negatives(query_ids, doc_ids, qrels, params.negatives, params.sampling["draws"],
                                  params.sampling["seed"])
    except ValueError as error:
        raise ValueError(f"collection {snakemake.wildcards.collection!r} ({split}): {error}") from None
    attacked = (attacked_query_rows(len(query_ids), params.attacked["queries"], params.attacked["seed"])
                if params.attacked else np.empty(0, dtype=np.int64))
    roles[role] = Role(np.array(query_ids, dtype=str), sample, attacked)
    print(f"{role} ({split}): {len(query_ids)} queries, {len(sample.query_rows)} positives, "
          f"{params.negatives} negatives x {params.sampling['draws']} draws of {len(doc_ids)} passages, "
          f"{len(attacked)} attacked queries")
save_sample(Path(snakemake.output[0]), roles, doc_ids)
