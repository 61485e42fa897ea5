from pathlib import Path

import torch
from sentence_transformers import SentenceTransformer

from drscale.encode import score_collection
from drscale.evaluate import load_samples, save_scores
from drscale.logs import log_to
from drscale.tokens import CollectionTokens

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
model = SentenceTransformer(snakemake.input.model)
tokens = CollectionTokens.load(Path(snakemake.input.tokens))
scores = score_collection(model, tokens, load_samples(Path(snakemake.input.sample)), snakemake.params.batch_size,
                          snakemake.params.shard_size)
save_scores(Path(snakemake.output[0]), scores)
for role, split_scores in scores.items():
    print(f"{snakemake.wildcards.collection} {role}: {len(split_scores.query_ids)} queries, top "
          f"{split_scores.top_ids.shape[1]} of {len(tokens.doc_ids)} passages, {split_scores.negative_scores.size} "
          f"sampled negatives' and {len(split_scores.attacked_rows)} attacked queries' scores")
