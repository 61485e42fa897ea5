"""Tests of the word-substitution ranking attack against a tiny *trained* bi-encoder."""

import math
import random
from dataclasses import replace

import pytest
import torch

from drscale.attack import (
    AttackConfig,
    AttackResult,
    _init_state,
    _SplicedIds,
    attack_budget,
    attack_pairs,
)
from drscale.perturb import split_words
from drscale.synonyms import STOP_WORDS, load_synonyms

torch.set_num_threads(1)

# Topic vocabularies rich in WordNet synonyms: (nouns, verbs, adjectives).
TOPICS = {
    "vehicle": ("car road engine driver journey", "drive travel repair", "fast quick old"),
    "home": ("house roof garden room door", "build paint clean", "large big quiet"),
    "health": ("doctor illness hospital patient cure", "treat help heal", "careful sick strong"),
    "nature": ("river water forest stream bank", "flow run fall", "cold deep clear"),
    "art": ("music song concert picture artist", "play sing show", "loud beautiful famous"),
    "trade": ("money market price shop buyer", "buy sell pay", "rich cheap expensive"),
    "school": ("teacher student lesson book class", "study learn read", "clever bright hard"),
    "war": ("battle army soldier weapon fight", "attack defend win", "brave fierce bloody"),
    "food": ("meal bread kitchen cook dinner", "eat bake serve", "hot sweet fresh"),
    "sea": ("ship ocean sailor storm harbor", "sail sink float", "wild calm dark"),
}
TEMPLATES = (
    "In {year}, the {a1} {n1} would {v1} near the {n2}. The {n3} was {a2}!",
    "A {a1} {n1} can {v1} the {n2}; every {n3} seemed {a2} after {year} days.",
    "{N1} and {n2}: they {v1} a {a1} {n3}, and {count} of them felt {a2}.",
)


def make_pairs(n_per_topic: int, seed: int = 0) -> list[tuple[str, str, str]]:
    """(topic, query, passage) triples; the query shares words with its passage."""
    rng = random.Random(seed)
    triples = []
    for topic, words in TOPICS.items():
        nouns, verbs, adjs = (w.split() for w in words)
        for i in range(n_per_topic):
            n1, n2, n3 = rng.sample(nouns, 3)
            a1, a2 = rng.sample(adjs, 2)
            passage = TEMPLATES[i % len(TEMPLATES)].format(
                N1=n1.capitalize(),
                n1=n1,
                n2=n2,
                n3=n3,
                v1=rng.choice(verbs),
                a1=a1,
                a2=a2,
                year=rng.randint(1900, 2020),
                count=rng.randint(2, 99),
            )
            triples.append((topic, f"{a1} {n1} {rng.choice(nouns)}", passage))
    return triples


def build_tiny_model(path, texts, train_pairs, steps=60, seed=0):
    """WordPiece tokenizer + random-init 1-layer BERT + mean pooling, trained with MNRL."""
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
        initial_alphabet=list("abcdefghijklmnopqrstuvwxyz0123456789"),  # synonyms never hit [UNK]
    )
    tokenizer.train_from_iterator(texts, trainer)
    vocab = tokenizer.get_vocab()
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(path)
    BertTokenizerFast(vocab=vocab, do_lower_case=True).save_pretrained(path)
    model = SentenceTransformer(modules=[Transformer(str(path), max_seq_length=64), Pooling(32, "mean")], device="cpu")

    loss_fn = MultipleNegativesRankingLoss(model, scale=20.0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    rng = random.Random(seed)
    model.train()
    for _ in range(steps):
        batch = rng.sample(train_pairs, 16)
        features = [model.preprocess([q for q, _ in batch]), model.preprocess([d for _, d in batch])]
        loss = loss_fn(features, None)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    return model, loss.item()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    triples = make_pairs(n_per_topic=20)
    texts = [t for _, q, d in triples for t in (q, d)]
    model, final_loss = build_tiny_model(tmp_path_factory.mktemp("tiny"), texts, [(q, d) for _, q, d in triples])
    return model, final_loss


@pytest.fixture(scope="module")
def model(trained):
    return trained[0]


@pytest.fixture(scope="module")
def synonyms():
    return load_synonyms(None)


@pytest.fixture(scope="module")
def pairs():
    """Non-relevant (query, passage) pairs: the query comes from another topic."""
    triples = make_pairs(n_per_topic=2, seed=1)
    out = []
    for i, (topic, query, _) in enumerate(triples):
        j = (i + 5) % len(triples)
        other_topic, _, passage = triples[j]
        assert other_topic != topic
        out.append((f"q{i}", query, f"d{j}", passage))
    return out


CONFIG = AttackConfig(max_words=3, candidates_per_word=5, words_per_step=4, pairs_per_call=8)


@pytest.fixture(scope="module")
def results(model, pairs, synonyms):
    return attack_pairs(model, pairs, synonyms, CONFIG)


def score(model, query, passage, scale=20.0):
    with torch.inference_mode():
        q = model.encode_query([query], convert_to_tensor=True, normalize_embeddings=True)
        d = model.encode_document([passage], convert_to_tensor=True, normalize_embeddings=True)
    return scale * float((q * d).sum())


def test_tiny_model_is_trained(trained):
    loss, chance = trained[1], math.log(16)
    assert loss < 0.6 * chance


def test_attack_raises_score_and_never_lowers_it(model, pairs, results):
    assert len(results) == len(pairs)
    gains = [r.score_after - r.score_before for r in results]
    assert min(gains) >= 0.0
    assert sum(g > 0 for g in gains) >= 0.8 * len(results)
    for (qid, query, did, passage), r in zip(pairs, results):
        assert (r.query_id, r.doc_id, r.original) == (qid, did, passage)
        # Reported scores are the model's true scores of the texts.
        assert r.score_before == pytest.approx(score(model, query, passage), abs=1e-3)
        assert r.score_after == pytest.approx(score(model, query, r.attacked), abs=1e-3)
        if r.words_substituted == 0:
            assert r.attacked == r.original and r.score_after == r.score_before


def test_substitutions_are_real_synonyms_and_rebuild_the_text(results, synonyms):
    for r in results:
        before, after = split_words(r.original), split_words(r.attacked)
        assert len(before) == len(after)
        assert before[0::2] == after[0::2]  # spacing and punctuation untouched
        changed = {i for i, (a, b) in enumerate(zip(before[1::2], after[1::2])) if a != b}
        assert changed == {s.position for s in r.substitutions}
        assert r.words_substituted == len(r.substitutions) == len(changed)  # each position once
        for s in r.substitutions:
            assert before[2 * s.position + 1] == s.original
            assert after[2 * s.position + 1] == s.replacement
            assert s.replacement.lower() in synonyms[s.original.lower()]
            if s.original[0].isupper():
                assert s.replacement[0].isupper()


def test_never_touches_stop_words_numbers_or_query_words(pairs, results):
    for (_, query, _, _), r in zip(pairs, results):
        query_words = {w.lower() for w in split_words(query)[1::2]}
        for s in r.substitutions:
            for word in (s.original.lower(), s.replacement.lower()):
                assert word not in STOP_WORDS
                assert word not in query_words
                assert not any(c.isdigit() for c in word)


def test_budget_max_words(results):
    assert max(r.words_substituted for r in results) <= CONFIG.max_words
    assert max(r.words_substituted for r in results) == CONFIG.max_words  # the budget binds


def test_budget_max_fraction(model, pairs, synonyms):
    config = replace(CONFIG, max_words=None, max_fraction=0.1, pairs_per_call=32)
    for r in attack_pairs(model, pairs, synonyms, config):
        n_words = len(split_words(r.original)) // 2
        assert r.words_substituted <= max(1, math.floor(0.1 * n_words))


def test_attack_budget_semantics():
    assert attack_budget(100, AttackConfig(max_words=5)) == 5
    assert attack_budget(100, AttackConfig(max_words=None, max_fraction=0.03)) == 3
    assert attack_budget(10, AttackConfig(max_words=None, max_fraction=0.3)) == 3  # no 2.999 floor
    assert attack_budget(100, AttackConfig(max_words=5, max_fraction=0.02)) == 2  # min of both
    assert attack_budget(4, AttackConfig(max_words=None, max_fraction=0.1)) == 1  # at least 1
    with pytest.raises(ValueError):
        AttackConfig(max_words=None, max_fraction=None)


def test_deterministic(model, pairs, synonyms, results):
    assert attack_pairs(model, pairs, synonyms, CONFIG) == results


def test_batched_and_unbatched_agree(model, pairs, synonyms, results):
    subset = pairs[:6]
    unbatched = attack_pairs(model, subset, synonyms, CONFIG, batched=False)
    for a, b in zip(results[: len(subset)], unbatched):
        assert (a.attacked, a.substitutions) == (b.attacked, b.substitutions)
        assert a.score_before == pytest.approx(b.score_before, abs=1e-4)
        assert a.score_after == pytest.approx(b.score_after, abs=1e-4)


def test_pairs_per_call_does_not_change_results(model, pairs, synonyms, results):
    one_at_a_time = attack_pairs(model, pairs[:6], synonyms, replace(CONFIG, pairs_per_call=1))
    for a, b in zip(results, one_at_a_time):
        assert (a.attacked, a.substitutions) == (b.attacked, b.substitutions)


def test_a_chunk_whose_words_are_all_cached_is_attacked(model, pairs, synonyms):
    """The second call's pair brings no new word to the splicer (the default run's crash: the
    tokenizer was called on an empty list)."""
    first, second = attack_pairs(model, [pairs[0], pairs[0]], synonyms, replace(CONFIG, pairs_per_call=1))
    assert (first.attacked, first.substitutions) == (second.attacked, second.substitutions)


class CountingModel:
    """Counts the encoder calls (and their rows) of a wrapped sentence-transformers model."""

    def __init__(self, model):
        self.model, self.calls = model, []
        self.tokenizer, self.device, self.max_seq_length = model.tokenizer, model.device, model.max_seq_length

    def __getitem__(self, index):
        return self.model[index]

    def eval(self):
        return self.model.eval()

    def __call__(self, features):  # a forward pass on token ids (the spliced path)
        self.calls.append(("ids", len(features["input_ids"])))
        return self.model(features)

    def encode_query(self, texts, **kwargs):
        self.calls.append(("query", len(texts)))
        return self.model.encode_query(texts, **kwargs)

    def encode_document(self, texts, **kwargs):
        self.calls.append(("document", len(texts)))
        return self.model.encode_document(texts, **kwargs)


def test_batched_mode_uses_one_encoder_call_per_stage_on_spliced_ids(model, pairs, synonyms):
    counting = CountingModel(model)
    config = replace(CONFIG, pairs_per_call=len(pairs) + 1, batch_size=100_000)
    out = attack_pairs(counting, pairs + pairs[:1], synonyms, config)  # a repeated query
    assert counting.calls[0] == ("query", len(pairs))  # each distinct query encoded once
    assert not [kind for kind, _ in counting.calls if kind == "document"]  # no passage tokenized again
    document_calls = [n for kind, n in counting.calls if kind == "ids"]
    assert document_calls[0] == len(pairs) + 1  # all clean passages
    # Then one call for all deletion variants, and one per greedy step for all candidates.
    assert len(document_calls) <= 2 + CONFIG.max_words + 1
    assert all(n > 1 for n in document_calls)

    counting_single = CountingModel(model)
    attack_pairs(counting_single, pairs[:2], synonyms, CONFIG, batched=False)
    assert {kind for kind, _ in counting_single.calls} == {"query", "document"}
    assert {n for _, n in counting_single.calls} == {1}
    assert len(counting_single.calls) > len(document_calls)
    assert out[-1].attacked == out[0].attacked


def test_spliced_ids_are_the_tokenizers_ids(model, synonyms):
    splicer = _SplicedIds.for_model(model)
    assert splicer is not None  # the tiny model's WordPiece has BERT's pre-tokenizer
    texts = [
        "The driver's car, on a quick (old) road -- at 5.5 km/h!",
        "Élan: a naïve house_garden; big-room.",
        " ".join(["engine"] * 80),  # longer than the model's window: truncated as the tokenizer would
        "a→b car road",  # a word glued to a symbol: not splitable, scored from text
    ]
    states = [_init_state("river water", text, 0, synonyms, CONFIG) for text in texts]
    splicer.attach(states)
    assert [state.token_ids is not None for state in states] == [True, True, True, False]
    checked = 0
    for state in states[:3]:
        expected = model.tokenizer("".join(state.pieces), truncation=True, max_length=splicer.max_length)["input_ids"]
        assert splicer.variant(state, None, "") == expected
        for position, words in state.candidates.items():
            for word in [*words, ""]:
                text = state.text_with(position, word)
                expected = model.tokenizer(text, truncation=True, max_length=splicer.max_length)["input_ids"]
                assert splicer.variant(state, position, word) == expected
                checked += 1
    assert checked > 20
    # After a substitution the spliced ids follow the new text.
    state = states[0]
    position, words = next(iter(state.candidates.items()))
    state.substitute(position, words[0])
    state.splice(splicer.ids)
    assert splicer.variant(state, None, "") == model.tokenizer("".join(state.pieces))["input_ids"]


def test_unsplitable_passages_are_attacked_from_text_with_the_same_results(model, pairs, synonyms):
    glued = [(q, query, d, passage.replace(" ", "→", 1)) for q, query, d, passage in pairs[:4]]
    batched = attack_pairs(model, glued + pairs[4:6], synonyms, CONFIG)
    unbatched = attack_pairs(model, glued + pairs[4:6], synonyms, CONFIG, batched=False)
    for a, b in zip(batched, unbatched):
        assert (a.attacked, a.substitutions) == (b.attacked, b.substitutions)
        assert a.score_after == pytest.approx(b.score_after, abs=1e-4)


class ConceptModel:
    """Deterministic stand-in encoder: embedding = normalised counts of concepts (word -> dim)."""

    def __init__(self, concepts):
        self.concepts = concepts

    def _embed(self, texts, batch_size=32, convert_to_tensor=True, normalize_embeddings=True, **_):
        emb = torch.zeros(len(texts), max(self.concepts.values()) + 2)
        emb[:, -1] = 0.1  # never a zero vector
        for row, text in enumerate(texts):
            for word in split_words(text.lower())[1::2]:
                if word in self.concepts:
                    emb[row, self.concepts[word]] += 1.0
        return torch.nn.functional.normalize(emb, dim=-1)

    encode_query = encode_document = _embed


CONCEPTS = {"automobile": 0, "vehicle": 0, "fast": 1, "speedy": 1, "road": 2}


def test_greedy_picks_best_candidate_and_stops_when_nothing_helps():
    synonyms = {"car": ["machine", "automobile"], "quick": ["fast", "speedy"]}
    pair = ("q", "vehicle speedy", "d", "Car: a quick, QUICK ride 1999.")
    [r] = attack_pairs(ConceptModel(CONCEPTS), [pair], synonyms, AttackConfig(max_words=5))
    # "speedy" is a query word, so never inserted; "machine" carries no concept. Car->Automobile
    # and quick->fast tie with each other and win (ties: more important, then earlier word);
    # a second "fast" would tilt the passage away from the query, so the attack stops there.
    assert r.attacked == "Automobile: a fast, QUICK ride 1999."
    assert [(s.position, s.original, s.replacement) for s in r.substitutions] == [
        (0, "Car", "Automobile"),
        (2, "quick", "fast"),
    ]
    assert r.score_after > r.score_before

    pair = ("q", "fast automobile road", "d", "Car: a quick ride.")
    [r] = attack_pairs(ConceptModel(CONCEPTS), [pair], {"car": ["automobile"]})
    assert r.attacked == r.original and r.words_substituted == 0  # only candidate is a query word


def test_capitalisation_follows_the_replaced_word():
    synonyms = {"car": ["automobile"], "quick": ["fast"]}
    pair = ("q", "vehicle speedy", "d", "Car and QUICK")
    [r] = attack_pairs(ConceptModel(CONCEPTS), [pair], synonyms, AttackConfig(max_words=2))
    assert r.attacked == "Automobile and FAST"
    assert isinstance(r, AttackResult) and r.words_substituted == 2


def test_edge_cases_empty_inputs():
    model = ConceptModel(CONCEPTS)
    assert attack_pairs(model, [], {"car": ["automobile"]}) == []
    [r] = attack_pairs(model, [("q", "vehicle", "d", "")], {"car": ["automobile"]})
    assert r.attacked == "" and r.words_substituted == 0


def test_split_words_round_trip():
    text = "  Hello, world -- it's 3.5 km!\n"
    pieces = split_words(text)
    assert "".join(pieces) == text
    assert pieces[1::2] == ["Hello", "world", "it", "s", "3", "5", "km"]

