"""Benchmark: the batched word-substitution attack vs one encode call per candidate.

Runs ``drscale.attack.attack_pairs`` on the same (query, non-relevant passage) pairs in the same
process with ``batched=True`` (every deletion variant and every candidate of a greedy step of
``pairs_per_call`` pairs in one encode call) and ``batched=False`` (one encode call per text),
alternating, checks that both attack identically and prints the speed ratio (target >= 5x).

    python benchmarks/attack_batching.py                    # L1-H64, 32 pairs, default attack settings
    python benchmarks/attack_batching.py --model results/runs/<run>/model --device cuda

Without ``--model`` the encoder is a default-grid ``init:`` model trained for ``--train-steps``
with the project's ``train`` on real docstring pairs. Each query is paired with another pair's
passage, cut to the words the encoder reads, as the ``attack`` rule does.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    MODEL_SIZES,
    add_run_arguments,
    docstring_pairs,
    environment,
    interleaved,
    median,
    train_init_model,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="saved SentenceTransformer (default: a briefly trained init: model)")
    parser.add_argument("--size", default="L1-H64", choices=sorted(MODEL_SIZES))
    parser.add_argument("--train-steps", type=int, default=100)
    parser.add_argument("--packages", default="numpy")
    parser.add_argument("--pairs", type=int, default=32, help="(query, passage) pairs attacked")
    parser.add_argument("--max-words", type=int, default=5)
    parser.add_argument("--candidates-per-word", type=int, default=5)
    parser.add_argument("--words-per-step", type=int, default=3)
    add_run_arguments(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from sentence_transformers import SentenceTransformer

    from drscale.attack import AttackConfig, attack_pairs
    from drscale.models import text_length
    from drscale.synonyms import load_synonyms
    from drscale.tokens import cut_to_token_budget

    print(environment(args.device, args.threads))
    rows = [(p["query"], p["passage"]) for p in docstring_pairs(args.packages.split(","))]
    with tempfile.TemporaryDirectory(prefix="drscale-bench-attack-") as tmp:
        path = args.model or train_init_model(Path(tmp), rows, args.size, args.train_steps, args.device, 6e-3)
        model = SentenceTransformer(str(path), device=args.device)  # as the attack rule loads it
    shift = len(rows) // 2
    chosen = range(0, len(rows), max(1, len(rows) // args.pairs))[: args.pairs]
    passages = cut_to_token_budget(model.tokenizer, [rows[(i + shift) % len(rows)][1] for i in chosen],
                                   text_length(model, "document"))
    pairs = [(f"q{i}", rows[i][0], f"d{i}", passage) for i, passage in zip(chosen, passages)]
    synonyms = load_synonyms("wordnet")
    config = AttackConfig(max_words=args.max_words, candidates_per_word=args.candidates_per_word,
                          words_per_step=args.words_per_step)
    attack_pairs(model, pairs[:2], synonyms, config)  # warm-up (allocations, lazy imports)
    times, results = interleaved({"batched": lambda: attack_pairs(model, pairs, synonyms, config, batched=True),
                                  "one_per_call": lambda: attack_pairs(model, pairs, synonyms, config, batched=False)},
                                 args.repeats, args.device)
    same = all((a.attacked, a.substitutions) == (b.attacked, b.substitutions)
               and abs(a.score_after - b.score_after) < 1e-3
               for a, b in zip(results["batched"], results["one_per_call"]))
    attacked = results["batched"]
    print(f"{len(pairs)} pairs ({args.packages} docstrings), model {args.model or args.size}, {config}")
    print(f"mean words substituted {sum(r.words_substituted for r in attacked) / len(attacked):.2f}, "
          f"mean score gain {sum(r.score_gain for r in attacked) / len(attacked):.3f}")
    print(f"batched {median(times['batched']):.2f} s, one-per-call {median(times['one_per_call']):.2f} s -> "
          f"speed ratio {median(times['one_per_call']) / median(times['batched']):.1f}x (target >= 5x); "
          f"identical attacks: {same}")
    if not same:
        raise SystemExit("batched and one-per-call attacks disagree")


if __name__ == "__main__":
    main()
