import pandas as pd
import pytest
import torch

from drscale import train as train_module
from drscale.data import load_collection, training_pairs
from drscale.models import load_start_model
from drscale.strategies import make_strategy
from drscale.train import NonFiniteLossError, TokenizedOnce, TrainConfig, train


def config(**overrides):
    values = dict(steps=10, batch_size=8, learning_rate=1e-2, warmup_ratio=0.1, weight_decay=0.0, seed=0,
                  checkpoint_every=5, logging_steps=5)
    return TrainConfig(**{**values, **overrides})


@pytest.fixture()
def pairs(tiny_collection):
    return training_pairs(load_collection(tiny_collection, "train"))


def test_training_lowers_the_loss_and_saves_a_model(tiny_model_dir, pairs, tmp_path):
    model = load_start_model(tiny_model_dir, 0, 16, 32, scratch=tmp_path / "init")
    curve = train(model, make_strategy("standard"), pairs, config(steps=20), tmp_path / "ckpt", tmp_path / "out")
    assert list(curve.step) == [5, 10, 15, 20]
    assert curve.loss.iloc[-1] < curve.loss.iloc[0]
    assert (tmp_path / "out" / "modules.json").exists() and not (tmp_path / "ckpt").exists()


def test_a_killed_run_resumes_from_its_last_checkpoint(tiny_model_dir, pairs, tmp_path, monkeypatch):
    class Killed(Exception):
        pass

    def kill_at_step_7(self, args, state, control, **kwargs):
        if state.global_step == 7:
            raise Killed

    monkeypatch.setattr(train_module.StopOnNonFiniteLoss, "on_step_end", kill_at_step_7, raising=False)
    with pytest.raises(Killed):
        model = load_start_model(tiny_model_dir, 0, 16, 32, scratch=tmp_path / "init")
        train(model, make_strategy("standard"), pairs, config(), tmp_path / "ckpt", tmp_path / "out")
    assert (tmp_path / "ckpt" / "checkpoint-5").exists()
    monkeypatch.undo()

    resumed_from = []
    original = train_module.SentenceTransformerTrainer.train

    def record(self, resume_from_checkpoint=None, **kwargs):
        resumed_from.append(resume_from_checkpoint)
        return original(self, resume_from_checkpoint=resume_from_checkpoint, **kwargs)

    monkeypatch.setattr(train_module.SentenceTransformerTrainer, "train", record)
    model = load_start_model(tiny_model_dir, 0, 16, 32, scratch=tmp_path / "init")
    curve = train(model, make_strategy("standard"), pairs, config(), tmp_path / "ckpt", tmp_path / "out")
    assert resumed_from[0].endswith("checkpoint-5")
    assert curve.step.max() == 10
    monkeypatch.undo()

    # The resumed run is the uninterrupted one: same loss curve, same weights.
    model_again = load_start_model(tiny_model_dir, 0, 16, 32, scratch=tmp_path / "init-again")
    uninterrupted = train(model_again, make_strategy("standard"), pairs, config(), tmp_path / "ckpt-again",
                          tmp_path / "out-again")
    pd.testing.assert_frame_equal(curve.drop(columns="epoch"), uninterrupted.drop(columns="epoch"), rtol=1e-6)
    for (name, weight), (_, weight_again) in zip(model.state_dict().items(), model_again.state_dict().items()):
        torch.testing.assert_close(weight, weight_again, rtol=1e-6, atol=1e-7, msg=name)


def test_a_nan_loss_stops_training_with_a_clear_message(tiny_model_dir, pairs, tmp_path):
    callback = train_module.StopOnNonFiniteLoss(learning_rate=5.0)
    state = type("State", (), {"global_step": 3})()
    with pytest.raises(NonFiniteLossError, match="lower the model's 'learning_rate'"):
        callback.on_log(None, state, None, logs={"loss": float("nan")})


def test_tokenized_once_pads_exactly_like_the_model_and_falls_back_for_new_texts(tiny_model_dir, pairs, tmp_path):
    model = load_start_model(tiny_model_dir, 0, 16, 32, scratch=tmp_path / "init")
    queries, passages = [q for q, _ in pairs], [p for _, p in pairs]
    preprocess = TokenizedOnce(model, {"query": queries, "document": passages})
    calls = []
    preprocess.preprocess = lambda inputs, **kwargs: calls.append(inputs) or model.preprocess(inputs, **kwargs)
    for task, texts in (("query", queries), ("document", passages)):
        for start in range(0, 24, 8):
            batch = texts[start : start + 8][::-1]
            expected, cached = model.preprocess(batch, task=task), preprocess(batch, task=task)
            assert cached.keys() == expected.keys()
            for key, value in expected.items():
                assert torch.equal(cached[key], value) if isinstance(value, torch.Tensor) else cached[key] == value
    assert calls == []  # every batch above came from the cache
    unseen = [*queries[:2], "a text the run never saw"]
    expected = model.preprocess(unseen, task="query")["input_ids"]
    assert torch.equal(preprocess(unseen, task="query")["input_ids"], expected)
    assert calls == [unseen]
