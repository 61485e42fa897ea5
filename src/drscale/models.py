"""Encoders of the N axis: model specs, preparation (init / hub / local) and parameter counts."""

from __future__ import annotations

import json
import os
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from drscale.architectures import ARCHITECTURES, DEFAULT_ARCHITECTURE

if TYPE_CHECKING:  # torch and sentence-transformers cost seconds to import: the Snakefile and
    # prepare_model import this module, so they are imported where a model is actually used
    import torch
    from sentence_transformers import SentenceTransformer

HF_HOST = "huggingface.co"


@dataclass(frozen=True)
class ModelSpec:
    """One entry of the config's ``models`` table.

    Exactly one of ``init`` (a random model of the ``architecture`` family: layers, hidden, heads,
    intermediate), ``hf`` (a hub name) or ``local`` (a folder with a transformers or
    sentence-transformers model). ``architecture`` (:mod:`drscale.architectures`) labels the model
    on the grid and sets the default ``pooling`` and, for ``init``, the tokenizer. ``tokenizer``
    names the token-id cache the model reads: models that declare the same name must share a
    vocabulary (the BERT miniatures all use bert-base-uncased's).
    """

    name: str
    learning_rate: float
    init: dict | None = None
    hf: str | None = None
    local: str | None = None
    pooling: str = "mean"
    tokenizer: str = "wordpiece"
    architecture: str = DEFAULT_ARCHITECTURE

    @classmethod
    def from_config(cls, name: str, entry: dict) -> ModelSpec:
        sources = [key for key in ("init", "hf", "local") if key in entry]
        if len(sources) != 1:
            raise ValueError(f"models.{name}: give exactly one of 'init', 'hf' or 'local' (got {sources or 'none'})")
        architecture = entry.get("architecture", DEFAULT_ARCHITECTURE)
        if architecture not in ARCHITECTURES:
            raise ValueError(f"models.{name}: unknown architecture {architecture!r}; "
                             f"use one of {sorted(ARCHITECTURES)}")
        family = ARCHITECTURES[architecture]
        if "init" in entry and entry.get("tokenizer", family.tokenizer) != family.tokenizer:
            raise ValueError(f"models.{name}: an 'init' {architecture} model uses the '{family.tokenizer}' tokenizer "
                             "derived from the trained WordPiece; remove its 'tokenizer' key")
        return cls(name=name, learning_rate=float(entry["learning_rate"]), init=entry.get("init"),
                   hf=entry.get("hf"), local=entry.get("local"), pooling=entry.get("pooling", family.pooling),
                   tokenizer=entry.get("tokenizer", family.tokenizer if "init" in entry else name),
                   architecture=architecture)

    @property
    def source(self) -> str:
        return "init" if self.init else "hf" if self.hf else "local"


def has_weights(folder: Path) -> bool:
    """Whether a saved model folder holds weights (a folder without them trains from random ones):
    at its top or, as older sentence-transformers save them, one module folder down."""
    return any(any(folder.glob(pattern)) for pattern in ("*.safetensors", "*.bin", "*/*.safetensors", "*/*.bin"))


def check_positions(name: str, folder: Path, max_positions: int) -> None:
    """A saved model reads at most ``max_position_embeddings`` tokens; longer training inputs would
    fail deep inside the first job that encodes them."""
    limit = json.loads((folder / "config.json").read_text()).get("max_position_embeddings")
    if limit is not None and limit < max_positions:
        raise ValueError(f"models.{name}: {folder} reads at most {limit} tokens (max_position_embeddings), fewer than "
                         f"the {max_positions} of training.max_query_length / max_passage_length; lower those")


def prepare_model(spec: ModelSpec, output: Path, tokenizer_dir: Path | None = None, max_positions: int = 512,
                  random_init: bool = False) -> None:
    """Materialise a model spec as a folder that :func:`load_start_model` reads.

    ``init`` writes the architecture's config and its tokenizer (the trained WordPiece, framed as
    the family frames text) but no weights: weights are drawn at training time from the run's
    seed, so the seed axis also varies the initialisation.
    ``hf`` downloads (the only place the hub is contacted); ``local`` copies. An ``hf`` or
    ``local`` model without weights fails unless ``random_init`` (the config's ``random_init``) asks
    for a random start on purpose.
    """
    output.mkdir(parents=True, exist_ok=True)
    if spec.init:
        from transformers import AutoTokenizer

        if tokenizer_dir is None:
            raise ValueError(f"models.{spec.name}: an 'init' model needs the trained tokenizer")
        family = ARCHITECTURES[spec.architecture]
        tokenizer = family.derive_tokenizer(AutoTokenizer.from_pretrained(tokenizer_dir))
        tokenizer.save_pretrained(output)
        family.config(spec.init, len(tokenizer), max_positions, tokenizer).save_pretrained(output)
    elif spec.hf:
        _download_from_hub(spec, output)
    else:
        source = Path(spec.local).expanduser()
        if not (source / "config.json").exists():
            raise FileNotFoundError(f"models.{spec.name}: local path {source} has no config.json; "
                                    "point 'local' at a saved transformers or sentence-transformers model")
        shutil.copytree(source, output, dirs_exist_ok=True)
    if not spec.init:
        check_positions(spec.name, output, max_positions)
    if not spec.init and not random_init and not has_weights(output):
        raise FileNotFoundError(f"models.{spec.name}: {spec.hf or spec.local} has no weights (*.safetensors or *.bin), "
                                f"so it would train from random weights; give a model with weights, or set "
                                f"models.{spec.name}.random_init: true to start from random weights on purpose")
    check_end_token(spec, output)
    (output / "drscale_spec.json").write_text(json.dumps({"name": spec.name, "source": spec.source}) + "\n")


def check_end_token(spec: ModelSpec, prepared: Path) -> None:
    """Last-token pooling reads the end token: fail before training when the prepared tokenizer of
    a model pooled that way does not append one (a plain decoder checkpoint's tokenizer often
    does not; Qwen3-Embedding's does). A sentence-transformers folder brings its own pooling."""
    if spec.pooling != "lasttoken" or (prepared / "modules.json").exists():
        return
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(prepared)
    ids = tokenizer("a")["input_ids"]
    if tokenizer.eos_token_id is None or ids[-1] != tokenizer.eos_token_id:
        raise ValueError(
            f"models.{spec.name}: last-token pooling needs a tokenizer that appends its end token, but "
            f"{tokenizer.__class__.__name__} gives 'a' -> {ids} (eos_token {tokenizer.eos_token!r}); add a "
            "post-processor that appends it (tokenizers.processors.TemplateProcessing, single='$A <eos>') "
            "to the model's tokenizer.json, or set 'pooling' to mean"
        )


def _download_from_hub(spec: ModelSpec, output: Path) -> None:
    from huggingface_hub import snapshot_download

    offline = os.environ.get("HF_HUB_OFFLINE") == "1"
    try:
        if not offline:
            socket.create_connection((HF_HOST, 443), timeout=10).close()
    except OSError:
        offline = True
    if offline:
        raise ConnectionError(
            f"models.{spec.name}: 'hf: {spec.hf}' needs a download from {HF_HOST}, which cannot be reached "
            "from here. Download it where the network is available and use 'local: <folder>' instead"
        )
    snapshot_download(spec.hf, local_dir=output, allow_patterns=["*.json", "*.txt", "*.safetensors", "*.model"])


def load_start_model(prepared: Path, seed: int, query_length: int, document_length: int,
                     pooling: str = "mean", scratch: Path | None = None, device: str | None = None
                     ) -> SentenceTransformer:
    """The model a run starts from: random weights drawn with ``seed`` for ``init`` specs.

    Always the bare ``AutoModel`` (for a decoder: no language-model head, which an embedder does
    not use), under sentence-transformers' ``pooling`` (``lasttoken`` finds each text's last
    attended position, so it reads the end token under left or right padding alike).
    """
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from transformers import AutoConfig, AutoModel, AutoTokenizer, set_seed

    if (prepared / "modules.json").exists():  # already a sentence-transformers model
        model = SentenceTransformer(str(prepared), device=device)
        model[0].query_length, model[0].document_length = query_length, document_length
        return model
    path = prepared
    if not any(prepared.glob("*.safetensors")) and not any(prepared.glob("*.bin")):
        if scratch is None:
            raise ValueError("a randomly initialised model needs a scratch folder for its initial weights")
        set_seed(seed)
        AutoModel.from_config(AutoConfig.from_pretrained(prepared)).save_pretrained(scratch)
        AutoTokenizer.from_pretrained(prepared).save_pretrained(scratch)
        path = scratch
    transformer = Transformer(str(path), query_length=query_length, document_length=document_length)
    return SentenceTransformer(
        modules=[transformer, Pooling(transformer.get_embedding_dimension(), pooling)], device=device
    )


def text_length(model: SentenceTransformer, task: str) -> int:
    """The tokens ``model`` reads of a ``task`` ("query" or "document") text: the transformer's
    per-task length where set (``load_start_model`` sets both), else its ``max_seq_length``."""
    return getattr(model[0], f"{task}_length", None) or model.max_seq_length


def parameter_counts(model: torch.nn.Module) -> dict[str, int]:
    """Total and non-embedding parameters (Kaplan et al.'s N).

    Non-embedding excludes every ``nn.Embedding`` (BERT's word, position and token-type tables; a
    decoder's token table, its only one with rotary positions) and keeps the rest, pooler,
    projections and norms included. Counted on the loaded ``AutoModel``: a decoder checkpoint's
    language-model head is not loaded, so whether it was tied to the input embedding changes
    nothing.
    """
    import torch

    total = sum(p.numel() for p in model.parameters())
    embedding = sum(p.numel() for m in model.modules() if isinstance(m, torch.nn.Embedding) for p in m.parameters())
    return {"total_params": total, "non_embedding_params": total - embedding}


def training_memory_bytes(model: torch.nn.Module, batch_size: int, query_length: int, passage_length: int,
                          texts_per_pair: int = 2) -> int:
    """The resource model's estimate of one training step (:func:`drscale.resources.training_memory_bytes`)
    for a loaded model; 16 bytes per parameter when it is not a BERT-style transformer."""
    from drscale.resources import Shape
    from drscale.resources import training_memory_bytes as estimate

    config = getattr(getattr(model[0], "auto_model", None), "config", None)
    params = sum(p.numel() for p in model.parameters())
    if config is None:
        return 16 * params
    shape = Shape(config.num_hidden_layers, config.hidden_size, config.num_attention_heads, config.intermediate_size)
    return estimate(shape, batch_size, query_length, passage_length, texts_per_pair, params=params)


def check_fits_in_memory(model: torch.nn.Module, name: str, batch_size: int, query_length: int,
                         passage_length: int, available_bytes: int | None = None) -> int:
    """Fail before training when a grid point cannot fit: name the model, the estimate and the fix."""
    import torch

    needed = training_memory_bytes(model, batch_size, query_length, passage_length)
    if available_bytes is None:
        if torch.cuda.is_available():
            available_bytes = torch.cuda.mem_get_info()[0]
        else:
            import psutil

            available_bytes = psutil.virtual_memory().available
    if needed > available_bytes:
        raise MemoryError(
            f"models.{name}: one training step needs about {needed / 2**30:.1f} GiB but {available_bytes / 2**30:.1f} "
            f"GiB is available; lower training.batch_size or training.max_passage_length, or run this grid point "
            "on a larger machine (profiles/slurm sets mem_mb per rule)"
        )
    return needed
