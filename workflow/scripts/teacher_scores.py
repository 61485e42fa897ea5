import torch
from sentence_transformers import SentenceTransformer

from drscale.logs import log_to
from drscale.mining import dense_teacher_scores, read_jsonl, write_jsonl

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
candidates = snakemake.params.candidates
# Only the first `candidates` negatives can reach training (Denoising strategy), so only they are scored.
rows = [{**row, "negatives": row["negatives"][:candidates]} for row in read_jsonl(snakemake.input.negatives)]
model = SentenceTransformer(snakemake.input.model)
positive, negative = dense_teacher_scores(model, rows, snakemake.params.score_scale, snakemake.params.batch_size)
write_jsonl(({"positive_score": p, "negative_scores": n} for p, n in zip(positive, negative)), snakemake.output[0])
print(f"teacher {snakemake.input.model}: scored {len(rows)} positives and {sum(map(len, negative))} negatives")
