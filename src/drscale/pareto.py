"""Loss-weight controllers for Pareto training (docs/design.md section 5, strategy ``pareto``).

Every controller holds the robustness weight w of the joint objective
``L = (1 - w) L_eff + w L_rob`` and keeps it inside ``[w_min, w_max]`` so that neither loss is
ever switched off. They differ in what moves w:

- ``ProbeController`` (strategy ``pareto``, signal ``validation_probe``, the default): the paper's
  rule w <- clip(w + eta * (log ratio - log r*)) on the validation probe's ce_rob / ce_eff of the
  current model, measured every ``every`` steps (:mod:`drscale.probe`): the quantity r* is in.
- ``ParetoController`` (signal ``training_loss``, the paper's literal rule): the same update every
  step on the ratio of the training losses' moving averages, which is not the quantity r* is
  measured in; with it w runs to its bounds (docs/design.md). Costs nothing extra.
- ``MGDAController`` (strategy ``pareto_mgda``): the two-task MGDA min-norm weight of Sener &
  Koltun (2018), a common descent direction computed from both losses' gradients every step.

Every update appends a row to ``history`` so the trainer can write a per-step table and the
report can plot the w_t trajectory.
"""

from __future__ import annotations

import math

import torch

W_MIN = 0.05
W_MAX = 0.95
ETA = 0.1
EMA_DECAY = 0.9


def initial_weight(target_ratio: float) -> float:
    """w_0 = r* / (1 + r*): the weight at which w / (1 - w) equals the target loss ratio."""
    return target_ratio / (1.0 + target_ratio)


def _check_positive_finite(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or value <= 0.0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return value


class _WeightController:
    """Shared state of both controllers: the bounded weight and the loss combination."""

    def __init__(
        self,
        target_ratio: float,
        w0: float | None = None,
        w_min: float = W_MIN,
        w_max: float = W_MAX,
    ) -> None:
        self.target_ratio = _check_positive_finite("target_ratio", target_ratio)
        if not 0.0 <= w_min < w_max <= 1.0:
            raise ValueError(f"need 0 <= w_min < w_max <= 1, got w_min={w_min}, w_max={w_max}")
        self.w_min = float(w_min)
        self.w_max = float(w_max)
        if w0 is None:
            # The knee's r* can be extreme on a noisy frontier; start inside the bounds anyway.
            w0 = self._clip(initial_weight(self.target_ratio))
        elif not w_min <= w0 <= w_max:
            raise ValueError(f"w0={w0} lies outside [w_min, w_max] = [{w_min}, {w_max}]")
        self._w = float(w0)
        self.history: list[dict[str, float]] = []

    @property
    def weight(self) -> float:
        """The robustness weight w_t currently in force."""
        return self._w

    def combine(self, loss_eff: torch.Tensor, loss_rob: torch.Tensor) -> torch.Tensor:
        """(1 - w_t) L_eff + w_t L_rob with the current weight; differentiable in both losses."""
        return (1.0 - self._w) * loss_eff + self._w * loss_rob

    def _clip(self, w: float) -> float:
        return min(max(w, self.w_min), self.w_max)


class ParetoController(_WeightController):
    """The paper's rule: w_{t+1} = clip(w_t + eta * delta_t, w_min, w_max), with
    delta_t = log(c_r / c_e) - log(r*) and c_e, c_r the EMAs of L_eff and L_rob.

    delta_t > 0 means robustness lags its frontier target, so w grows. Working in log space makes
    the step depend on the ratio only, not on the losses' scale. Use per step: ``combine`` the
    current losses with w_t, back-propagate, then ``update`` with the same losses' values.
    """

    def __init__(
        self,
        target_ratio: float,
        w0: float | None = None,
        eta: float = ETA,
        ema_decay: float = EMA_DECAY,
        w_min: float = W_MIN,
        w_max: float = W_MAX,
    ) -> None:
        super().__init__(target_ratio, w0=w0, w_min=w_min, w_max=w_max)
        if not eta > 0.0:
            raise ValueError(f"eta must be positive, got {eta}")
        if not 0.0 <= ema_decay < 1.0:
            raise ValueError(f"ema_decay must lie in [0, 1), got {ema_decay}")
        self.eta = float(eta)
        self.ema_decay = float(ema_decay)
        self.ema_eff: float | None = None
        self.ema_rob: float | None = None

    def update(self, loss_eff: float, loss_rob: float) -> float:
        """Fold one step's losses into the EMAs and return the next weight w_{t+1}.

        The EMAs start at the first observed losses (no zero-initialisation bias). Raises
        ValueError on a non-positive or non-finite loss: a NaN must stop training, not be averaged.
        """
        loss_eff = _check_positive_finite("loss_eff", loss_eff)
        loss_rob = _check_positive_finite("loss_rob", loss_rob)
        if self.ema_eff is None:
            self.ema_eff, self.ema_rob = loss_eff, loss_rob
        else:
            a = self.ema_decay
            self.ema_eff = a * self.ema_eff + (1.0 - a) * loss_eff
            self.ema_rob = a * self.ema_rob + (1.0 - a) * loss_rob
        delta = math.log(self.ema_rob / self.ema_eff) - math.log(self.target_ratio)
        # The row holds w_t, the weight these losses were trained with.
        self.history.append(
            {
                "step": len(self.history),
                "w": self._w,
                "loss_eff": loss_eff,
                "loss_rob": loss_rob,
                "ema_eff": self.ema_eff,
                "ema_rob": self.ema_rob,
                "delta": delta,
            }
        )
        self._w = self._clip(self._w + self.eta * delta)
        return self._w


class ProbeController(_WeightController):
    """w_{t+1} = clip(w_t + eta * delta, w_min, w_max) with delta = log(ce_rob / ce_eff) - log(r*)
    of the validation probe, measured with the current model every ``every`` steps (1, 1 + every,
    ...); w is held between measurements. Use per step: ``update(step, measured)`` with the probe's
    measurement on the steps where ``due(step)`` (else None) before the step's loss is formed, so
    the step trains with the weight its measurement set.
    """

    def __init__(self, target_ratio: float, w0: float | None = None, eta: float = ETA, every: int = 10,
                 w_min: float = W_MIN, w_max: float = W_MAX) -> None:
        super().__init__(target_ratio, w0=w0, w_min=w_min, w_max=w_max)
        if not eta > 0.0:
            raise ValueError(f"eta must be positive, got {eta}")
        if every < 1:
            raise ValueError(f"the probe interval must be >= 1 step, got {every}")
        self.eta = float(eta)
        self.every = int(every)

    def due(self, step: int) -> bool:
        return (step - 1) % self.every == 0

    def update(self, step: int, measured: dict[str, float] | None) -> float:
        """Fold in one probe measurement (None: none this step) and return the weight w_t of the step."""
        row = {"step": step, "probe_ce_eff": math.nan, "probe_ce_rob": math.nan, "probe_ratio": math.nan,
               "delta": math.nan}
        if measured is not None:
            ce_eff = _check_positive_finite("probe ce_eff", measured["ce_eff"])
            ce_rob = _check_positive_finite("probe ce_rob", measured["ce_rob"])
            delta = math.log(ce_rob / ce_eff) - math.log(self.target_ratio)
            self._w = self._clip(self._w + self.eta * delta)
            row.update(probe_ce_eff=ce_eff, probe_ce_rob=ce_rob, probe_ratio=ce_rob / ce_eff, delta=delta)
        self.history.append({**row, "w": self._w})
        return self._w


def mgda_weight(g_eff: torch.Tensor, g_rob: torch.Tensor) -> float | None:
    """Two-task MGDA min-norm weight on g_rob (Sener & Koltun 2018, Algorithm 1).

    Minimising ||(1 - w) g_e + w g_r||^2 over w in [0, 1] has the closed form
    w = clip((g_e - g_r) . g_e / ||g_e - g_r||^2, 0, 1); the clipped ends are the cases where one
    gradient already is the min-norm point of the segment. Returns None when g_e == g_r, where
    every w gives the same direction.
    """
    diff = g_eff - g_rob
    denom = float(diff.dot(diff))
    if denom == 0.0:
        return None
    return min(max(float(diff.dot(g_eff)) / denom, 0.0), 1.0)


def shared_gradient(loss: torch.Tensor, parameters: list[torch.Tensor]) -> torch.Tensor:
    """Flattened gradient of ``loss`` w.r.t. the shared parameters, keeping the graph.

    The graph is retained so the second loss (and the combined loss) can still back-propagate;
    parameters the loss does not reach contribute zeros so both gradients align.
    """
    grads = torch.autograd.grad(loss, parameters, retain_graph=True, allow_unused=True)
    return torch.cat(
        [
            (torch.zeros_like(p) if g is None else g).reshape(-1)
            for g, p in zip(grads, parameters)
        ]
    )


class MGDAController(_WeightController):
    """Sets w each step to the MGDA min-norm weight, then clips it to [w_min, w_max].

    The min-norm convex combination of the two gradients is a descent direction for both losses
    (or zero at a Pareto-stationary point), so no target ratio is needed after w_0. Cost: one
    backward pass per loss over the shared parameters (``shared_gradient``, twice) instead of one
    for the combined loss, plus two dot products; the combined gradient (1 - w) g_e + w g_r can be
    formed from those two, so a third pass is not needed. Use per step: ``update_from_gradients``
    with this step's gradients first, then ``combine`` this step's losses.
    """

    def update_from_gradients(self, g_eff: torch.Tensor, g_rob: torch.Tensor) -> float:
        """Set w from this step's flattened gradients and return it.

        Keeps the previous w when the gradients coincide (no preference between the losses).
        Raises ValueError on non-finite gradients or mismatched shapes.
        """
        g_eff = g_eff.detach().reshape(-1).double()
        g_rob = g_rob.detach().reshape(-1).double()
        if g_eff.shape != g_rob.shape:
            raise ValueError(
                f"gradients differ in size: {g_eff.numel()} (eff) vs {g_rob.numel()} (rob)"
            )
        for name, g in (("g_eff", g_eff), ("g_rob", g_rob)):
            if not bool(torch.isfinite(g).all()):
                raise ValueError(f"{name} has non-finite entries")
        unbounded = mgda_weight(g_eff, g_rob)
        if unbounded is not None:
            self._w = self._clip(unbounded)
        self.history.append(
            {
                "step": len(self.history),
                "w": self._w,
                "mgda_weight": math.nan if unbounded is None else unbounded,
                "grad_dot": float(g_eff.dot(g_rob)),
                "grad_norm_eff": float(g_eff.norm()),
                "grad_norm_rob": float(g_rob.norm()),
            }
        )
        return self._w


def trajectory_summary(trajectories, w_min: float = W_MIN, w_max: float = W_MAX):
    """Per run (``run`` column) of a w_t table: first, last, min and max w, the fraction of steps
    with w strictly inside (w_min, w_max) and the peak-to-peak of w over the last quarter of
    steps: does the controller steer (inside) and settle (small last-quarter range)?"""
    import pandas as pd

    rows = []
    for run, log in trajectories.groupby("run", sort=True):
        w = log.sort_values("step")["w"].to_numpy(float)
        last = w[len(w) - max(1, len(w) // 4):]
        rows.append({"run": run, "steps": len(w), "w_first": w[0], "w_last": w[-1], "w_min": w.min(),
                     "w_max": w.max(), "interior": float(((w > w_min) & (w < w_max)).mean()),
                     "last_quarter_p2p": float(last.max() - last.min())})
    return pd.DataFrame(rows, columns=["run", "steps", "w_first", "w_last", "w_min", "w_max", "interior",
                                       "last_quarter_p2p"])
