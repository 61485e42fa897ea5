"""Benchmark: batched word-substitution attack vs one encode call per candidate.

Runs ``drscale.attack.attack_pairs`` twice on the same (query, non-relevant passage) pairs in the
same process, with ``batched=True`` (all deletion variants / all candidates of a greedy step of
``pairs_per_call`` pairs in one encode call) and ``batched=False`` (one encode call per text),
checks that both give the same attacked passages, and prints wall times and the speed ratio.

    PYTHONPATH=src python benchmarks/attack_batching.py --pairs 32 --threads 1
    PYTHONPATH=src python benchmarks/attack_batching.py --model path/to/sentence_transformer --device cuda

Without ``--model``, a tiny encoder is built and briefly trained in a temporary directory
(WordPiece tokenizer trained with HF ``tokenizers``, random-init 1-layer BERT, mean pooling,
MultipleNegativesRankingLoss), the same recipe as the fixture in ``tests/test_attack.py``.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time

import torch

from drscale.attack import AttackConfig, attack_pairs
from drscale.synonyms import load_synonyms

TOPICS = {
    "vehicle": ("car road engine driver journey", "drive travel repair", "fast quick old"),
    "home": ("house roof garden room door", "build paint clean", "large big quiet"),
    "health": ("doctor illness hospital patient cure", "treat help heal", "careful sick strong"),
    "nature": ("river water forest stream bank", "flow run fall", "cold deep clear"),
    "art": ("music song concert picture artist", "play sing show", "loud beautiful famous"),
    "trade": ("money market price shop buyer", "buy sell pay", "rich cheap expensive"),
    "school": ("teacher student lesson book class", "study learn read", "clever bright hard"),
    "war": ("battle army soldier weapon fight", "attack defend win", "brave fierce bloody"),
}
SENTENCES = (
    "In {year}, the {a1} {n1} would {v1} near the {n2}.",
    "A {a1} {n1} can {v1} the {n2}; every {n3} seemed {a2}.",
    "The {n3} was {a2}, and {count} people watched the {n1} {v1}.",
)


def make_pairs(n_per_topic: int, sentences_per_passage: int, seed: int) -> list[tuple[str, str, str]]:
    rng = random.Random(seed)
    triples = []
    for topic, (nouns, verbs, adjs) in TOPICS.items():
        nouns, verbs, adjs = nouns.split(), verbs.split(), adjs.split()
        for _ in range(n_per_topic):
            parts = []
            for k in range(sentences_per_passage):
                n1, n2, n3 = rng.sample(nouns, 3)
                a1, a2 = rng.sample(adjs, 2)
                parts.append(
                    SENTENCES[k % len(SENTENCES)].format(
                        n1=n1,
                        n2=n2,
                        n3=n3,
                        v1=rng.choice(verbs),
                        a1=a1,
                        a2=a2,
                        year=rng.randint(1900, 2020),
                        count=rng.randint(2, 99),
                    )
                )
            triples.append((topic, " ".join(rng.sample(nouns + adjs, 3)), " ".join(parts)))
    return triples


def build_tiny_model(path: str, triples, device: str, steps: int = 60, seed: int = 0):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import BertConfig, BertModel, BertTokenizerFast

    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(
        vocab_size=600,
        special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
        initial_alphabet=list("abcdefghijklmnopqrstuvwxyz0123456789"),
    )
    tokenizer.train_from_iterator([t for _, q, d in triples for t in (q, d)], trainer)
    vocab = tokenizer.get_vocab()
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=256,
    )
    BertModel(config).save_pretrained(path)
    BertTokenizerFast(vocab=vocab, do_lower_case=True).save_pretrained(path)
    model = SentenceTransformer(modules=[Transformer(path, max_seq_length=128), Pooling(32, "mean")], device=device)

    loss_fn = MultipleNegativesRankingLoss(model, scale=20.0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    rng = random.Random(seed)
    model.train()
    for _ in range(steps):
        batch = rng.sample(triples, 16)
        features = [model.preprocess([q for _, q, _ in batch]), model.preprocess([d for _, _, d in batch])]
        features = [{k: v.to(model.device) if torch.is_tensor(v) else v for k, v in f.items()} for f in features]
        loss = loss_fn(features, None)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=32, help="number of (query, passage) pairs to attack")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", help="saved SentenceTransformer to attack (default: build a tiny one)")
    parser.add_argument("--sentences", type=int, default=3, help="sentences per synthetic passage")
    parser.add_argument("--max-words", type=int, default=5)
    parser.add_argument("--candidates-per-word", type=int, default=8)
    parser.add_argument("--words-per-step", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    triples = make_pairs(n_per_topic=25, sentences_per_passage=args.sentences, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        if args.model:
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(args.model, device=args.device)
        else:
            model = build_tiny_model(tmp, triples, args.device)

        # Non-relevant pairs: each query against a passage of another topic.
        targets = make_pairs(n_per_topic=args.pairs // len(TOPICS) + 1, sentences_per_passage=args.sentences, seed=1)
        shift = len(targets) // 2 + 1
        pairs = [
            (f"q{i}", targets[i][1], f"d{(i + shift) % len(targets)}", targets[(i + shift) % len(targets)][2])
            for i in range(len(targets))
        ][: args.pairs]
        synonyms = load_synonyms(None)
        config = AttackConfig(
            max_words=args.max_words,
            candidates_per_word=args.candidates_per_word,
            words_per_step=args.words_per_step,
            batch_size=args.batch_size,
        )
        attack_pairs(model, pairs[:2], synonyms, config)  # warm-up (allocations, lazy imports)

        timings, outputs = {}, {}
        for batched in (True, False):
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            start = time.perf_counter()
            outputs[batched] = attack_pairs(model, pairs, synonyms, config, batched=batched)
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            timings[batched] = time.perf_counter() - start

    same = all(
        (a.attacked, a.substitutions) == (b.attacked, b.substitutions) and abs(a.score_after - b.score_after) < 1e-3
        for a, b in zip(outputs[True], outputs[False])
    )
    results = outputs[True]
    n_words = sum(len(r.original.split()) for r in results) / len(results)
    print(f"device={args.device} threads={args.threads} pairs={len(pairs)} mean_words~{n_words:.0f} {config}")
    print(f"mean words substituted: {sum(r.words_substituted for r in results) / len(results):.2f}")
    print(f"mean score gain: {sum(r.score_gain for r in results) / len(results):.3f}")
    print(f"batched:     {timings[True]:8.2f} s")
    print(f"one-per-call:{timings[False]:8.2f} s")
    print(f"speed ratio (one-per-call / batched): {timings[False] / timings[True]:.1f}x")
    print(f"identical results: {same}")
    if not same:
        raise SystemExit("batched and one-per-call attacks disagree")


if __name__ == "__main__":
    main()
