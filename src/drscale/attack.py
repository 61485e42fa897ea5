"""Word-substitution ranking attack (WSRA-style, docs/design.md, section 4).

A white-box, greedy attack that promotes a non-relevant passage d for a query q by replacing at
most ``attack_budget`` of d's words with synonyms, against the bi-encoder being evaluated, whose
score is s(q, d) = scale * cos(E_q(q), E_d(d)):

1. Word importance: the drop of s(q, d) when the word is deleted from d (every deletion variant
   of a passage is scored in one batched encode call). Computed once, on the clean passage.
2. Eligible words: not a stop word, contains no digit, not one of the query's words
   (case-insensitive), has synonyms. Candidates for a word: its first ``candidates_per_word``
   synonyms that are themselves not stop words, numbers or query words (so the attack cannot
   simply copy query terms into the passage). Candidates keep the word's capitalisation.
3. Greedy steps: the ``words_per_step`` most important not-yet-substituted eligible words
   compete; all their candidate substitutions are scored in one batched encode call and the one
   that most raises s(q, d) is kept, if it raises it by more than ``min_gain``. Repeat until the
   budget is spent, no eligible word is left, or no candidate helps. A word position is
   substituted at most once.

Pairs are processed in lockstep, ``pairs_per_call`` at a time, so one encode call holds the
candidates of many pairs. A candidate differs from its passage in one word, so its token ids are
spliced from the passage's cached ids rather than tokenized again (:class:`_SplicedIds`; for
BERT-style tokenizers, checked per passage). ``batched=False`` runs the identical algorithm with
one ``encode_document`` call per text: it is the baseline of ``benchmarks/attack_batching.py`` and a
check that batching and splicing do not change results (up to float noise).

Only pure computation lives here: the caller (the workflow's attack rule) chooses the pairs
(:func:`drscale.robustness.attack_targets`) and caches the results.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch

from drscale.models import text_length
from drscale.perturb import match_case, split_words
from drscale.synonyms import STOP_WORDS

__all__ = [
    "AttackConfig",
    "AttackResult",
    "Substitution",
    "attack_budget",
    "attack_pairs",
]

_WORD = re.compile(r"\w+")
_DIGIT = re.compile(r"\d")


@dataclass(frozen=True)
class AttackConfig:
    """Attack hyper-parameters.

    The effective per-passage budget is the smaller of ``max_words`` and
    ``floor(max_fraction * n_words)`` (whichever are set), and at least 1
    (see :func:`attack_budget`).
    """

    max_words: int | None = 5
    max_fraction: float | None = None
    candidates_per_word: int = 8
    words_per_step: int | None = 5  # None: every remaining eligible word competes each step
    scale: float = 20.0  # s(q, d) = scale * cosine; 20 = MultipleNegativesRankingLoss default
    batch_size: int = 256
    pairs_per_call: int = 32  # pairs attacked in lockstep, sharing encode calls
    # A substitution must raise s(q, d) by more than this: a numerical guard so that float noise
    # between batch compositions cannot decide whether a step is taken.
    min_gain: float = 1e-4

    def __post_init__(self) -> None:
        if self.max_words is None and self.max_fraction is None:
            raise ValueError("set max_words and/or max_fraction")
        if self.max_words is not None and self.max_words < 1:
            raise ValueError("max_words must be >= 1")
        if self.max_fraction is not None and not 0 < self.max_fraction <= 1:
            raise ValueError("max_fraction must be in (0, 1]")
        if self.words_per_step is not None and self.words_per_step < 1:
            raise ValueError("words_per_step must be >= 1 or None")
        if min(self.candidates_per_word, self.batch_size, self.pairs_per_call) < 1:
            raise ValueError("candidates_per_word, batch_size and pairs_per_call must be >= 1")
        if self.min_gain < 0:
            raise ValueError("min_gain must be >= 0")


@dataclass(frozen=True)
class Substitution:
    position: int  # index of the word among the passage's words (regex \w+ runs)
    original: str
    replacement: str


@dataclass(frozen=True)
class AttackResult:
    query_id: str
    doc_id: str
    original: str
    attacked: str
    score_before: float  # s(q, d) on the original passage
    score_after: float  # s(q, adv(d)); equals score_before when nothing was substituted
    words_substituted: int
    substitutions: list[Substitution] = field(default_factory=list)

    @property
    def score_gain(self) -> float:
        return self.score_after - self.score_before


def attack_budget(n_words: int, config: AttackConfig) -> int:
    """Maximum number of words the attack may substitute in a passage of ``n_words`` words."""
    limits = []
    if config.max_words is not None:
        limits.append(config.max_words)
    if config.max_fraction is not None:
        # The epsilon keeps e.g. 0.3 * 10 from flooring to 2.
        limits.append(math.floor(config.max_fraction * n_words + 1e-9))
    return max(1, min(limits))


def _is_replaceable(word: str, query_words: frozenset[str]) -> bool:
    lower = word.lower()
    return lower not in STOP_WORDS and lower not in query_words and _DIGIT.search(word) is None


def _candidates(word: str, query_words: frozenset[str], synonyms: Mapping[str, Sequence[str]], k: int) -> list[str]:
    if not _is_replaceable(word, query_words):
        return []
    usable = [s for s in synonyms.get(word.lower(), ()) if _is_replaceable(s, query_words)]
    return [match_case(word, s) for s in usable[:k]]


def _encode(encode: Callable, texts: list[str], batch_size: int) -> torch.Tensor:
    with torch.inference_mode():
        emb = encode(
            texts,
            batch_size=batch_size,
            convert_to_tensor=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
    return emb.float()


class _SplicedIds:
    """Token ids of passage variants spliced from the ids of the passage's pieces.

    Tokenizing every candidate again cost 39% of a batched attack at L1-H64 on CPU, as much as
    encoding it. BERT's pre-tokenizer splits text at every space and punctuation mark, so a passage
    whose words are separated by them tokenizes to the concatenation of its pieces' ids, and a
    variant to the same with one piece's ids swapped. :meth:`attach` checks that against the
    tokenizer once per passage; passages where it fails (e.g. a word glued to a symbol such as
    ``a→b``) keep ``token_ids = None`` and are scored from text.
    """

    def __init__(self, tokenizer, max_length: int) -> None:
        self.tokenizer, self.max_length = tokenizer, max_length
        probe = self.tokenize(["a"], add_special_tokens=True)[0]
        content = self.tokenize(["a"])[0]
        at = next(i for i in range(len(probe)) if probe[i : i + len(content)] == content)
        self.prefix, self.suffix = probe[:at], probe[at + len(content) :]
        self.ids: dict[str, list[int]] = {"": []}

    @classmethod
    def for_model(cls, model) -> _SplicedIds | None:
        """The splicer of a sentence-transformers model with a BERT-style tokenizer and no document
        prompt (so its ids are exactly what ``encode_document`` would feed the encoder), else None."""
        from tokenizers.pre_tokenizers import BertPreTokenizer

        backend = getattr(getattr(model, "tokenizer", None), "backend_tokenizer", None)
        if not isinstance(getattr(backend, "pre_tokenizer", None), BertPreTokenizer):
            return None
        if (getattr(model, "prompts", None) or {}).get("document") or getattr(model, "default_prompt_name", None):
            return None
        return cls(model.tokenizer, text_length(model, "document"))

    def tokenize(self, texts: list[str], add_special_tokens: bool = False) -> list[list[int]]:
        if not texts:  # a fast tokenizer raises IndexError on an empty batch
            return []
        return self.tokenizer(texts, add_special_tokens=add_special_tokens, verbose=False)["input_ids"]

    def attach(self, states: list[_PairState]) -> None:
        """Give each state its content ids and piece offsets where splicing reproduces the tokenizer."""
        pieces = {p for state in states for p in state.pieces}
        pieces.update(w for state in states for words in state.candidates.values() for w in words)
        new = sorted(pieces - self.ids.keys())
        self.ids.update(zip(new, self.tokenize(new)))
        full = self.tokenize(["".join(state.pieces) for state in states])
        for state, ids in zip(states, full):
            state.splice(self.ids)
            if state.token_ids != ids:
                state.token_ids = None

    def variant(self, state: _PairState, position: int | None, word: str) -> list[int]:
        """Ids (special tokens included, truncated as the tokenizer would) of the passage with word
        ``position`` replaced by ``word``; ``position=None`` is the passage itself."""
        ids = state.token_ids
        if position is not None:
            piece = 2 * position + 1
            ids = ids[: state.piece_starts[piece]] + self.ids[word] + ids[state.piece_starts[piece + 1] :]
        keep = self.max_length - len(self.prefix) - len(self.suffix)
        return self.prefix + ids[:keep] + self.suffix


class _Scorer:
    """s(q, d) for (pair state, word position, replacement) variants of passages.

    Batched: one encoder call per :meth:`score` call, from spliced ids where the model allows it
    (:class:`_SplicedIds`), else one ``encode_document`` call on the texts. Unbatched: one
    ``encode_document`` call per text.
    """

    def __init__(self, model, queries: list[str], config: AttackConfig, batched: bool) -> None:
        self.model, self.config, self.batched = model, config, batched
        self.query_emb = self._embed(model.encode_query, queries)
        self.splicer = _SplicedIds.for_model(model) if batched else None

    def _embed(self, encode: Callable, texts: list[str]) -> torch.Tensor:
        if self.batched:
            return _encode(encode, texts, self.config.batch_size)
        return torch.cat([_encode(encode, [text], self.config.batch_size) for text in texts])

    def attach(self, states: list[_PairState]) -> None:
        if self.splicer is not None:
            self.splicer.attach(states)

    def substitute(self, state: _PairState, position: int, word: str) -> None:
        """Take a substitution, keeping a spliced passage's ids in step with its text."""
        state.substitute(position, word)
        if state.token_ids is not None:
            state.splice(self.splicer.ids)

    def score(self, variants: list[tuple[_PairState, int | None, str]]) -> list[float]:
        if not variants:
            return []
        spliced = [k for k, (state, _, _) in enumerate(variants) if state.token_ids is not None]
        from_text = [k for k, (state, _, _) in enumerate(variants) if state.token_ids is None]
        doc_emb = torch.empty(len(variants), self.query_emb.shape[1], device=self.query_emb.device)
        if spliced:
            from drscale.encode import encode_tokens
            from drscale.tokens import TokenizedTexts

            ids = TokenizedTexts.from_lists([self.splicer.variant(*variants[k]) for k in spliced])
            # Full precision: a step is taken for a gain above min_gain, far below bf16's noise.
            emb = encode_tokens(self.model, ids, self.config.batch_size, bf16=False)
            doc_emb[spliced] = torch.from_numpy(emb).to(doc_emb.device)
        if from_text:
            doc_emb[from_text] = self._embed(self.model.encode_document,
                                             [variants[k][0].text_with(*variants[k][1:]) for k in from_text])
        rows = torch.as_tensor([state.row for state, _, _ in variants], device=self.query_emb.device)
        return (self.config.scale * (self.query_emb[rows] * doc_emb).sum(-1)).cpu().tolist()


@dataclass
class _PairState:
    """Mutable per-pair state of the greedy search."""

    row: int
    pieces: list[str]
    budget: int
    candidates: dict[int, list[str]]  # eligible word position -> candidate replacements
    order: list[int] = field(default_factory=list)  # eligible positions, most important first
    score_before: float = 0.0
    score: float = 0.0
    substitutions: list[Substitution] = field(default_factory=list)
    done: bool = False
    token_ids: list[int] | None = None  # content ids of the current passage, when spliceable
    piece_starts: list[int] = field(default_factory=list)  # piece k is token_ids[starts[k]:starts[k + 1]]

    def text_with(self, position: int | None, word: str) -> str:
        pieces = list(self.pieces)
        if position is not None:
            pieces[2 * position + 1] = word
        return "".join(pieces)

    def splice(self, piece_ids: Mapping[str, list[int]]) -> None:
        """Rebuild ``token_ids`` and ``piece_starts`` from each piece's ids."""
        self.token_ids, self.piece_starts = [], [0]
        for piece in self.pieces:
            self.token_ids += piece_ids[piece]
            self.piece_starts.append(len(self.token_ids))

    def substitute(self, position: int, word: str) -> None:
        piece = 2 * position + 1
        self.substitutions.append(Substitution(position, self.pieces[piece], word))
        self.pieces[piece] = word

    def window(self, words_per_step: int | None) -> list[int]:
        taken = {s.position for s in self.substitutions}
        remaining = [p for p in self.order if p not in taken]
        return remaining if words_per_step is None else remaining[:words_per_step]


def attack_pairs(
    model,
    pairs: Sequence[tuple[str, str, str, str]],
    synonyms: Mapping[str, Sequence[str]],
    config: AttackConfig | None = None,
    batched: bool = True,
) -> list[AttackResult]:
    """Attack each ``(query_id, query_text, doc_id, passage_text)`` pair; results in input order.

    ``model`` is a SentenceTransformer (``encode_query`` / ``encode_document``), on any device.
    Deterministic: no sampling; ties go to the more important word, then the earlier synonym.
    ``batched=False`` gives the same results (up to float noise) with one encode call per text.
    """
    config = config or AttackConfig()
    if not pairs:
        return []
    query_rows: dict[str, int] = {}
    for _, query, _, _ in pairs:
        query_rows.setdefault(query, len(query_rows))
    scorer = _Scorer(model, list(query_rows), config, batched)

    results: list[AttackResult] = []
    for start in range(0, len(pairs), config.pairs_per_call):
        chunk = pairs[start : start + config.pairs_per_call]
        states = [_init_state(q, d, query_rows[q], synonyms, config) for _, q, _, d in chunk]
        _run_greedy(scorer, states, config)
        for (query_id, _, doc_id, passage), state in zip(chunk, states):
            results.append(
                AttackResult(
                    query_id=query_id,
                    doc_id=doc_id,
                    original=passage,
                    attacked="".join(state.pieces),
                    score_before=state.score_before,
                    score_after=state.score,
                    words_substituted=len(state.substitutions),
                    substitutions=list(state.substitutions),
                )
            )
    return results


def _init_state(
    query: str, passage: str, row: int, synonyms: Mapping[str, Sequence[str]], config: AttackConfig
) -> _PairState:
    query_words = frozenset(w.lower() for w in _WORD.findall(query))
    pieces = split_words(passage)
    words = pieces[1::2]
    candidates = {}
    for position, word in enumerate(words):
        found = _candidates(word, query_words, synonyms, config.candidates_per_word)
        if found:
            candidates[position] = found
    return _PairState(row=row, pieces=pieces, budget=attack_budget(len(words), config), candidates=candidates)


def _run_greedy(scorer: _Scorer, states: list[_PairState], config: AttackConfig) -> None:
    scorer.attach(states)
    # Clean scores, then importance = s(q, d) - s(q, d without the word), for eligible words only.
    before = scorer.score([(state, None, "") for state in states])
    variants, owners = [], []
    for i, state in enumerate(states):
        state.score = state.score_before = before[i]
        for position in state.candidates:
            variants.append((state, position, ""))
            owners.append((i, position))
    importance: dict[int, list[tuple[float, int]]] = {i: [] for i in range(len(states))}
    for (i, position), deleted_score in zip(owners, scorer.score(variants)):
        importance[i].append((before[i] - deleted_score, position))
    for i, state in enumerate(states):
        state.order = [p for _, p in sorted(importance[i], key=lambda ip: (-ip[0], ip[1]))]

    while True:
        variants, owners = [], []
        for i, state in enumerate(states):
            window = state.window(config.words_per_step)
            if state.done or len(state.substitutions) >= state.budget or not window:
                state.done = True
                continue
            for position in window:
                for word in state.candidates[position]:
                    variants.append((state, position, word))
                    owners.append((i, position, word))
        if not variants:
            return
        best: dict[int, tuple[float, int, str]] = {}
        for (i, position, word), score in zip(owners, scorer.score(variants)):
            if i not in best or score > best[i][0]:  # strict: the first of equal scores wins
                best[i] = (score, position, word)
        for i, (score, position, word) in best.items():
            state = states[i]
            if score - state.score <= config.min_gain:
                state.done = True
                continue
            scorer.substitute(state, position, word)
            state.score = score
