from pathlib import Path

import torch
from sentence_transformers import SentenceTransformer

from drscale.encode import encode_collection
from drscale.logs import log_to
from drscale.tokens import CollectionTokens

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
model = SentenceTransformer(snakemake.input.model)
for tokens_path, output in zip(snakemake.input.tokens, snakemake.output):
    embeddings = encode_collection(model, CollectionTokens.load(Path(tokens_path)), snakemake.params.batch_size)
    embeddings.save(Path(output))
    print(f"{tokens_path}: {len(embeddings.query_ids)} queries, {len(embeddings.doc_ids)} passages -> {output}")
