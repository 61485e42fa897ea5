"""Train one grid point with sentence-transformers' trainer: fixed steps, seeded, resumable."""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from transformers import TrainerCallback
from transformers.trainer_utils import get_last_checkpoint

# Columns of every strategy's dataset: the first is encoded as a query, the others as documents.
QUERY_COLUMN = "query"


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


class NonFiniteLossError(RuntimeError):
    pass


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
        router_mapping={column: "query" if column == QUERY_COLUMN else "document" for column in columns},
        bf16=on_gpu and torch.cuda.is_bf16_supported(),
        use_cpu=not on_gpu,
        report_to="none",
        disable_tqdm=True,
    )


def train(model: SentenceTransformer, strategy, pairs: list[tuple[str, str]], config: TrainConfig,
          checkpoint_dir: Path, output: Path) -> pd.DataFrame:
    """Train ``model`` for exactly ``config.steps`` steps and save it to ``output``.

    Checkpoints go to ``checkpoint_dir`` every ``checkpoint_every`` steps; a rerun after a kill
    resumes from the last one. Returns the loss curve (step, loss, learning_rate, grad_norm).
    """
    dataset = strategy.dataset(pairs)
    trainer = SentenceTransformerTrainer(
        model=model,
        args=training_arguments(config, checkpoint_dir, dataset.column_names),
        train_dataset=dataset,
        loss=strategy.loss(model),
        callbacks=[StopOnNonFiniteLoss(config.learning_rate)],
    )
    last = get_last_checkpoint(str(checkpoint_dir)) if checkpoint_dir.exists() else None
    trainer.train(resume_from_checkpoint=last)
    model.save(str(output))
    curve = pd.DataFrame([row for row in trainer.state.log_history if "loss" in row])
    curve = curve.reindex(columns=["step", "loss", "learning_rate", "grad_norm", "epoch"])
    shutil.rmtree(checkpoint_dir, ignore_errors=True)
    return curve
