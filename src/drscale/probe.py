"""The validation probe: a small fixed set of validation queries, passages and an attack setting
that measures ce_eff, ce_ood_mean, ce_adv and ce_rob of a model in a second or so.

Pareto training steers on it: the Pareto target r* is the probe's ce_rob / ce_eff at the knee of
the baselines' final models (:func:`drscale.pareto_target.probe_target`), and the controller
measures the same probe with the model being trained every ``probe_every`` steps, so the signal
it compares with r* is the very quantity r* was measured in (same queries, passages, K and
attack). Only validation splits are read (``dev`` by default): no test query, passage judgement
or metric reaches a training decision.

Per collection, ``queries`` validation queries (a seeded subset) with their first positive and one
shared pool of ``negatives`` passages judged for none of them: the CE of a query is
``-log softmax`` of its positive among itself and the pool, the contrastive entropy of the
evaluation with K = ``negatives`` sampled negatives (shared between the probe's queries, so the
pool is encoded once). ce_adv is the evaluation's paired estimator: ce_eff of the in-domain probe
plus the attack's effect on its first ``attacked_queries`` queries, whose ``top_m`` strongest pool
passages are attacked by :func:`drscale.attack.attack_pairs` with the in-training attack's budget.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drscale.data import load_collection, passage_text

__all__ = ["build_probe", "measure_probe", "probe_ratio"]


def build_probe(collections: Sequence[tuple[str, str, Path, str]], queries: int, negatives: int,
                seed: int) -> dict:
    """The probe's texts from ``(name, role, folder, split)`` per collection (role ``in_domain`` /
    ``ood``); plain JSON-able data. ``splits`` lists the ``collection:split`` read."""
    parts = []
    for name, role, folder, split in collections:
        collection = load_collection(Path(folder), split)
        ids = sorted(q for q in collection.queries if any(r > 0 for r in collection.qrels.get(q, {}).values()))
        if not ids:
            raise ValueError(f"collection {name!r} has no judged query in its {split!r} split: it cannot "
                             "be part of the validation probe")
        rng = np.random.default_rng([seed, len(parts)])
        chosen = sorted(rng.choice(len(ids), size=min(queries, len(ids)), replace=False).tolist())
        qids = [ids[i] for i in chosen]
        positives = [min(d for d, r in collection.qrels[q].items() if r > 0 and d in collection.corpus)
                     for q in qids]
        judged = {d for q in qids for d in collection.qrels[q]}
        candidates = sorted(d for d in collection.corpus if d not in judged)
        if len(candidates) < negatives:
            raise ValueError(f"collection {name!r} has {len(candidates)} passages outside the probe's judged "
                             f"ones, too few for {negatives} negatives; lower 'pareto.probe_negatives'")
        pool = sorted(rng.choice(len(candidates), size=negatives, replace=False).tolist())
        parts.append({"collection": name, "role": role, "split": split,
                      "queries": [collection.queries[q] for q in qids],
                      "positives": [passage_text(collection.corpus[d]) for d in positives],
                      "pool": [passage_text(collection.corpus[candidates[i]]) for i in pool]})
    if not any(p["role"] == "in_domain" for p in parts):
        raise ValueError("the validation probe needs the in-domain collection's validation split")
    return {"splits": [f"{p['collection']}:{p['split']}" for p in parts], "parts": parts}


@dataclass(frozen=True)
class ProbeAttack:
    """How the probe attacks: queries, strongest pool passages per query, and the attack itself."""

    attacked_queries: int = 4
    top_m: int = 2
    max_words: int = 2
    candidates_per_word: int = 4
    words_per_step: int = 3


def _ce(positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
    from scipy.special import logsumexp

    logits = np.concatenate([positive[:, None], negative], axis=1)
    return logsumexp(logits, axis=1) - positive


def _embed(model, texts: list[str], task: str, cache: dict, key: tuple, batch_size: int) -> np.ndarray:
    """L2-normalised embeddings of fixed texts; their token ids are computed once per ``cache``."""
    import torch
    from sentence_transformers.util import batch_to_device

    if key not in cache:
        cache[key] = [model.preprocess(texts[i:i + batch_size], task=task) for i in range(0, len(texts), batch_size)]
    out = []
    for features in cache[key]:
        features = {**batch_to_device(dict(features), model.device), "task": task}
        out.append(torch.nn.functional.normalize(model(features)["sentence_embedding"].float(), dim=-1).cpu().numpy())
    return np.concatenate(out)


def measure_probe(model, probe: Mapping, synonyms: Mapping[str, Sequence[str]], attack: ProbeAttack,
                  scale: float, cache: dict | None = None, batch_size: int = 512) -> dict[str, float]:
    """ce_eff, ce_ood_<collection>, ce_ood_mean, ce_adv and ce_rob of ``model`` on the probe.

    Without gradients and in eval mode (no dropout); restores the model's train/eval mode. Pass
    the same ``cache`` dict to every call with one model to tokenize the probe once (tokenizing
    took 60% of a measurement). Without an OOD part ce_rob is ce_adv alone, as in the Pareto target.
    """
    import torch

    from drscale.attack import AttackConfig, attack_pairs
    from drscale.models import text_length
    from drscale.perturb import truncate_words

    cache = {} if cache is None else cache
    was_training = model.training
    out: dict[str, float] = {}
    ood = []
    try:
        model.eval()
        with torch.inference_mode():
            for i, part in enumerate(probe["parts"]):
                q = _embed(model, part["queries"], "query", cache, (i, "query"), batch_size)
                d = _embed(model, part["positives"] + part["pool"], "document", cache, (i, "document"), batch_size)
                n = len(part["queries"])
                positive = scale * np.einsum("qh,qh->q", q, d[:n])
                negative = scale * q @ d[n:].T
                ce = float(_ce(positive, negative).mean())
                if part["role"] == "in_domain":
                    out["ce_eff"] = ce
                    in_domain = (part, positive, negative)
                else:
                    out[f"ce_ood_{part['collection']}"] = ce
                    ood.append(ce)
        part, positive, negative = in_domain
        rows = range(min(attack.attacked_queries, len(part["queries"])))
        words = text_length(model, "document")
        targets = [(i, int(j)) for i in rows for j in np.argsort(-negative[i], kind="stable")[: attack.top_m]]
        pairs = [(str(i), part["queries"][i], str(j), truncate_words(part["pool"][j], words)) for i, j in targets]
        config = AttackConfig(max_words=attack.max_words, candidates_per_word=attack.candidates_per_word,
                              words_per_step=attack.words_per_step, scale=scale, batch_size=batch_size,
                              pairs_per_call=max(1, len(pairs)))
        results = attack_pairs(model, pairs, synonyms, config)
    finally:
        model.train(was_training)
    attacked = negative[list(rows)].copy()
    for (i, j), result in zip(targets, results):
        attacked[i, j] = max(result.score_after, attacked[i, j])
    clean = _ce(positive[list(rows)], negative[list(rows)]).mean()
    out["ce_adv"] = out["ce_eff"] + float(_ce(positive[list(rows)], attacked).mean() - clean)
    if ood:
        out["ce_ood_mean"] = float(np.mean(ood))
        out["ce_rob"] = (out["ce_ood_mean"] + out["ce_adv"]) / 2
    else:
        out["ce_rob"] = out["ce_adv"]
    return out


def probe_ratio(measured: Mapping[str, float]) -> float:
    """The quantity Pareto training steers: ce_rob / ce_eff of one probe measurement."""
    return measured["ce_rob"] / measured["ce_eff"]
