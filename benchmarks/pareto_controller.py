"""Does Pareto training's controller steer? w_t trajectories of the ``pareto`` strategy at one grid
point of a workflow's results, per controller variant, against the target r* of that point's
baseline runs measured on the validation probe.

Needs a workflow run's baseline models (``results/runs/model~M/data~D/strategy~*/seed~*/model``),
the prepared start model and the training pairs, e.g. after
``snakemake results/runs/model~L1-H32/data~2400/strategy~adversarial/seed~0/model ...``. For each
variant (``signal:eta:probe_every``) it trains the Pareto run the workflow would train and prints
the fraction of steps with w strictly inside (w_min, w_max), the peak-to-peak of w over the last
quarter of steps, and the share of the training time the probe took (CPU time, one process)::

    python benchmarks/pareto_controller.py --model L1-H32 --data 2400 \\
        --variant validation_probe:0.1:10 training_loss:0.1:1
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml


def main() -> None:
    from sentence_transformers import SentenceTransformer

    from drscale.models import load_start_model, parameter_counts
    from drscale.pareto_target import pareto_target
    from drscale.probe import build_probe, measure_probe
    from drscale.registry import baseline_strategies, strategy_options
    from drscale.strategies import make_strategy
    from drscale.synonyms import load_synonyms
    from drscale.train import TrainConfig, train

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variant", nargs="+", default=["validation_probe:0.1:10"])
    parser.add_argument("--out", default="results/benchmarks/pareto_controller")
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = yaml.safe_load(Path(args.config).read_text())
    pareto = config.get("pareto", {})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    collections = [(c, "in_domain" if c == config["in_domain"] else "ood", Path(f"resources/collections/{c}"), "dev")
                   for c in [config["in_domain"], *config.get("ood", [])]
                   if Path(f"resources/collections/{c}/qrels/dev.tsv").stat().st_size > 20]
    probe = build_probe(collections, int(pareto.get("probe_queries", 32)), int(pareto.get("probe_negatives", 256)),
                        int(config.get("evaluation", {}).get("seed", 0)))
    (out / "probe.json").write_text(json.dumps(probe))
    scale = float(config.get("evaluation", {}).get("score_scale", 20.0))
    synonyms = load_synonyms(config.get("attack", {}).get("synonyms"))
    point = Path(f"results/runs/model~{args.model}/data~{args.data}")
    measurements, probe_cpu = [], []
    probe_options = make_strategy("pareto", **strategy_options("pareto", config, 0, {"target_ratio": 1, "w0": 0.5}))
    for strategy in baseline_strategies():
        for run in sorted(point.glob(f"strategy~{strategy}/seed~*/model")):
            model = SentenceTransformer(str(run))
            start = time.process_time()
            measured = measure_probe(model, probe, synonyms, probe_options.probe_attack(), scale)
            probe_cpu.append(time.process_time() - start)
            seed = int(run.parent.name.split("~")[1])
            measurements.append({"model": args.model, "data_size": args.data, "strategy": strategy, "seed": seed,
                                 "non_embedding_params": parameter_counts(model)["non_embedding_params"], **measured})
    target = pareto_target(pd.DataFrame(measurements), baseline_strategies(), pareto.get("w_min", 0.05),
                           pareto.get("w_max", 0.95))
    print(pd.DataFrame(measurements).to_string())
    print(f"r* = {target['target_ratio']:.4f}, w0 = {target['w0']:.4f}")

    rows = [json.loads(line) for line in
            Path(f"results/train_pairs/data~{args.data}.jsonl").read_text().splitlines()]
    training = config["training"]
    lr = float(config["models"][args.model]["learning_rate"])
    summary = []
    for variant in args.variant:
        signal, eta, every = variant.split(":")
        settings = {**config, "pareto": {**pareto, "eta": float(eta)}}
        options = strategy_options("pareto", settings, args.seed, target)
        options.update(signal=signal, probe=probe, probe_every=int(every))
        strategy = make_strategy("pareto", **options)
        model = load_start_model(Path(f"resources/models/{args.model}"), args.seed, training["max_query_length"],
                                 training["max_passage_length"], "mean", scratch=out / "init")
        tc = TrainConfig(steps=training["steps"], batch_size=training["batch_size"], learning_rate=lr,
                         warmup_ratio=training.get("warmup_ratio", 0.1), seed=args.seed, checkpoint_every=10 ** 6,
                         weight_decay=training.get("weight_decay", 0.01))
        start = time.process_time()
        train(model, strategy, rows, tc, out / "ckpt", out / "model")
        total = time.process_time() - start
        log = strategy.trajectory()
        log.to_csv(out / f"trajectory_{signal}_{eta}_{every}.tsv", sep="\t", index=False)
        w = log["w"].to_numpy()
        lo, hi = strategy.w_min, strategy.w_max
        last = w[len(w) - len(w) // 4:]
        probes = int(log["probe_ratio"].notna().sum()) if "probe_ratio" in log else 0
        summary.append({"variant": variant, "r_star": target["target_ratio"], "w0": target["w0"],
                        "interior": float(((w > lo) & (w < hi)).mean()), "last_quarter_p2p": float(np.ptp(last)),
                        "w_final": float(w[-1]), "w_min_seen": float(w.min()), "w_max_seen": float(w.max()),
                        "train_cpu_s": total, "probes": probes, "probe_cpu_s_each": float(np.median(probe_cpu))})
        print(pd.DataFrame(summary).to_string(), flush=True)
    pd.DataFrame(summary).to_csv(out / "summary.tsv", sep="\t", index=False)


if __name__ == "__main__":
    main()
