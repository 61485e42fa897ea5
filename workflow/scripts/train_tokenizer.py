from pathlib import Path

from drscale import data
from drscale.logs import log_to
from drscale.tokenizer import train_wordpiece

log_to(snakemake.log[0])
train = data.load_collection(Path(snakemake.input[0]), "train")
texts = [text for pair in data.training_pairs(train) for text in pair]
tokenizer = train_wordpiece(texts, snakemake.params.vocab_size, Path(snakemake.output[0]))
print(f"WordPiece vocabulary of {len(tokenizer)} from {len(texts)} training texts")
