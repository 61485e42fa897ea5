"""Benchmark: training throughput of the train rule's code path vs a plain PyTorch loop.

Project path: ``drscale.train.train`` with ``make_strategy("standard")`` and a model from
``drscale.models.load_start_model`` (SentenceTransformerTrainer, MultipleNegativesRankingLoss,
no-duplicates batch sampler, router mapping for per-task query/passage lengths, texts cut to the
words the model reads and tokenized once per run (``TokenizedOnce``), checkpoints every
``--checkpoint-every`` steps, the final ``model.save``).

Baseline: a plain loop over the same transformers encoder (same architecture, same initial
weights, same attention implementation), mean pooling, in-batch softmax cross-entropy with scale 20
on cosine, the same optimizer as the trainer (AdamW, fused, decay on all but biases/LayerNorm),
linear warmup/decay schedule, gradient clipping at 1.0 (the trainer's default ``max_grad_norm``), the
same batch size and query/passage token limits; it tokenizes each batch as it goes, saves a
checkpoint (model + optimizer + scheduler state) at the same steps and the final weights.

Both run the same number of steps on the same pairs, alternating (A B A B ...), and the script
prints pairs/s for each (end to end, and steady state: the median step time after the first few
steps) and the ratio project / baseline (>= 1.0x means the project is at least as fast).

    python benchmarks/train_throughput.py                       # L2-H128, batch 32, 32/64 tokens
    python benchmarks/train_throughput.py --model L1-H32 --steps 100 --lr 1e-2
    python benchmarks/train_throughput.py --model hf:/path/to/bert --device cuda --steps 200

``--model`` is an ``init:`` size (``L1-H16`` ... ``L12-H768``, see ``_common.MODEL_SIZES``: random init with a WordPiece
tokenizer trained on the pairs, as the ``prepare_model`` rule makes it) or ``hf:<folder>`` /
``local:<folder>``: a saved transformers model (loaded by ``load_start_model`` with its weights).
Texts are real: the docstrings of ``--packages`` (default numpy), harvested in this process.
"""

from __future__ import annotations

import argparse
import math
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import MODEL_SIZES, docstring_pairs, environment, interleaved, median, prepare_init_model  # noqa: E402

WARM_STEPS = 3  # steps left out of the steady-state median (allocations, lazy imports)


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mask = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def decay_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """transformers' rule: no weight decay on biases and LayerNorm parameters."""
    no_decay = re.compile(r"bias|layernorm|LayerNorm|(?:^|\.)norm(?:$|\.)|_norm(?:$|\.)")
    decay, rest = [], []
    for name, p in model.named_parameters():
        (rest if no_decay.search(name) else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]


def baseline_train(init_dir: Path, rows: list[tuple[str, str]], args, out: Path) -> dict:
    """A plain loop: tokenize the batch, encode, in-batch cross-entropy, AdamW, linear schedule."""
    from transformers import AutoModel, AutoTokenizer, get_linear_schedule_with_warmup

    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(init_dir)
    model = AutoModel.from_pretrained(init_dir).to(device)
    model.train()
    optimizer = torch.optim.AdamW(decay_groups(model, args.weight_decay), lr=args.lr, betas=(0.9, 0.999),
                                  eps=1e-8, fused=True)
    scheduler = get_linear_schedule_with_warmup(optimizer, math.ceil(args.warmup_ratio * args.steps), args.steps)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16,
                              enabled=device.type == "cuda" and torch.cuda.is_bf16_supported())
    generator = torch.Generator().manual_seed(args.seed)
    batches_per_epoch = len(rows) // args.batch_size
    order, losses, stamps = [], [], []

    def encode(texts: list[str], length: int) -> torch.Tensor:
        features = tokenizer(texts, padding=True, truncation=True, max_length=length, return_tensors="pt")
        features = {k: v.to(device, non_blocking=True) for k, v in features.items()}
        with autocast:
            hidden = model(**features).last_hidden_state
        return mean_pool(hidden, features["attention_mask"])

    for step in range(args.steps):
        if step % batches_per_epoch == 0:
            order = torch.randperm(len(rows), generator=generator).tolist()
        batch = [rows[i] for i in order[(step % batches_per_epoch) * args.batch_size:][: args.batch_size]]
        q = encode([r[0] for r in batch], args.query_length)
        d = encode([r[1] for r in batch], args.passage_length)
        logits = args.scale * torch.nn.functional.normalize(q.float(), dim=-1) @ \
            torch.nn.functional.normalize(d.float(), dim=-1).T
        loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(batch), device=device))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.detach())
        if device.type == "cuda":
            torch.cuda.synchronize()
        stamps.append((time.perf_counter(), time.process_time()))
        if (step + 1) % args.checkpoint_every == 0:
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict()}, out / f"checkpoint-{step + 1}.pt")
    model.save_pretrained(out / "final")
    tokenizer.save_pretrained(out / "final")
    return {"losses": [float(x) for x in losses], "stamps": stamps}


class StepClock:
    """A TrainerCallback (built lazily) that stamps (wall, CPU) at the end of every optimizer step."""

    def __new__(cls, stamps: list[float], device: str):
        from transformers import TrainerCallback

        class _Clock(TrainerCallback):
            def on_step_end(self, *a, **k):
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                stamps.append((time.perf_counter(), time.process_time()))

        return _Clock()


def project_train(prepared: Path, rows: list[tuple[str, str]], args, out: Path) -> dict:
    """The train rule's code path (workflow/scripts/train.py), timed from model load to saved model."""
    import drscale.train as dtrain
    from drscale.models import load_start_model
    from drscale.strategies import make_strategy
    from drscale.train import TrainConfig

    stamps: list[float] = []
    base = dtrain.SentenceTransformerTrainer

    class ClockedTrainer(base):  # only adds a timing callback; everything else is the project's
        def __init__(self, *a, callbacks=None, **k):
            super().__init__(*a, callbacks=[*(callbacks or []), StepClock(stamps, args.device)], **k)

    dtrain.SentenceTransformerTrainer = ClockedTrainer
    try:
        model = load_start_model(prepared, args.seed, args.query_length, args.passage_length, "mean",
                                 scratch=out / "checkpoints" / "init", device=args.device)
        config = TrainConfig(steps=args.steps, batch_size=args.batch_size, learning_rate=args.lr,
                             warmup_ratio=args.warmup_ratio, weight_decay=args.weight_decay, seed=args.seed,
                             checkpoint_every=args.checkpoint_every)
        strategy = make_strategy("standard", scale=args.scale)
        curve = dtrain.train(model, strategy, rows, config, out / "checkpoints", out / "model")
    finally:
        dtrain.SentenceTransformerTrainer = base
    losses = strategy.trajectory()["loss"].tolist()
    return {"losses": losses, "stamps": stamps, "curve": curve, "model": model}


def step_times(stamps: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """(wall, CPU) durations of the steps after the first WARM_STEPS of a run."""
    return [(b[0] - a[0], b[1] - a[1]) for a, b in zip(stamps[WARM_STEPS:], stamps[WARM_STEPS + 1:])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="L2-H128",
                        help=f"one of {sorted(MODEL_SIZES)} (random init), or hf:<folder> / local:<folder>")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--steps", type=int, default=40, help="optimizer steps per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each side (alternating)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--query-length", type=int, default=32)
    parser.add_argument("--passage-length", type=int, default=64)
    parser.add_argument("--checkpoint-every", type=int, default=None,
                        help="steps between checkpoints (default: steps/3, the default config's 100 of 300)")
    parser.add_argument("--lr", type=float, default=3e-3, help="the default config's L2-H128 rate")
    parser.add_argument("--warmup-ratio", type=float, default=0.1)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--scale", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--packages", default="numpy", help="comma-separated packages whose docstrings are the pairs")
    parser.add_argument("--vocab-size", type=int, default=8192)
    parser.add_argument("--project-steps", type=int, default=300,
                        help="steps of the projection (default config: 300 steps, checkpoints every 100)")
    args = parser.parse_args()
    args.checkpoint_every = args.checkpoint_every or max(1, args.steps // 3)
    torch.set_num_threads(args.threads)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda but torch sees no GPU")
    if not args.device.startswith("cuda") and torch.cuda.is_available():
        print("warning: a GPU is visible; the trainer (drscale.train) uses it whatever --device says",
              file=sys.stderr)

    pairs = docstring_pairs(args.packages.split(","))
    rows = [(p["query"], p["passage"]) for p in pairs]
    print(environment(args.device, args.threads))
    with tempfile.TemporaryDirectory(prefix="drscale-bench-train-") as tmp:
        tmp = Path(tmp)
        if args.model in MODEL_SIZES:
            prepared = prepare_init_model(tmp, [t for r in rows for t in r], args.model, args.vocab_size,
                                          max(args.query_length, args.passage_length))
            # The baseline starts from the weights load_start_model draws with the same seed.
            from transformers import AutoConfig, AutoTokenizer, BertModel, set_seed

            set_seed(args.seed)
            init_dir = tmp / "baseline-init"
            BertModel(AutoConfig.from_pretrained(prepared)).save_pretrained(init_dir)
            AutoTokenizer.from_pretrained(prepared).save_pretrained(init_dir)
        else:
            kind, _, folder = args.model.partition(":")
            if kind not in ("hf", "local") or not folder:
                raise SystemExit(f"--model {args.model!r}: give a size {sorted(MODEL_SIZES)} or hf:/local:<folder>")
            prepared = init_dir = Path(folder).expanduser()

        sides = ["project", "baseline"]
        runs_done = {name: 0 for name in sides}
        steps_of = {name: [] for name in sides}  # step durations of every timed run

        def run(name):
            def go():
                runs_done[name] += 1
                out = tmp / f"{name}-{runs_done[name]}"
                out.mkdir()
                try:
                    if name == "baseline":
                        result = baseline_train(init_dir, rows, args, out)
                    else:
                        result = project_train(prepared, rows, args, out)
                    steps_of[name].extend(step_times(result["stamps"]))
                    return result
                finally:
                    shutil.rmtree(out, ignore_errors=True)
            return go

        # Untimed warm-up of both sides (lazy imports, allocator), a few steps each.
        warm = argparse.Namespace(**{**vars(args), "steps": WARM_STEPS + 1, "checkpoint_every": WARM_STEPS + 1})
        for name, fn in (("project", project_train), ("baseline", baseline_train)):
            out = tmp / f"warm-{name}"
            out.mkdir()
            fn(prepared if name == "project" else init_dir, rows, warm, out)
            shutil.rmtree(out, ignore_errors=True)

        print(f"# {len(rows)} pairs ({args.packages} docstrings), model {args.model}, batch {args.batch_size}, "
              f"query/passage tokens {args.query_length}/{args.passage_length}, {args.steps} steps, "
              f"checkpoint every {args.checkpoint_every}, {args.repeats} runs each, alternating")
        cpu_times: dict[str, list[float]] = {}
        times, results = interleaved({name: run(name) for name in sides}, args.repeats, args.device,
                                     cpu_times=cpu_times)
    st = results["project"]["model"]
    print(f"# encoder: {type(st[0].auto_model).__name__}, attention "
          f"{getattr(st[0].auto_model.config, '_attn_implementation', '?')}, "
          f"{sum(p.numel() for p in st.parameters()):,} parameters, on {st.device}")

    pairs_run = args.steps * args.batch_size
    tail = max(1, args.steps // 4)
    n, per_ckpt = args.project_steps, args.steps // args.checkpoint_every
    # Wall time, and this process's CPU time (all threads; on a shared CPU machine it moves much less
    # with other jobs' load than wall time does; on a GPU it is not the measure to read).
    ratios = {}
    for clock, index, runs in (("wall", 0, times), ("cpu", 1, cpu_times)):
        e2e = {name: pairs_run / median(runs[name]) for name in sides}
        # Steady state: the median step over every timed run of a side (first WARM_STEPS of each left out).
        steady = {name: args.batch_size / median([t[index] for t in steps_of[name]]) for name in sides}
        # Fixed cost of a run = its time minus steps x the steady step time (trainer setup, checkpoints,
        # final save, teardown); the projection to the default config's run length uses both.
        fixed = {name: median(runs[name]) - pairs_run / steady[name] for name in sides}
        projected = {name: n * args.batch_size / (n * args.batch_size / steady[name] + fixed[name]) for name in sides}
        print(f"--- {clock} time")
        for name in sides:
            losses = results[name]["losses"]
            print(f"{name:<9} end-to-end {e2e[name]:8.1f} pairs/s (median {median(runs[name]):.2f} s of "
                  f"{', '.join(f'{t:.2f}' for t in runs[name])}) | steady state {steady[name]:8.1f} pairs/s"
                  + (f" | loss first {losses[0]:.3f}, mean of last {tail} {statistics.fmean(losses[-tail:]):.3f}"
                     if clock == "wall" else ""))
        print(f"fixed cost per run ({clock} - steps x steady step, incl. {per_ckpt} checkpoints and the final save): "
              + ", ".join(f"{name} {fixed[name]:.2f} s" for name in sides))
        ratios[clock] = (steady["project"] / steady["baseline"], e2e["project"] / e2e["baseline"],
                         projected["project"] / projected["baseline"])
    print("--- ratios project / baseline (pairs/s; >= 1.0x: the project is at least as fast)")
    for clock, (steady_ratio, e2e_ratio, projected_ratio) in ratios.items():
        print(f"ratio {clock}: steady state {steady_ratio:.2f}x | end-to-end at {args.steps} steps {e2e_ratio:.2f}x "
              f"(target >= 1.0x) | projected to {n} steps {projected_ratio:.2f}x")

if __name__ == "__main__":
    main()
