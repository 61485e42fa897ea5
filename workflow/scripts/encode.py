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
for tokens_path, sample_path, output in zip(snakemake.input.tokens, snakemake.input.samples, snakemake.output):
    roles = load_samples(Path(sample_path))
    tokens = CollectionTokens.load(Path(tokens_path))
    scores = score_collection(model, tokens, roles, snakemake.params.batch_size, snakemake.params.shard_size)
    save_scores(Path(output), scores)
    for role, split_scores in scores.items():
        print(f"{Path(output).stem} {role}: {len(split_scores.query_ids)} queries, top {split_scores.top_ids.shape[1]} "
              f"of {len(tokens.doc_ids)} passages, {split_scores.negative_scores.size} sampled negatives' and "
              f"{len(split_scores.attacked_rows)} attacked queries' scores")
