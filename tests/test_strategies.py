"""Training strategies: each trains a tiny model; denoising, the robustness loss and the Pareto loop."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from drscale import losses as losses_module
from drscale import train as train_module
from drscale.data import load_collection, training_pairs
from drscale.losses import RobustRankingLoss
from drscale.mining import mine_bm25_negatives
from drscale.models import load_start_model
from drscale.pareto import ParetoController
from drscale.pareto_target import pareto_target
from drscale.perturb import perturb_query, truncate_words
from drscale.probe import build_probe
from drscale.registry import strategy_options
from drscale.strategies import STRATEGIES, Denoising, HardNegative, make_strategy
from drscale.synonyms import STOP_WORDS, load_synonyms
from drscale.train import TrainConfig, train

torch.set_num_threads(1)

STEPS = 6


def config(**overrides):
    values = dict(steps=STEPS, batch_size=8, learning_rate=1e-2, warmup_ratio=0.1, weight_decay=0.0, seed=0,
                  checkpoint_every=100, logging_steps=2)
    return TrainConfig(**{**values, **overrides})


@pytest.fixture(scope="module")
def pairs(tiny_collection):
    return training_pairs(load_collection(tiny_collection, "train"))


@pytest.fixture(scope="module")
def mined(pairs):
    return mine_bm25_negatives(pairs, [p for _, p in pairs], depth=6)


@pytest.fixture(scope="module")
def synonyms(pairs):
    """WordNet restricted to the collection's vocabulary (same entries, smaller dict)."""
    wordnet = load_synonyms(None)
    words = {w.lower() for q, p in pairs for w in (q + " " + p).split()}
    return {w: wordnet[w] for w in words if w in wordnet}


@pytest.fixture(scope="module")
def probe(tiny_collection):
    """A validation probe of the tiny collection (its test split stands in for a dev split here)."""
    return build_probe([("tiny", "in_domain", tiny_collection, "test")], queries=6, negatives=20, seed=0)


def options(name, synonyms, probe=None):
    if name in ("adversarial", "pareto", "pareto_mgda"):
        extra = {"synonyms": synonyms, "attacked_per_batch": 4}
        if name == "pareto":
            extra.update(probe=probe, probe_every=2)
        return {**extra, "target_ratio": 1.0} if name.startswith("pareto") else extra
    return {}


def fit(name, rows, tiny_model_dir, tmp_path, steps=STEPS, **kwargs):
    strategy = make_strategy(name, **kwargs)
    model = load_start_model(tiny_model_dir, 0, 16, 32, scratch=tmp_path / "init")
    curve = train(model, strategy, rows, config(steps=steps), tmp_path / "ckpt", tmp_path / "out")
    return strategy, curve


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_strategy_trains_and_logs_every_step(name, pairs, mined, synonyms, probe, tiny_model_dir, tmp_path):
    rows = mined if name in ("hard_negative", "denoising") else pairs
    strategy, curve = fit(name, rows, tiny_model_dir, tmp_path, **options(name, synonyms, probe))
    assert curve.step.max() == STEPS and np.isfinite(curve.loss).all()
    assert (tmp_path / "out" / "modules.json").exists()
    log = strategy.trajectory()
    assert list(log.step) == list(range(1, STEPS + 1))
    assert np.isfinite(log[["w", "loss", "loss_eff"]].to_numpy()).all()
    if name in ("standard", "hard_negative", "denoising"):
        assert (log.w == 0).all() and log.loss_rob.isna().all() and (log.loss == log.loss_eff).all()
    else:
        assert np.isfinite(log.loss_rob).all()
        assert np.allclose(log.loss, (1 - log.w) * log.loss_eff + log.w * log.loss_rob, rtol=1e-5)
    if name == "adversarial":
        assert (log.w == 0.5).all()


def test_hard_negative_rows_get_their_best_mined_negative_as_a_column(mined):
    strategy = HardNegative(negatives_per_query=2)
    dataset = strategy.dataset(mined)
    assert dataset.column_names == ["query", "positive", "negative_1", "negative_2"]
    assert dataset["negative_1"] == [r["negatives"][0] for r in mined]
    assert dataset["negative_2"] == [r["negatives"][1] for r in mined]
    with pytest.raises(ValueError, match="mine_negatives"):
        HardNegative().dataset([("q", "p")])


def test_denoising_removes_a_planted_false_negative(mined):
    planted = mined[0]["positive"] + " (a copy: relevant, though unjudged)"
    rows = [dict(r) for r in mined]
    # The teacher scores the planted copy above the positive, the real negative well below it.
    rows[0] = {**rows[0], "positive_score": 15.0, "negatives": [planted, rows[0]["negatives"][0]],
               "negative_scores": [16.0, 3.0]}
    hard = HardNegative().dataset(rows)
    assert hard["negative_1"][0] == planted
    denoising = Denoising(margin=1.0)
    dataset = denoising.dataset(rows)
    assert planted not in dataset["negative_1"]
    assert dataset["negative_1"][0] == mined[0]["negatives"][0]
    assert denoising.denoising_stats["dropped"] >= 1


def test_a_row_emptied_by_denoising_is_topped_up_with_another_rows_positive(mined):
    rows = [dict(r) for r in mined]
    rows[3] = {**rows[3], "positive_score": 0.0, "negative_scores": [50.0] * len(rows[3]["negatives"])}
    strategy = Denoising(margin=1.0, seed=0)
    dataset = strategy.dataset(rows)
    filler = dataset["negative_1"][3]
    assert filler in {r["positive"] for r in rows} - {rows[3]["positive"]}
    assert strategy.denoising_stats["rows_filled"] >= 1
    assert Denoising(margin=1.0, seed=0).dataset(rows)["negative_1"][3] == filler  # seeded


def test_pareto_training_moves_w_exactly_as_the_controller_says(pairs, synonyms, tiny_model_dir, tmp_path):
    strategy, _ = fit("pareto", pairs, tiny_model_dir, tmp_path, steps=8, synonyms=synonyms,
                      attacked_per_batch=2, target_ratio=0.5, w0=0.4, eta=0.1, signal="training_loss")
    log = strategy.trajectory()
    assert len(log) == 8 and log.w.iloc[0] == pytest.approx(0.4)
    replay = ParetoController(0.5, w0=0.4, eta=0.1)
    for row in log.itertuples():
        assert row.w == pytest.approx(replay.weight)
        replay.update(row.loss_eff, row.loss_rob)
        assert row.delta == pytest.approx(math.log(row.ema_rob / row.ema_eff) - math.log(0.5))
    steps = np.diff(log.w.to_numpy())
    expected = np.clip(log.w.to_numpy()[:-1] + 0.1 * log.delta.to_numpy()[:-1], 0.05, 0.95) - log.w.to_numpy()[:-1]
    assert np.allclose(steps, expected)
    assert (steps != 0).any()


def test_probe_steered_training_updates_w_at_probe_steps_only(pairs, synonyms, probe, tiny_model_dir, tmp_path):
    strategy, _ = fit("pareto", pairs, tiny_model_dir, tmp_path, steps=7, synonyms=synonyms, attacked_per_batch=2,
                      target_ratio=1.2, w0=0.4, eta=0.1, probe=probe, probe_every=3)
    log = strategy.trajectory()
    measured = log[log.probe_ratio.notna()]
    assert list(measured.step) == [1, 4, 7]
    w_before = 0.4
    for row in log.itertuples():  # each step trains with the weight its own measurement (if any) set
        if row.step in (1, 4, 7):
            assert row.delta == pytest.approx(math.log(row.probe_ratio / 1.2))
            w_before = min(max(w_before + 0.1 * row.delta, 0.05), 0.95)
        assert row.w == pytest.approx(w_before)
    assert np.allclose(log.loss, (1 - log.w) * log.loss_eff + log.w * log.loss_rob, rtol=1e-5)


def test_mgda_pareto_training_uses_the_min_norm_weight(pairs, synonyms, tiny_model_dir, tmp_path):
    strategy, _ = fit("pareto_mgda", pairs, tiny_model_dir, tmp_path, steps=4, synonyms=synonyms,
                      attacked_per_batch=2, target_ratio=1.0)
    log = strategy.trajectory()
    assert len(log) == 4
    for row in log.itertuples():
        assert row.w == pytest.approx(min(max(row.mgda_weight, 0.05), 0.95))


def test_a_resumed_pareto_run_keeps_its_trajectory_and_controller(pairs, synonyms, tiny_model_dir, tmp_path,
                                                                 monkeypatch):
    class Killed(Exception):
        pass

    def kill_at_step_7(self, args, state, control, **kwargs):
        if state.global_step == 7:
            raise Killed

    kwargs = dict(synonyms=synonyms, attacked_per_batch=2, target_ratio=0.5, w0=0.4, signal="training_loss")
    monkeypatch.setattr(train_module.StopOnNonFiniteLoss, "on_step_end", kill_at_step_7, raising=False)
    model = load_start_model(tiny_model_dir, 0, 16, 32, scratch=tmp_path / "init")
    with pytest.raises(Killed):
        train(model, make_strategy("pareto", **kwargs), pairs, config(steps=10, checkpoint_every=5),
              tmp_path / "ckpt", tmp_path / "out")
    saved = json.loads((tmp_path / "ckpt" / "checkpoint-5" / train_module.STRATEGY_STATE).read_text())
    assert [row["step"] for row in saved["log"]] == [1, 2, 3, 4, 5]
    monkeypatch.undo()

    strategy = make_strategy("pareto", **kwargs)
    model = load_start_model(tiny_model_dir, 0, 16, 32, scratch=tmp_path / "init")
    train(model, strategy, pairs, config(steps=10, checkpoint_every=5), tmp_path / "ckpt", tmp_path / "out")
    log = strategy.trajectory()
    assert list(log.step) == list(range(1, 11))
    assert log.iloc[:5].to_dict("records") == saved["log"]
    fifth = log.iloc[4]
    assert log.w.iloc[5] == pytest.approx(min(max(fifth.w + 0.1 * fifth.delta, 0.05), 0.95))


def test_a_checkpoint_without_strategy_state_is_not_resumed(pairs, tiny_model_dir, tmp_path):
    (tmp_path / "ckpt" / "checkpoint-5").mkdir(parents=True)
    (tmp_path / "ckpt" / "checkpoint-5" / "trainer_state.json").write_text("{}")
    strategy, curve = fit("standard", pairs, tiny_model_dir, tmp_path, steps=4)
    assert list(strategy.trajectory().step) == [1, 2, 3, 4]


@pytest.fixture()
def robust_setup(pairs, synonyms, tiny_model_dir, tmp_path):
    strategy = make_strategy("adversarial", synonyms=synonyms, attacked_per_batch=3)
    dataset = strategy.dataset(pairs[:8])
    model = load_start_model(tiny_model_dir, 0, 16, 32, scratch=tmp_path / "init")
    objective = strategy.loss(model)
    features = [model.preprocess(dataset["query"], task="query"),
                model.preprocess(dataset["positive"], task="document")]
    labels = torch.arange(8)
    return objective, features, labels


def test_an_attacked_copy_of_a_rows_own_positive_is_not_a_negative_for_that_row(robust_setup, monkeypatch):
    objective, features, labels = robust_setup
    robust: RobustRankingLoss = objective.robustness
    robust.query_words = 0  # clean queries: the expected loss can be written down
    # An attack that changes nothing: adv(d) == d, so each attacked candidate duplicates a positive.
    monkeypatch.setattr(losses_module, "attack_pairs", lambda model, pairs, synonyms, config: [
        type("R", (), {"attacked": d})() for _, _, _, d in pairs])
    model = objective.model
    model.eval()
    with torch.no_grad():
        embeddings = [model(f)["sentence_embedding"] for f in features]
        loss = robust(embeddings, labels, step=1)
        adv_texts, sources = robust.attacked_passages(labels.tolist(), embeddings[0], embeddings[1],
                                                      list(robust.texts["positive"][:8]))
        q = torch.nn.functional.normalize(embeddings[0], dim=-1)
        d = torch.nn.functional.normalize(embeddings[1], dim=-1)
        logits = 20.0 * q @ torch.cat([d, d[sources]]).T
        for m, source in enumerate(sources):
            logits[source, 8 + m] = -math.inf
        expected = torch.nn.functional.cross_entropy(logits, torch.arange(8))
    assert len(sources) == 3 and all(s < 8 for s in sources)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-4)


def test_the_in_training_attack_targets_each_querys_hardest_other_passage(robust_setup):
    objective, features, labels = robust_setup
    robust = objective.robustness
    model = objective.model
    with torch.no_grad():
        embeddings = [model(f)["sentence_embedding"] for f in features]
    adv_texts, sources = robust.attacked_passages(labels.tolist(), embeddings[0], embeddings[1],
                                                  list(robust.texts["positive"][:8]))
    assert model.training  # restored after the attack's encode() calls
    scores = torch.nn.functional.normalize(embeddings[0], dim=-1) @ torch.nn.functional.normalize(
        embeddings[1], dim=-1).T
    scores.fill_diagonal_(-math.inf)
    for result, source in zip(robust.last_attack, sources):
        query_row = int(result.query_id)
        assert source != query_row and source == int(scores[query_row].argmax())
        assert result.words_substituted <= robust.attack.max_words
    assert len(adv_texts) == 3


def test_perturb_query_substitutes_synonyms_of_content_words_only():
    synonyms = {"sort": ["order", "the"], "array": ["raiment"], "fast": ["quick"]}
    text = "Sort the array, fast: 42 items."
    out = perturb_query(text, synonyms, np.random.default_rng(0), n_words=3)
    assert out == "Order the raiment, quick: 42 items."  # "the" is a stop word, never inserted
    one = perturb_query(text, synonyms, np.random.default_rng(1), n_words=1)
    changed = [a for a, b in zip(text.split(), one.split()) if a != b]
    assert len(changed) == 1
    assert perturb_query(text, synonyms, np.random.default_rng(1), n_words=1) == one
    assert perturb_query("the of and", synonyms, np.random.default_rng(0), 2) == "the of and"
    assert all(w in STOP_WORDS for w in ["the", "of", "and"])


def test_truncate_words_keeps_what_the_model_reads():
    assert truncate_words("one, two three four", 2) == "one, two"
    assert truncate_words("one two", 5) == "one two"


def test_make_strategy_rejects_unknown_names_and_options():
    with pytest.raises(ValueError, match="unknown strategy"):
        make_strategy("nope")
    with pytest.raises(ValueError, match="no option"):
        make_strategy("standard", margin=1.0)


def test_strategy_options_from_the_workflow_config():
    config = {"evaluation": {"score_scale": 10.0}, "mining": {"negatives_per_query": 2},
              "denoising": {"margin": 0.5, "candidates": 3, "teacher": "standard"},
              "adversarial": {"weight": 0.3, "attacked_per_batch": 2}, "attack": {"synonyms": "wordnet"},
              "pareto": {"eta": 0.2, "w_min": 0.1, "w_max": 0.9}}
    assert strategy_options("denoising", config, 1) == {"scale": 10.0, "seed": 1, "negatives_per_query": 2,
                                                        "margin": 0.5, "candidates": 3}
    adversarial = strategy_options("adversarial", config, 0)
    assert adversarial["weight"] == 0.3 and adversarial["synonyms"] == "wordnet"
    pareto = strategy_options("pareto", config, 0, {"target_ratio": 1.5, "w0": 0.6})
    assert "weight" not in pareto and pareto["eta"] == 0.2 and pareto["target_ratio"] == 1.5
    for name in STRATEGIES:
        target = {"target_ratio": 1.0, "w0": 0.5}
        make_strategy(name, **strategy_options(name, config, 0, target))
    with pytest.raises(ValueError, match="target"):
        strategy_options("pareto", config, 0)


def measured(rows):
    return pd.DataFrame([{"model": "m", "non_embedding_params": 100, "data_size": 50, "strategy": strategy,
                          "seed": seed, "ce_eff": ce_eff, "ce_rob": ce_rob}
                         for strategy, seed, ce_eff, ce_rob in rows])


def test_pareto_target_is_the_knee_ratio_of_the_baselines_seed_means():
    # Seed means (1, 4), (2, 2), (4, 1) and a dominated (3, 3); the knee is (2, 2): r* = 1.
    metrics = measured([("standard", 0, 1.0, 3.5), ("standard", 1, 1.0, 4.5), ("hard_negative", 0, 1.5, 2.0),
                        ("hard_negative", 1, 2.5, 2.0), ("adversarial", 0, 4.0, 1.0), ("denoising", 0, 3.0, 3.0),
                        ("pareto", 0, 0.1, 0.1)])
    target = pareto_target(metrics, ["standard", "hard_negative", "denoising", "adversarial"])
    assert target["target_ratio"] == pytest.approx(1.0) and target["w0"] == pytest.approx(0.5)
    assert target["source"] == "knee"
    points = {p["strategy"]: p for p in target["points"]}
    assert set(points) == {"standard", "hard_negative", "denoising", "adversarial"}
    assert points["hard_negative"]["n_seeds"] == 2 and points["hard_negative"]["ce_eff"] == pytest.approx(2.0)


def test_pareto_target_honours_overrides_and_needs_baselines():
    metrics = measured([("standard", 0, 1.0, 3.0), ("adversarial", 0, 3.0, 1.5)])
    assert pareto_target(metrics, ["standard", "adversarial"], w_min=0.05, w_max=0.6)["w0"] <= 0.6
    fixed = pareto_target(None, ["standard"], target_ratio=2.0, w0=0.3)
    assert (fixed["target_ratio"], fixed["w0"], fixed["source"]) == (2.0, 0.3, "config")
    with pytest.raises(ValueError, match="pareto.target_ratio"):
        pareto_target(metrics, ["denoising"])
