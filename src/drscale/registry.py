"""The training strategies, each named once: what the workflow's rules and the package read.

Torch-free on purpose: ``workflow/rules/common.smk`` imports it to plan jobs (which config
sections reach a train job, which extra inputs it needs, which runs r* is estimated from), the
schema's strategy enum is checked against it by a test, and :mod:`drscale.strategies` builds its
classes from it. Adding a strategy means an entry here plus its class.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["REGISTRY", "StrategySpec", "baseline_strategies", "pareto_strategies", "strategy_options"]


@dataclass(frozen=True)
class StrategySpec:
    cls: str  # class name in drscale.strategies
    sections: tuple[str, ...] = ()  # config sections it reads (only these reach its train jobs' params)
    inputs: tuple[str, ...] = ()  # extra inputs of its train jobs, path functions in common.smk
    baseline: bool = False  # its runs are among those the Pareto target r* is estimated from
    pareto: bool = False  # steered towards r*: needs the Pareto target


REGISTRY: dict[str, StrategySpec] = {
    "standard": StrategySpec("Standard", baseline=True),
    "hard_negative": StrategySpec("HardNegative", ("mining",), ("negatives",), baseline=True),
    "denoising": StrategySpec("Denoising", ("mining", "denoising"), ("negatives", "teacher_scores"), baseline=True),
    "adversarial": StrategySpec("Adversarial", ("adversarial",), baseline=True),
    "pareto": StrategySpec("Pareto", ("adversarial", "pareto"), ("pareto_target", "validation_probe"), pareto=True),
    "pareto_mgda": StrategySpec("ParetoMGDA", ("adversarial", "pareto"), ("pareto_target",), pareto=True),
}


def baseline_strategies() -> list[str]:
    return [name for name, spec in REGISTRY.items() if spec.baseline]


def pareto_strategies() -> list[str]:
    return [name for name, spec in REGISTRY.items() if spec.pareto]


def _mining(section: Mapping, spec: StrategySpec) -> dict:
    return {"negatives_per_query": int(section.get("negatives_per_query", 1))}


def _denoising(section: Mapping, spec: StrategySpec) -> dict:
    return {"margin": float(section.get("margin", 1.0)), "candidates": int(section.get("candidates", 4))}


def _adversarial(section: Mapping, spec: StrategySpec) -> dict:
    """The robustness loss's options; the fixed weight only where no controller sets it."""
    options = {k: v for k, v in section.items() if k != "weight"}
    if not spec.pareto:
        options["weight"] = float(section.get("weight", 0.5))
    return options


def _pareto(section: Mapping, spec: StrategySpec) -> dict:
    """The controller's options (r* and w_0 come from the Pareto target, the probe from its file)."""
    options: dict[str, Any] = {k: float(section[k]) for k in ("eta", "ema_decay", "w_min", "w_max") if k in section}
    options.update({k: int(section[k]) for k in ("probe_every", "probe_attacked_queries", "probe_top_m")
                    if k in section})
    if "signal" in section:
        options["signal"] = str(section["signal"])
    return options


# How each config section becomes options of the strategy classes (defaults as in the schema).
SECTION_OPTIONS: dict[str, Callable[[Mapping, StrategySpec], dict]] = {
    "mining": _mining, "denoising": _denoising, "adversarial": _adversarial, "pareto": _pareto}


def strategy_options(name: str, config: Mapping, seed: int, target: Mapping | None = None,
                     probe: str | None = None) -> dict:
    """``make_strategy`` options of a strategy from the workflow config (its ``sections``, the
    score scale, and ``attack.synonyms`` for a robustness loss: training perturbs with the
    evaluation attack's synonym source) and, for Pareto training, the ``pareto_target`` rule's
    output (``target_ratio``, ``w0``) and the validation probe's file (``probe``)."""
    if name not in REGISTRY:
        raise ValueError(f"unknown strategy {name!r}; valid strategies: {sorted(REGISTRY)}")
    spec = REGISTRY[name]
    options: dict[str, Any] = {"scale": float(config.get("evaluation", {}).get("score_scale", 20.0)), "seed": seed}
    for section in spec.sections:
        options.update(SECTION_OPTIONS[section](config.get(section, {}), spec))
    if "adversarial" in spec.sections:
        options["synonyms"] = config.get("attack", {}).get("synonyms")
    if spec.pareto:
        if target is None:
            raise ValueError(f"strategy {name!r} needs the Pareto target (results/pareto/target.json)")
        options.update(target_ratio=float(target["target_ratio"]), w0=float(target["w0"]))
    if probe is not None:
        options["probe"] = str(probe)
    return options
