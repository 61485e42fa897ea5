"""Benchmark: passages/s of the project's encode path against three plain ways of encoding.

The four sides encode the same passages with the same model, alternating (A B A B ...):

- ``plain_ids``: a plain loop over token ids tokenized and padded *before* timing (batches in input
  order, the HF encoder, mean pooling, L2 normalisation, inference mode): the model's own speed.
- ``plain_text``: the same loop tokenizing each batch from text as it goes.
- ``st_encode``: sentence-transformers' ``encode_document`` on the texts (it sorts by length).
- ``project``: ``drscale.encode.encode_tokens`` on the ``tokenize`` rule's cached ids
  (``drscale.tokens.tokenize_texts``; length-sorted batches, bf16 autocast and pinned memory on a
  GPU), i.e. what the ``encode`` rule does for every model after the one-off tokenization.

It prints passages/s per side, the ratios project / plain_ids (target on a GPU >= 0.8x) and
project / st_encode (target >= 1.0x on CPU), and the largest difference between the project's
embeddings and sentence-transformers'.

    python benchmarks/encode_throughput.py                               # L2-H128, 4,000 passages
    python benchmarks/encode_throughput.py --size L12-H768 --passages 400   # BERT-base shape
    python benchmarks/encode_throughput.py --device cuda --passages 100000

Models are randomly initialised ``init:`` encoders with a WordPiece tokenizer trained on the
passages (weights do not change the speed); texts are real docstrings of ``--packages``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    MODEL_SIZES,
    add_run_arguments,
    docstring_pairs,
    environment,
    interleaved,
    median,
    prepare_init_model,
)


def plain_loop(encoder, batches, device: str, tokenizer=None, max_length: int = 0) -> np.ndarray:
    """Mean-pooled, normalised embeddings; ``batches`` are (input_ids, mask) or, with a tokenizer, texts."""
    out = []
    with torch.inference_mode():
        for batch in batches:
            if tokenizer is not None:
                encoded = tokenizer(batch, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
                batch = (encoded["input_ids"], encoded["attention_mask"])
            input_ids, mask = (t.to(device) for t in batch)
            hidden = encoder(input_ids=input_ids, attention_mask=mask).last_hidden_state
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            out.append(torch.nn.functional.normalize(pooled.float(), dim=-1).cpu())
    return torch.cat(out).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="L2-H128", choices=sorted(MODEL_SIZES))
    parser.add_argument("--passages", type=int, default=4000)
    parser.add_argument("--max-length", type=int, default=128, help="passage token limit")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--packages", default="numpy,scipy,pandas,sklearn,networkx")
    add_run_arguments(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from drscale.encode import encode_tokens
    from drscale.models import load_start_model
    from drscale.tokens import tokenize_texts

    print(environment(args.device, args.threads))
    pairs = docstring_pairs(args.packages.split(","))
    texts = [p["passage"] for p in pairs][: args.passages]
    with tempfile.TemporaryDirectory(prefix="drscale-bench-encode-") as tmp:
        prepared = prepare_init_model(Path(tmp), texts, args.size, max_positions=args.max_length)
        model = load_start_model(prepared, 0, 32, args.max_length, "mean", scratch=Path(tmp) / "init",
                                 device=args.device).eval()
    tokenizer, encoder = model.tokenizer, model[0].auto_model
    tokens = tokenize_texts(tokenizer, texts, args.max_length)
    pretokenized = []
    for start in range(0, len(texts), args.batch_size):
        rows = range(start, min(start + args.batch_size, len(texts)))
        width = int(tokens.lengths[list(rows)].max())
        ids, mask = torch.zeros(len(rows), width, dtype=torch.long), torch.zeros(len(rows), width, dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : tokens.lengths[row]] = torch.from_numpy(tokens.row(row).astype(np.int64))
            mask[i, : tokens.lengths[row]] = 1
        pretokenized.append((ids, mask))
    text_batches = [texts[s : s + args.batch_size] for s in range(0, len(texts), args.batch_size)]
    print(f"{len(texts)} passages, mean {tokens.lengths.mean():.1f} tokens (<= {args.max_length}), "
          f"batch {args.batch_size}, {args.size}")

    sides = {
        "plain_ids": lambda: plain_loop(encoder, pretokenized, args.device),
        "plain_text": lambda: plain_loop(encoder, text_batches, args.device, tokenizer, args.max_length),
        "st_encode": lambda: model.encode_document(texts, batch_size=args.batch_size, normalize_embeddings=True,
                                                   convert_to_numpy=True, show_progress_bar=False),
        "project": lambda: encode_tokens(model, tokens, args.batch_size),
    }
    times, results = interleaved(sides, args.repeats, args.device)
    rate = {name: len(texts) / median(t) for name, t in times.items()}
    for name, r in rate.items():
        print(f"{name:<11} {r:10.0f} passages/s")
    diff = float(np.abs(results["project"] - results["st_encode"]).max())
    diff_plain = float(np.abs(results["project"] - results["plain_ids"]).max())
    print(f"ratio project / plain_ids {rate['project'] / rate['plain_ids']:.2f}x (GPU target >= 0.8x) | "
          f"project / st_encode {rate['project'] / rate['st_encode']:.2f}x (target >= 1.0x) | "
          f"plain_text / plain_ids {rate['plain_text'] / rate['plain_ids']:.2f}x")
    print(f"max |project - st_encode| {diff:.2e}, max |project - plain_ids| {diff_plain:.2e}")


if __name__ == "__main__":
    main()
