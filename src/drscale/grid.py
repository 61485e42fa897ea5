"""The experiment grid (N x D x strategy x seed) and the checks a JSON schema cannot express."""

from __future__ import annotations

import importlib.util
import itertools
import json
from pathlib import Path

import pandas as pd

from drscale.architectures import WORDPIECE
from drscale.data import check_prepared, parse_source
from drscale.models import ModelSpec, check_positions, has_weights

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
    """Cross-key checks, each failing with a message that names the key and how to fix it.

    Everything knowable before the first job is checked here, so that a mistake never surfaces
    after training; :func:`check_prepared_collections` adds what a prepared collection tells.
    """
    collections = config["collections"]
    for key, names in (("in_domain", [config["in_domain"]]), ("ood", config.get("ood", []))):
        for name in names:
            if name not in collections:
                raise ValueError(f"config key '{key}' names collection {name!r}, which is not under 'collections' "
                                 f"(defined: {sorted(collections)})")
    if config["in_domain"] in config.get("ood", []):
        raise ValueError(f"config key 'ood' lists the in-domain collection {config['in_domain']!r}; remove it")
    _check_no_duplicates(config)
    for name in evaluated_collections(config):
        _check_collection(name, collections[name], name == config["in_domain"], config)
    _check_shared_packages(config)
    max_positions = max(config["training"]["max_query_length"], config["training"]["max_passage_length"])
    for name, entry in config["models"].items():
        _check_model(name, entry, max_positions)
    points = config.get("strategy_points") or {}
    for key, axis in (("models", list(config["models"])), ("data_sizes", config["data_sizes"])):
        off_grid = [v for v in points.get(key) or [] if v not in axis]
        if off_grid:
            raise ValueError(f"config key 'strategy_points.{key}' names {off_grid}, which are not in '{key}'")
        if points.get(key) == [] and set(config["strategies"]) - {"standard"}:
            raise ValueError(f"config key 'strategy_points.{key}' is empty, so the strategies "
                             f"{sorted(set(config['strategies']) - {'standard'})} would run nowhere; list where "
                             "they run, or null for the whole axis")
    _check_training(config)
    _check_pareto(config)
    _check_attack(config)


def _duplicates(values: list) -> list:
    return sorted({v for v in values if values.count(v) > 1}, key=str)


def _check_no_duplicates(config: dict) -> None:
    """A repeated axis entry would plan the same run twice and count it twice in metrics.tsv."""
    lists = {"data_sizes": config["data_sizes"], "seeds": config.get("seeds", []),
             "strategies": config.get("strategies", []), "ood": config.get("ood", [])}
    for section, keys in (("strategy_points", ("models", "data_sizes")),
                          ("pareto", ("target_models", "target_data_sizes"))):
        for key in keys:
            lists[f"{section}.{key}"] = (config.get(section) or {}).get(key) or []
    for name, entry in config["collections"].items():
        lists[f"collections.{name}.packages"] = entry.get("packages") or []
    for key, values in lists.items():
        repeated = _duplicates(list(values))
        if repeated:
            raise ValueError(f"config key '{key}' lists {repeated} more than once: {list(values)}; "
                             "list each entry once")


def _check_collection(name: str, entry: dict, in_domain: bool, config: dict) -> None:
    kind, value = parse_source(entry["source"])
    where = f"collections.{name}"
    if kind == "docstrings":
        if not entry.get("packages"):
            raise ValueError(f"{where}: a 'docstrings' source needs a 'packages' list")
        missing = [p for p in entry["packages"] if p != "stdlib" and importlib.util.find_spec(p) is None]
        if missing:
            raise ValueError(f"{where}.packages: {missing} not installed (importable name, e.g. 'sklearn' for "
                             "scikit-learn); install them or remove them from the list")
        splits = {"test": entry.get("test_queries", 300), "dev": entry.get("dev_queries", 0)}
        split = entry.get("test_split", "test")
        if split not in ("test", "dev") or not splits[split]:
            fix = "set dev_queries > 0 or test_split: test" if split == "dev" else "set test_split: test (or dev)"
            raise ValueError(f"{where}.test_split is {split!r}, but a docstring collection's evaluated split is "
                             f"'test' or 'dev' with queries ({splits}); {fix}")
    else:
        ignored = [k for k in ("packages", "test_queries", "dev_queries", "split_seed") if k in entry
                   and entry[k] != {"test_queries": 300, "dev_queries": 0, "split_seed": 0}.get(k)]
        if ignored:
            raise ValueError(f"{where}: {ignored} only apply to a 'docstrings' source, not {entry['source']!r} "
                             "(its splits are its qrels files); remove them")
        if kind == "local":
            folder = Path(value).expanduser()
            if not all((folder / n).exists() for n in ("corpus.jsonl", "queries.jsonl", "qrels")):
                raise ValueError(f"{where}.source: {folder} is not a BEIR folder (corpus.jsonl, queries.jsonl, "
                                 f"qrels/<split>.tsv){'' if folder.exists() else ': it does not exist'}; fix the path")
            split = entry.get("test_split", "test")
            if not (folder / "qrels" / f"{split}.tsv").exists():
                raise ValueError(f"{where}.test_split: {folder}/qrels has no {split}.tsv (it has "
                                 f"{sorted(p.stem for p in (folder / 'qrels').glob('*.tsv'))}); set "
                                 f"{where}.test_split to one of them")
            if in_domain and not (folder / "qrels" / "train.tsv").exists():
                raise ValueError(f"{where}: the in-domain collection is trained on qrels/train.tsv, which "
                                 f"{folder}/qrels lacks; add it or choose another 'in_domain'")
    if in_domain and entry.get("test_split") == "train":
        raise ValueError(f"{where}.test_split is 'train': the in-domain collection would be tested on its "
                         "training pairs; set it to 'test' (or 'dev')")


def _check_shared_packages(config: dict) -> None:
    """A package in an OOD docstring collection and the in-domain one puts training texts into the
    OOD test set (deduplication keeps a text once, in both collections)."""
    in_domain = config["collections"][config["in_domain"]]
    if in_domain["source"] != "docstrings":
        return
    for name in config.get("ood", []):
        entry = config["collections"][name]
        shared = [p for p in entry.get("packages") or [] if p in in_domain["packages"]] \
            if entry["source"] == "docstrings" else []
        if shared:
            raise ValueError(f"collections.{name}.packages shares {shared} with the in-domain collection "
                             f"{config['in_domain']!r}: its test queries would be training queries; remove them "
                             "from one of the two")


def _check_model(name: str, entry: dict, max_positions: int) -> None:
    spec = ModelSpec.from_config(name, entry)
    if spec.init and spec.init["hidden"] % spec.init["heads"]:
        raise ValueError(f"models.{name}.init: hidden ({spec.init['hidden']}) must be a multiple of heads "
                         f"({spec.init['heads']})")
    if not spec.init and spec.tokenizer == WORDPIECE:
        raise ValueError(f"models.{name}: tokenizer '{WORDPIECE}' is the workflow's trained vocabulary of 'init' "
                         f"models, not this {spec.source} model's; remove the key (the cache is then named "
                         f"{name!r}) or name a cache shared with models of the same vocabulary")
    if spec.local:
        folder = Path(spec.local).expanduser()
        if not (folder / "config.json").exists():
            raise ValueError(f"models.{name}.local: {folder} has no config.json"
                             f"{'' if folder.exists() else ' (it does not exist)'}; point it at a saved transformers "
                             "or sentence-transformers model")
        check_positions(name, folder, max_positions)
        if not has_weights(folder) and not entry.get("random_init"):
            raise ValueError(f"models.{name}.local: {folder} has no weights (*.safetensors or *.bin), so it would "
                             f"train from random weights; add the weights, or set models.{name}.random_init: true "
                             "to train it from a random initialisation on purpose")


def _check_training(config: dict) -> None:
    """Budgets of one strategy that another key caps silently (a larger value would quietly mean less)."""
    batch = config["training"]["batch_size"]
    if batch > min(config["data_sizes"]):
        raise ValueError(f"training.batch_size {batch} exceeds the smallest data size {min(config['data_sizes'])}: "
                         "no full batch can be drawn; lower training.batch_size or raise that 'data_sizes' entry")
    strategies = set(config["strategies"])
    mining, denoising = config["mining"], config["denoising"]
    caps = []
    if strategies & {"hard_negative", "denoising"}:
        caps.append(("mining.negatives_per_query", mining["negatives_per_query"], "mining.depth", mining["depth"]))
    if "denoising" in strategies:
        caps.append(("denoising.candidates", denoising["candidates"], "mining.depth", mining["depth"]))
        caps.append(("mining.negatives_per_query", mining["negatives_per_query"], "denoising.candidates",
                     denoising["candidates"]))
    if strategies & {"adversarial", "pareto", "pareto_mgda"}:
        caps.append(("adversarial.attacked_per_batch", config["adversarial"]["attacked_per_batch"],
                     "training.batch_size", batch))
    for key, value, cap_key, cap in caps:
        if value > cap:
            raise ValueError(f"{key} ({value}) exceeds {cap_key} ({cap}), which caps it (the rest would be random "
                             f"or nothing); lower {key} or raise {cap_key}")


def _check_pareto(config: dict) -> None:
    strategies = config["strategies"]
    if "denoising" in strategies and config["denoising"]["teacher"] == "standard" and "standard" not in strategies:
        raise ValueError("denoising.teacher 'standard' scores the mined negatives with the standard run of the same "
                         "(model, data, seed): add 'standard' to 'strategies' or set denoising.teacher: bm25")
    pareto = config["pareto"]
    if pareto["w_min"] > pareto["w_max"]:
        raise ValueError(f"pareto.w_min ({pareto['w_min']}) exceeds pareto.w_max ({pareto['w_max']}); swap them")
    if pareto.get("w0") is not None and not pareto["w_min"] <= pareto["w0"] <= pareto["w_max"]:
        raise ValueError(f"pareto.w0 ({pareto['w0']}) lies outside [w_min, w_max] = [{pareto['w_min']}, "
                         f"{pareto['w_max']}], where the controller keeps w; move it inside or widen the bounds")
    pareto_runs = {"pareto", "pareto_mgda"} & set(config["strategies"])
    baselines = set(config["strategies"]) - {"pareto", "pareto_mgda", "standard"}
    points = config.get("strategy_points") or {}
    if pareto_runs and pareto.get("target_ratio") is None and baselines:
        for key, point_key in (("target_models", "models"), ("target_data_sizes", "data_sizes")):
            off = [v for v in pareto.get(key) or [] if points.get(point_key) is not None
                   and v not in points[point_key]]
            if off:
                raise ValueError(f"pareto.{key} names {off}, where the baselines {sorted(baselines)} do not run "
                                 f"(strategy_points.{point_key} is {points[point_key]}); add them there or choose "
                                 "from that list")


def _check_attack(config: dict) -> None:
    attack = config["attack"]
    if attack["max_words"] is None and attack["max_fraction"] is None:
        raise ValueError("attack.max_words and attack.max_fraction are both null, so the attack has no budget; "
                         "set one of them (the default is max_words: 5)")
    if attack["synonyms"] != "wordnet" and not Path(attack["synonyms"]).expanduser().exists():
        raise ValueError(f"attack.synonyms: {attack['synonyms']} does not exist; give a 'word syn1 syn2 ...' "
                         "file (a relative path is read from the working directory) or 'wordnet'")
    in_domain = config["in_domain"]
    entry = config["collections"][in_domain]
    if entry["source"] == "docstrings":
        test = entry.get("test_queries" if entry.get("test_split", "test") == "test" else "dev_queries", 300)
        if attack["queries"] > test:
            raise ValueError(f"attack.queries ({attack['queries']}) exceeds the {test} test queries of the in-domain "
                             f"collection {in_domain!r}; lower attack.queries or raise its test_queries")
    k = entry.get("negatives") or config["evaluation"]["negatives"]
    if attack["top_m"] > k:
        raise ValueError(f"attack.top_m ({attack['top_m']}) exceeds the K = {k} sampled negatives of "
                         f"{in_domain!r} it picks the strongest from; lower attack.top_m")


def check_prepared_collections(config: dict, root: Path = Path(".")) -> None:
    """Check already prepared collections against the current config (their K, splits and data sizes):
    changing those keys does not rebuild a collection, so its prepare job would not check them."""
    for name in evaluated_collections(config):
        manifest = root / "resources" / "collections" / name / "manifest.json"
        stats = json.loads(manifest.read_text()).get("stats") if manifest.exists() else None
        if stats:
            in_domain = name == config["in_domain"]
            try:
                check_prepared(name, config["collections"][name], stats, config["evaluation"]["negatives"],
                               config["data_sizes"] if in_domain else None,
                               config["attack"]["queries"] if in_domain else None)
            except ValueError as error:
                raise ValueError(f"{error} (checked against the collection prepared in {manifest.parent}; "
                                 "delete that folder if its source has changed since)") from None


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
    """Tokenizer name -> the model whose prepared folder provides it (None: the trained WordPiece;
    an ``init`` decoder's folder holds the WordPiece with the end token appended)."""
    sources: dict[str, str | None] = {}
    for name, entry in config["models"].items():
        spec = ModelSpec.from_config(name, entry)
        sources.setdefault(spec.tokenizer, None if spec.init and spec.tokenizer == WORDPIECE else name)
    return sources


def tokenizer_of(config: dict, model: str) -> str:
    return ModelSpec.from_config(model, config["models"][model]).tokenizer


def schema_error_message(error) -> str:
    """A schema violation (a ``jsonschema.ValidationError``) as one line: the dotted key, the problem
    and, for the mistakes YAML invites, the fix."""
    key = ".".join(map(str, error.absolute_path)) or "(top level)"
    message = f"config key '{key}': {error.message}"
    value = error.instance
    if error.validator == "type" and isinstance(value, str):
        try:
            float(value)
            message += (f"; YAML reads {value} as text (a number needs a dot and a signed exponent): write "
                        f"{float(value):.1e}".replace("e-0", "e-").replace("e+0", "e+"))
        except ValueError:
            pass
    elif error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        if allowed:
            message += f"; allowed keys here: {allowed}"
    elif error.validator == "oneOf" and key.startswith("models."):
        message += "; give exactly one of 'init', 'hf' or 'local'"
    return message


def yaml_error_message(path: str | Path) -> str | None:
    """The file, line and problem of a YAML syntax error in ``path`` (None when it parses): Snakemake
    reports one as 'not valid JSON or YAML' without either."""
    import yaml

    try:
        yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        return (f"{path}, line {mark.line + 1}, column {mark.column + 1}: {error.problem or error.context}"
                + (f" ({error.context}, line {error.context_mark.line + 1})" if error.context and error.context_mark
                   and error.problem else "") + "; fix the YAML syntax there")
    return None
