"""The validation probe and the controller that steers on it: only validation data, the same
quantity for r* and for the controller, and the update rule computed by hand."""

import math
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from drscale.data import split_pairs, write_collection
from drscale.models import load_start_model
from drscale.pareto import ProbeController
from drscale.pareto_target import pareto_target
from drscale.probe import ProbeAttack, build_probe, measure_probe
from tests.conftest import make_pairs

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def collections(tmp_path_factory):
    """An in-domain and an OOD collection, each with a dev split."""
    root = tmp_path_factory.mktemp("probe")
    for name, seed in (("indomain", 0), ("ood", 1)):
        write_collection(root / name, split_pairs(make_pairs(120, seed), test_queries=30, dev_queries=20, seed=seed))
    return root


def parts(root):
    return [("indomain", "in_domain", root / "indomain", "dev"), ("ood", "ood", root / "ood", "dev")]


def test_the_probe_reads_validation_splits_only(collections, tmp_path):
    probe = build_probe(parts(collections), queries=8, negatives=30, seed=0)
    assert probe["splits"] == ["indomain:dev", "ood:dev"]
    # Rewrite every collection's test qrels: the probe (and so r*) is unchanged.
    changed = tmp_path / "changed"
    shutil.copytree(collections, changed)
    for name in ("indomain", "ood"):
        qrels = (changed / name / "qrels" / "test.tsv").read_text().splitlines()
        (changed / name / "qrels" / "test.tsv").write_text("\n".join(qrels[:1] + [q[::-1] for q in qrels[1:6]]) + "\n")
    assert build_probe(parts(changed), queries=8, negatives=30, seed=0) == probe
    # The probe's queries are dev queries, and no pool passage is judged for them.
    for part in probe["parts"]:
        assert len(part["queries"]) == 8 and len(part["pool"]) == 30
        assert not set(part["pool"]) & set(part["positives"])
    with pytest.raises(ValueError, match="in-domain"):
        build_probe(parts(collections)[1:], queries=8, negatives=30, seed=0)


def test_r_star_is_unchanged_by_test_qrels(collections, tmp_path, tiny_model_dir):
    """The whole r* chain (probe -> the baselines' measurements -> knee) with test qrels rewritten."""
    changed = tmp_path / "changed"
    shutil.copytree(collections, changed)
    (changed / "indomain" / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n")
    targets = []
    for root in (collections, changed):
        probe = build_probe(parts(root), queries=6, negatives=20, seed=0)
        rows = []
        for strategy, seed in (("standard", 0), ("adversarial", 1)):
            model = load_start_model(tiny_model_dir, seed, 16, 32, scratch=tmp_path / f"init{seed}")
            rows.append({"model": "m", "non_embedding_params": 1, "data_size": 1, "strategy": strategy, "seed": seed,
                         **measure_probe(model, probe, {}, ProbeAttack(attacked_queries=2, top_m=1), 20.0)})
        targets.append(pareto_target(pd.DataFrame(rows), ["standard", "adversarial"]))
    assert targets[0] == targets[1]


def test_measure_probe_is_the_contrastive_entropy_of_the_probe(collections, tiny_model_dir, tmp_path):
    probe = build_probe(parts(collections), queries=6, negatives=20, seed=0)
    model = load_start_model(tiny_model_dir, 0, 16, 32, scratch=tmp_path / "init")
    model.train()
    cache = {}
    measured = measure_probe(model, probe, {}, ProbeAttack(attacked_queries=2, top_m=1), 20.0, cache)
    assert model.training  # restored
    part = probe["parts"][0]
    q = model.encode_query(part["queries"], normalize_embeddings=True)
    d = model.encode_document(part["positives"] + part["pool"], normalize_embeddings=True)
    scores = 20.0 * q @ d.T  # column i < 6 is query i's positive
    ce = [np.log(np.exp(scores[i, [i, *range(6, 26)]]).sum()) - scores[i, i] for i in range(6)]
    assert measured["ce_eff"] == pytest.approx(np.mean(ce), rel=1e-4)
    # No synonyms: the attack changes nothing, so ce_adv equals ce_eff.
    assert measured["ce_adv"] == pytest.approx(measured["ce_eff"], rel=1e-6)
    assert measured["ce_rob"] == pytest.approx((measured["ce_ood_ood"] + measured["ce_adv"]) / 2)
    again = measure_probe(model, probe, {}, ProbeAttack(attacked_queries=2, top_m=1), 20.0, cache)
    assert again == pytest.approx(measured)  # from the cached token ids


def test_probe_controller_by_hand():
    controller = ProbeController(1.5, w0=0.4, eta=0.1, every=10, w_min=0.05, w_max=0.95)
    assert [controller.due(s) for s in (1, 2, 10, 11, 21)] == [True, False, False, True, True]
    # Step 1: ratio 6/5 = 1.2 < r* = 1.5, delta = log(1.2 / 1.5) = -0.22314: w = 0.4 - 0.022314.
    assert controller.update(1, {"ce_eff": 5.0, "ce_rob": 6.0}) == pytest.approx(0.377686, abs=1e-6)
    assert controller.update(2, None) == pytest.approx(0.377686, abs=1e-6)  # held between probes
    # Step 11: ratio 2 > r*, delta = log(2 / 1.5) = 0.287682: w = 0.377686 + 0.028768.
    assert controller.update(11, {"ce_eff": 2.0, "ce_rob": 4.0}) == pytest.approx(0.406454, abs=1e-6)
    rows = controller.history
    assert [r["step"] for r in rows] == [1, 2, 11] and math.isnan(rows[1]["delta"])
    assert rows[0]["delta"] == pytest.approx(math.log(1.2 / 1.5)) and rows[2]["probe_ratio"] == 2.0
    far = ProbeController(1.5, w0=0.1, eta=0.1, every=1)
    assert far.update(1, {"ce_eff": 1.0, "ce_rob": 0.01}) == 0.05  # clipped to w_min
    with pytest.raises(ValueError):
        far.update(2, {"ce_eff": float("nan"), "ce_rob": 1.0})


def test_no_evaluation_job_feeds_a_pareto_run(tmp_path):
    """Dry run of a Pareto run: its ancestors train, prepare and probe, but evaluate, encode or
    attack nothing, so no test metric (nor any metric) can reach r* or the controller."""
    from tests.test_workflow import TEST_CONFIG, job_counts, snakemake

    config = yaml.safe_load(TEST_CONFIG.read_text())
    model, data = config["strategy_points"]["models"][0], config["strategy_points"]["data_sizes"][0]
    seed = (config["strategy_points"].get("seeds") or config["seeds"])[0]
    run = f"results/runs/model~{model}/data~{data}/strategy~pareto/seed~{seed}/model"
    result = snakemake(tmp_path, "--dry-run", run)
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = job_counts(result.stdout)
    assert {"validation_probe", "pareto_target", "train"} <= set(jobs)
    assert not {"encode", "evaluate", "attack", "evaluate_attack", "aggregate"} & set(jobs)
    target_job = result.stdout.split("rule pareto_target:")[1].split("\n\n")[0]
    inputs = target_job.split("input:")[1].splitlines()[0]
    assert "probe.json" in inputs and "metrics" not in inputs and "/test" not in inputs
