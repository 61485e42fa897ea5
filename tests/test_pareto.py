import math

import pytest
import torch

from drscale.pareto import (
    MGDAController,
    ParetoController,
    mgda_weight,
    shared_gradient,
)


def test_initial_weight_matches_target_ratio():
    assert ParetoController(target_ratio=2.0).weight == pytest.approx(2.0 / 3.0)
    assert ParetoController(target_ratio=1.0).weight == pytest.approx(0.5)
    assert ParetoController(target_ratio=1.0, w0=0.3).weight == 0.3
    # An extreme r* still starts inside the bounds.
    assert ParetoController(target_ratio=1e6).weight == 0.95


def test_weight_rises_when_robustness_lags():
    ctrl = ParetoController(target_ratio=1.0)
    w0 = ctrl.weight
    assert ctrl.update(loss_eff=1.0, loss_rob=3.0) > w0  # L_rob / L_eff = 3 > r* = 1


def test_weight_falls_when_effectiveness_lags():
    ctrl = ParetoController(target_ratio=1.0)
    w0 = ctrl.weight
    assert ctrl.update(loss_eff=3.0, loss_rob=1.0) < w0


def test_weight_stays_in_bounds_with_extreme_losses():
    ctrl = ParetoController(target_ratio=1.0)
    for step in range(200):
        big, small = (1e8, 1e-8) if (step // 50) % 2 == 0 else (1e-8, 1e8)
        w = ctrl.update(loss_eff=small, loss_rob=big)
        assert 0.05 <= w <= 0.95
    assert {0.05, 0.95} <= {row["w"] for row in ctrl.history}


def test_two_steps_match_hand_computation():
    # r* = 2 -> w_0 = 2/3; decay 0.9, eta 0.1.
    # Step 0: c_e = 1, c_r = 4 (first losses); delta = log(4) - log(2) = 0.693147
    #         w_1 = 0.666667 + 0.1 * 0.693147 = 0.735981
    # Step 1: c_e = 0.9*1 + 0.1*2 = 1.1, c_r = 0.9*4 + 0.1*1 = 3.7
    #         delta = log(3.7/1.1) - log(2) = 0.519875; w_2 = 0.735981 + 0.051988 = 0.787969
    ctrl = ParetoController(target_ratio=2.0, eta=0.1, ema_decay=0.9)
    assert ctrl.update(1.0, 4.0) == pytest.approx(0.735981, abs=1e-6)
    assert ctrl.update(2.0, 1.0) == pytest.approx(0.787969, abs=1e-6)
    first, second = ctrl.history
    assert first["w"] == pytest.approx(2.0 / 3.0)
    assert first["delta"] == pytest.approx(0.693147, abs=1e-6)
    assert second == pytest.approx(
        {"step": 1, "w": 0.735981, "loss_eff": 2.0, "loss_rob": 1.0,
         "ema_eff": 1.1, "ema_rob": 3.7, "delta": 0.519875},
        abs=1e-6,
    )


@pytest.mark.parametrize("bad", [math.nan, math.inf, 0.0, -1.0])
def test_invalid_loss_raises(bad):
    ctrl = ParetoController(target_ratio=1.0)
    with pytest.raises(ValueError, match="loss_rob"):
        ctrl.update(1.0, bad)
    assert ctrl.history == []


def test_combine_uses_current_weight_and_keeps_gradients():
    ctrl = ParetoController(target_ratio=1.0, w0=0.25)
    loss_eff = torch.tensor(2.0, requires_grad=True)
    loss_rob = torch.tensor(4.0, requires_grad=True)
    joint = ctrl.combine(loss_eff, loss_rob)
    joint.backward()
    assert joint.item() == pytest.approx(0.75 * 2.0 + 0.25 * 4.0)
    assert loss_rob.grad.item() == pytest.approx(0.25)


@pytest.mark.parametrize(
    "g_eff, g_rob, expected",
    [
        ((1.0, 0.0), (0.0, 1.0), 0.5),  # (1,-1).(1,0) / 2
        ((2.0, 0.0), (0.0, 1.0), 0.8),  # (2,-1).(2,0) / 5
        ((3.0, 1.0), (-1.0, 2.0), 11.0 / 17.0),  # (4,-1).(3,1) / 17
        ((1.0, 0.0), (2.0, 0.0), 0.0),  # raw -1: g_eff is already the min-norm point
        ((2.0, 0.0), (1.0, 0.0), 1.0),  # raw 2: g_rob is already the min-norm point
    ],
)
def test_mgda_weight_closed_form(g_eff, g_rob, expected):
    assert mgda_weight(torch.tensor(g_eff), torch.tensor(g_rob)) == pytest.approx(expected)


def test_mgda_controller_clips_to_bounds():
    ctrl = MGDAController(target_ratio=1.0)
    assert ctrl.update_from_gradients(torch.tensor([1.0, 0.0]), torch.tensor([2.0, 0.0])) == 0.05
    assert ctrl.update_from_gradients(torch.tensor([2.0, 0.0]), torch.tensor([1.0, 0.0])) == 0.95
    assert [row["mgda_weight"] for row in ctrl.history] == [0.0, 1.0]


@pytest.mark.parametrize(
    "g_eff, g_rob",
    [((3.0, 1.0), (-1.0, 2.0)), ((1.0, 0.2), (4.0, -3.0)), ((1.0, 0.0), (2.0, 0.0))],
)
def test_mgda_direction_has_minimal_norm_on_grid(g_eff, g_rob):
    g_eff, g_rob = torch.tensor(g_eff), torch.tensor(g_rob)
    ctrl = MGDAController(target_ratio=1.0)
    w = ctrl.update_from_gradients(g_eff, g_rob)

    def combined_norm(v):
        return float(((1 - v) * g_eff + v * g_rob).norm())

    grid = torch.linspace(ctrl.w_min, ctrl.w_max, 181).tolist()
    assert combined_norm(w) <= min(combined_norm(v) for v in grid) + 1e-9


def test_mgda_keeps_weight_for_identical_gradients_and_rejects_nan():
    ctrl = MGDAController(target_ratio=1.0, w0=0.3)
    g = torch.tensor([1.0, 2.0])
    assert ctrl.update_from_gradients(g, g.clone()) == 0.3
    with pytest.raises(ValueError, match="g_rob"):
        ctrl.update_from_gradients(g, torch.tensor([math.nan, 0.0]))


def test_shared_gradient_feeds_mgda():
    torch.manual_seed(0)
    encoder = torch.nn.Linear(3, 2)
    x = torch.randn(4, 3)
    out = encoder(x)
    loss_eff, loss_rob = out[:, 0].pow(2).mean(), out[:, 1].abs().mean()
    params = list(encoder.parameters())
    g_eff, g_rob = shared_gradient(loss_eff, params), shared_gradient(loss_rob, params)
    assert g_eff.shape == (3 * 2 + 2,)
    ctrl = MGDAController(target_ratio=1.0)
    ctrl.update_from_gradients(g_eff, g_rob)
    ctrl.combine(loss_eff, loss_rob).backward()  # graph was retained
    combined = torch.cat([p.grad.reshape(-1) for p in params])
    expected = (1 - ctrl.weight) * g_eff + ctrl.weight * g_rob
    assert torch.allclose(combined, expected)


def test_trajectory_summary_by_hand():
    import pandas as pd

    from drscale.pareto import trajectory_summary

    w = [0.5, 0.05, 0.2, 0.3, 0.35, 0.3, 0.95, 0.9]  # 2 of 8 steps on a bound; last quarter 0.95, 0.9
    summary = trajectory_summary(pd.DataFrame({"run": "a", "step": range(8), "w": w}), 0.05, 0.95)
    row = summary.iloc[0]
    assert row["interior"] == pytest.approx(6 / 8) and row["last_quarter_p2p"] == pytest.approx(0.05)
    assert (row["w_first"], row["w_last"], row["steps"]) == (0.5, 0.9, 8)
