from pathlib import Path

import numpy as np
import torch
from sentence_transformers import SentenceTransformer

from drscale.encode import Role, score_collection
from drscale.evaluate import read_qrels, sample_negatives, save_scores
from drscale.logs import log_to
from drscale.robustness import attacked_query_rows
from drscale.tokens import CollectionTokens

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
params = snakemake.params
tokens = CollectionTokens.load(Path(snakemake.input.tokens))
doc_ids = tokens.doc_ids.tolist()
roles = {}
for role, split in params.roles.items():  # drawn before the model loads: a too-small corpus fails at once
    qrels = read_qrels(Path(snakemake.input.collection), split)
    query_ids = sorted(qrels)
    sample = sample_negatives(query_ids, doc_ids, qrels, params.negatives, params.sampling["draws"],
                              params.sampling["seed"])
    attacked = (attacked_query_rows(len(query_ids), params.attacked["queries"], params.attacked["seed"])
                if params.attacked else np.empty(0, dtype=np.int64))
    roles[role] = Role(query_ids, sample, attacked)
model = SentenceTransformer(snakemake.input.model)
scores = score_collection(model, tokens, roles, params.batch_size, params.shard_size)
save_scores(Path(snakemake.output[0]), scores)
for role, split_scores in scores.items():
    print(f"{role} ({params.roles[role]}): {len(split_scores.query_ids)} queries, top {split_scores.top_ids.shape[1]} "
          f"of {len(doc_ids)} passages, {split_scores.negative_scores.size} sampled negatives, "
          f"{len(split_scores.attacked_rows)} attacked queries")
