"""Train one grid point with sentence-transformers' trainer: fixed steps, seeded, resumable.

The strategy (:mod:`drscale.strategies`) supplies the dataset and the loss; this module only runs
them. A resumed run also restores the strategy's state (its per-step log and, for Pareto training,
the weight controller) from the checkpoint it resumes from.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from datasets import Dataset
from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from sentence_transformers.sentence_transformer.data_collator import SentenceTransformerDataCollator
from transformers import TrainerCallback
from transformers.trainer_utils import get_last_checkpoint

from drscale.losses import QUERY_COLUMN, ROW_COLUMN, NonFiniteLossError

__all__ = ["NonFiniteLossError", "StopOnNonFiniteLoss", "StrategyState", "TokenizedOnce", "TrainConfig", "train"]

logger = logging.getLogger(__name__)
STRATEGY_STATE = "strategy_state.json"


@dataclass(frozen=True)
class TrainConfig:
    steps: int
    batch_size: int
    learning_rate: float
    warmup_ratio: float
    weight_decay: float
    seed: int
    checkpoint_every: int
    logging_steps: int = 10


class StopOnNonFiniteLoss(TrainerCallback):
    """Fail the run as soon as a logged loss is NaN or infinite, instead of saving a broken model."""

    def __init__(self, learning_rate: float):
        self.learning_rate = learning_rate

    def on_log(self, args, state, control, logs=None, **kwargs):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            raise NonFiniteLossError(
                f"training loss became {loss} at step {state.global_step} with learning_rate "
                f"{self.learning_rate}; lower the model's 'learning_rate' in the config (random-init "
                "encoders need a rate that falls with width)"
            )


def training_arguments(
    config: TrainConfig, checkpoint_dir: Path, columns: list[str]
) -> SentenceTransformerTrainingArguments:
    on_gpu = torch.cuda.is_available()
    return SentenceTransformerTrainingArguments(
        output_dir=str(checkpoint_dir),
        max_steps=config.steps,
        per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        warmup_steps=config.warmup_ratio,  # a float below 1 is a ratio in transformers 5
        weight_decay=config.weight_decay,
        seed=config.seed,
        data_seed=config.seed,
        logging_steps=config.logging_steps,
        save_steps=config.checkpoint_every,
        save_total_limit=1,
        # No duplicate texts in a batch: a duplicate would be a false in-batch negative.
        batch_sampler="no_duplicates",
        dataloader_drop_last=True,
        # Columns of every strategy's dataset: the first is encoded as a query, the others as
        # documents; the row-index column is a label, never encoded.
        router_mapping={column: "query" if column == QUERY_COLUMN else "document"
                        for column in columns if column != ROW_COLUMN},
        bf16=on_gpu and torch.cuda.is_bf16_supported(),
        use_cpu=not on_gpu,
        report_to="none",
        disable_tqdm=True,
    )


class StrategyState(TrainerCallback):
    """Tell the loss which step it is in, and save the strategy's state with every checkpoint."""

    def __init__(self, strategy, loss):
        self.strategy, self.loss = strategy, loss

    def on_step_begin(self, args, state, control, **kwargs):
        self.loss.step = state.global_step + 1  # 1-based, as the trainer's own log

    def on_save(self, args, state, control, **kwargs):
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        (folder / STRATEGY_STATE).write_text(json.dumps(self.strategy.state_dict()))


def _resume_point(checkpoint_dir: Path) -> str | None:
    """The last checkpoint with the strategy's state next to it (one saved by a run killed between
    the trainer's and the strategy's write lacks it: start over rather than resume half-restored)."""
    last = get_last_checkpoint(str(checkpoint_dir)) if checkpoint_dir.exists() else None
    if last is not None and not (Path(last) / STRATEGY_STATE).exists():
        logger.warning("checkpoint %s has no %s; training from the start", last, STRATEGY_STATE)
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
        return None
    return last


def cut_text_columns(dataset: Dataset, model: SentenceTransformer) -> Dataset:
    """Cut every text column to the words the model can read, keeping its token ids unchanged.

    Tokenizing a 200-word passage only to keep its first 64 tokens wastes most of the work, and the
    cut texts are what :class:`TokenizedOnce` tokenizes (once per run).
    """
    from drscale.tokens import cut_to_token_budget

    transformer = model[0]
    columns = {}
    for column in dataset.column_names:
        texts = dataset[column]
        limit = transformer.query_length if column == QUERY_COLUMN else transformer.document_length
        if limit is None or not texts or not isinstance(texts[0], str):
            columns[column] = texts
            continue
        distinct = sorted(set(texts))
        kept = dict(zip(distinct, cut_to_token_budget(model.tokenizer, distinct, limit)))
        columns[column] = [kept[text] for text in texts]
    return Dataset.from_dict(columns, features=dataset.features)


class TokenizedOnce:
    """The collator's ``preprocess_fn`` for a run whose texts are all known before it starts.

    sentence-transformers' collator tokenizes every batch from text, so a text seen in E epochs is
    tokenized E times. This tokenizes each distinct (text, task) once, in one batched call per
    task, and pads the cached ids per batch exactly as ``model.preprocess`` pads them, on the
    tokenizer's padding side (tested for right and left padding, the side decoder embedders such as
    Qwen3-Embedding ship with). Anything it has not seen (another text, a prompt) goes to
    ``model.preprocess`` unchanged.
    """

    def __init__(self, model: SentenceTransformer, texts_by_task: dict[str, list[str]]):
        self.preprocess = model.preprocess
        self.pad_id = model.tokenizer.pad_token_id or 0
        self.rows: dict[tuple[str, str], dict[str, torch.Tensor]] = {}
        self.extras: dict[str, dict] = {}  # non-tensor entries of a task's output, e.g. "modality"
        self.padding_side = model.tokenizer.padding_side
        for task, texts in texts_by_task.items():
            distinct = sorted({t for t in texts if isinstance(t, str)})
            if not distinct:
                continue
            encoded = model.preprocess(distinct, task=task)
            tensors = {k: v for k, v in encoded.items() if isinstance(v, torch.Tensor)}
            self.extras[task] = {k: v for k, v in encoded.items() if k not in tensors}
            width = encoded["attention_mask"].shape[1]
            for i, (text, n) in enumerate(zip(distinct, encoded["attention_mask"].sum(1).tolist())):
                kept = slice(None, n) if self.padding_side == "right" else slice(width - n, None)
                self.rows[(task, text)] = {k: v[i, kept] for k, v in tensors.items()}

    def __call__(self, inputs, prompt=None, task=None, **kwargs):
        rows = [self.rows.get((task, x)) if isinstance(x, str) else None for x in inputs]
        if prompt or kwargs or not rows or any(r is None for r in rows):
            return self.preprocess(inputs, prompt=prompt, task=task, **kwargs)
        batch = {key: torch.nn.utils.rnn.pad_sequence([r[key] for r in rows], batch_first=True,
                                                      padding_value=self.pad_id if key == "input_ids" else 0,
                                                      padding_side=self.padding_side)
                 for key in rows[0]}
        return {**batch, **self.extras[task]}


def _texts_by_task(dataset: Dataset) -> dict[str, list[str]]:
    texts: dict[str, list[str]] = {"query": [], "document": []}
    for column in dataset.column_names:
        if column != ROW_COLUMN:
            texts["query" if column == QUERY_COLUMN else "document"].extend(dataset[column])
    return texts


def train(model: SentenceTransformer, strategy, rows: list, config: TrainConfig,
          checkpoint_dir: Path, output: Path) -> pd.DataFrame:
    """Train ``model`` for exactly ``config.steps`` steps and save it to ``output``.

    ``rows`` are ``(query, positive)`` pairs or dicts with at least "query" and "positive" (plus
    "negatives" and scores for the mined-negative strategies). Checkpoints go to ``checkpoint_dir``
    every ``checkpoint_every`` steps; a rerun after a kill resumes from the last one. Returns the
    loss curve (step, loss, learning_rate, grad_norm); ``strategy.trajectory()`` then has the
    per-step log.
    """
    dataset = cut_text_columns(strategy.dataset(rows), model)
    loss = strategy.loss(model)
    args = training_arguments(config, checkpoint_dir, dataset.column_names)
    trainer = SentenceTransformerTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        loss=loss,
        data_collator=SentenceTransformerDataCollator(preprocess_fn=TokenizedOnce(model, _texts_by_task(dataset)),
                                                      router_mapping=args.router_mapping),
        callbacks=[StopOnNonFiniteLoss(config.learning_rate), StrategyState(strategy, loss)],
    )
    last = _resume_point(checkpoint_dir)
    if last is not None:
        strategy.load_state_dict(json.loads((Path(last) / STRATEGY_STATE).read_text()))
    trainer.train(resume_from_checkpoint=last)
    model.save(str(output), create_model_card=False)  # a model card costs ~0.1 s and says nothing new
    curve = pd.DataFrame([row for row in trainer.state.log_history if "loss" in row])
    curve = curve.reindex(columns=["step", "loss", "learning_rate", "grad_norm", "epoch"])
    shutil.rmtree(checkpoint_dir, ignore_errors=True)
    return curve
