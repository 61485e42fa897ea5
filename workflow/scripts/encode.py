from pathlib import Path

import torch
from sentence_transformers import SentenceTransformer

from drscale.data import load_collection
from drscale.encode import encode_collection
from drscale.logs import log_to

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
model = SentenceTransformer(snakemake.input.model)
for folder, split, output in zip(snakemake.input.collections, snakemake.params.test_splits, snakemake.output):
    embeddings = encode_collection(model, load_collection(Path(folder), split), snakemake.params.batch_size)
    embeddings.save(Path(output))
    print(f"{folder}: {len(embeddings.query_ids)} queries, {len(embeddings.doc_ids)} passages -> {output}")
