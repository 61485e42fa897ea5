"""The experiment grid (N x D x strategy x seed) and the checks a JSON schema cannot express."""

from __future__ import annotations

import itertools

import pandas as pd

from drscale.data import parse_source
from drscale.models import ModelSpec

GRID_COLUMNS = ["model", "data", "strategy", "seed"]


def grid_table(config: dict) -> pd.DataFrame:
    """One row per training run; column names are the path keys (``model~L1-H32/data~1200/...``).

    ``standard`` runs on the full N x D grid with ``seeds``; at the ``strategy_points`` (all
    models / data sizes where a list is not given) every strategy, standard included, runs with
    ``strategy_points.seeds`` (default ``seeds``): the seeds a strategy comparison needs, paid for
    only where strategies are compared.
    """
    points = config.get("strategy_points") or {}
    point_seeds = points.get("seeds") or config["seeds"]
    rows = []
    for model, data in itertools.product(config["models"], sorted(config["data_sizes"])):
        at_point = ((points.get("models") is None or model in points["models"])
                    and (points.get("data_sizes") is None or data in points["data_sizes"]))
        for strategy in config["strategies"]:
            if at_point:
                rows += [(model, data, strategy, seed) for seed in point_seeds]
            elif strategy == "standard":
                rows += [(model, data, strategy, seed) for seed in config["seeds"]]
    return pd.DataFrame(rows, columns=GRID_COLUMNS)


def check_config(config: dict) -> None:
    """Cross-key checks, each failing with a message that names the key and how to fix it."""
    collections = config["collections"]
    for key, names in (("in_domain", [config["in_domain"]]), ("ood", config.get("ood", []))):
        for name in names:
            if name not in collections:
                raise ValueError(f"config key '{key}' names collection {name!r}, which is not under 'collections' "
                                 f"(defined: {sorted(collections)})")
    if config["in_domain"] in config.get("ood", []):
        raise ValueError(f"config key 'ood' lists the in-domain collection {config['in_domain']!r}; remove it")
    for name, entry in collections.items():
        kind, _ = parse_source(entry["source"])
        if kind == "docstrings" and not entry.get("packages"):
            raise ValueError(f"collections.{name}: a 'docstrings' source needs a 'packages' list")
    for name, entry in config["models"].items():
        spec = ModelSpec.from_config(name, entry)
        if spec.init and spec.init["hidden"] % spec.init["heads"]:
            raise ValueError(f"models.{name}.init: hidden ({spec.init['hidden']}) must be a multiple of heads "
                             f"({spec.init['heads']})")
    points = config.get("strategy_points") or {}
    for key, axis in (("models", list(config["models"])), ("data_sizes", config["data_sizes"])):
        off_grid = [v for v in points.get(key) or [] if v not in axis]
        if off_grid:
            raise ValueError(f"config key 'strategy_points.{key}' names {off_grid}, which are not in '{key}'")
    if len(set(config["data_sizes"])) != len(config["data_sizes"]):
        raise ValueError(f"config key 'data_sizes' has duplicates: {config['data_sizes']}")


def docstring_packages(config: dict) -> list[str]:
    """Every package named by a docstring collection, in config order, without repeats."""
    packages = [p for entry in config["collections"].values() if entry["source"] == "docstrings"
                for p in entry.get("packages", [])]
    return list(dict.fromkeys(packages))


def evaluated_collections(config: dict) -> list[str]:
    return [config["in_domain"], *config.get("ood", [])]


def fitted_families(config: dict) -> list[str]:
    """Metric families fitted and plotted (docs/design.md, section 6); OOD ones are named after their collection."""
    ood = [f"ce_ood_{c}" for c in config.get("ood", [])]
    return ["ce_eff", *ood, *(["ce_ood_mean"] if ood else []), "ce_adv", "ce_rob", "ce_joint"]


def tokenizers(config: dict) -> dict[str, str | None]:
    """Tokenizer name -> the model whose prepared folder provides it (None: the trained WordPiece)."""
    sources: dict[str, str | None] = {}
    for name, entry in config["models"].items():
        spec = ModelSpec.from_config(name, entry)
        sources.setdefault(spec.tokenizer, None if spec.init else name)
    return sources


def tokenizer_of(config: dict, model: str) -> str:
    return ModelSpec.from_config(model, config["models"][model]).tokenizer
